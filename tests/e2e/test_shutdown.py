"""SIGTERM on a real `troupe serve` with streams in progress: runs past the grace period end
with an error chunk and ``[DONE]`` (never a silent close), a background run is left for the
next process, and no lease stays behind (the conversation answers after a restart).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Upstream, stop
from tests.e2e.runs_support import FrameReader, Serve, paced_upstream

pytestmark = pytest.mark.e2e


@pytest.fixture
def paced() -> Iterator[Upstream]:
    upstream, proc = paced_upstream(0.05)
    yield upstream
    stop(proc)


def ask(conversation: str, **extra: object) -> dict[str, object]:
    return {
        "model": "writer",
        "messages": [{"role": "user", "content": "Tell me a long story. " * 20}],
        "stream": True,
        "metadata": {"conversation_id": conversation},
        **extra,
    }


def test_sigterm_mid_stream_ends_every_stream_and_leaves_no_lease(
    tmp_path: Path, paced: Upstream
) -> None:
    # Both answers stop after a few words and never finish: longer than any grace period.
    paced.script({"hang_after": 3}, {"hang_after": 3})
    serve = Serve(tmp_path, paced, server="shutdown_grace_seconds: 1")
    with (
        serve.stream("POST", "/chat/completions", json=ask("plain")) as plain,
        serve.stream("POST", "/chat/completions", json=ask("kept", background=True)) as kept,
    ):
        readers = [FrameReader(plain), FrameReader(kept)]
        for reader in readers:  # both runs are answering
            reader.read(until=lambda frames: len(frames) >= 3)
        serve.proc.send_signal(signal.SIGTERM)
        ends = [reader.read() for reader in readers]
    for frames in ends:
        assert frames[-1].data == "[DONE]"
        errors = [json.loads(f.data)["error"] for f in frames[:-1] if '"error":' in f.data]
        assert [error["type"] for error in errors] == ["server_error"], frames[-3:]
    assert "shut down" in json.dumps(ends[0][-3:])
    _, stderr = serve.proc.communicate(timeout=60)
    # Uvicorn ends by the signal it caught, once shut down (as a supervisor expects).
    assert serve.proc.returncode in (0, -signal.SIGTERM), stderr
    assert b"Traceback" not in stderr

    # The next process: both conversations are free (no lease left behind); the plain run
    # ended failed with its completed turns, the background one is taken over.
    restarted = Serve(tmp_path, paced)
    try:
        answer = restarted.http("POST", "/chat/completions", json={**ask("plain"), "stream": False})
        assert answer.status_code == 200, answer.text
        runs = restarted.http("GET", "/conversations/plain/runs").json()["data"]
        assert [run["status"] for run in runs] == ["completed", "failed"]
        deadline = time.monotonic() + 60
        while True:
            kept_runs = restarted.http("GET", "/conversations/kept/runs").json()["data"]
            if kept_runs and kept_runs[0]["status"] == "completed":
                break
            assert time.monotonic() < deadline, kept_runs
            time.sleep(0.2)
    finally:
        restarted.stop()
