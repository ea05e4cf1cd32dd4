"""Real `troupe serve` processes whose teams talk to a (paced) fake OpenAI upstream, for the
durable-run tests: raw SSE with its ids, disconnects, kill -9, replicas."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from tests.e2e.conftest import Upstream, free_port, start, stop
from tests.sse import Frame, sse_frames

CONFIG = """
models:
  fake: {{provider: openai, model: fake-model, base_url: "{base_url}", api_key: none, max_retries: 0}}
teams:
  writer:
    agents: [{{name: writer, model: fake}}]
  trio:
    description: Three agents in turn, each answering at the upstream's pace.
    agents:
      - {{name: first, model: fake, system_message: One.}}
      - {{name: second, model: fake, system_message: Two.}}
      - {{name: third, model: fake, system_message: Three.}}
    termination: {{max_messages: 4}}
server:
  lease_seconds: 3
{server}
"""

KEY = "sk-runs"
SERVE = [sys.executable, "-m", "troupe.cli", "serve"]


def paced_upstream(delay: float) -> tuple[Upstream, Any]:
    """A fake upstream of its own that sends each chunk ``delay`` seconds apart."""
    port = free_port()
    proc = start(
        [
            sys.executable,
            "-m",
            "tests.fakes.openai_upstream",
            "--port",
            str(port),
            "--delay",
            str(delay),
        ],
        f"http://127.0.0.1:{port}/v1/models",
    )
    return Upstream(port), proc


class Serve:
    """One `troupe serve` on its own port, with the fake upstream's teams."""

    def __init__(
        self,
        directory: Path,
        upstream: Upstream,
        *,
        server: str = "",
        keys: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.directory = directory
        config = directory / "teams.yaml"
        server = ("api_keys: [sk-runs, sk-other]\n" if keys else "") + server
        extra = "".join(f"  {line}\n" for line in server.splitlines() if line)
        config.write_text(CONFIG.format(base_url=upstream.base_url, server=extra))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith("TROUPE_")}
        self.proc = start(
            [*SERVE, "--config", str(config), "--port", str(self.port), "--log-level", "warning"],
            f"{self.url}/health",
            env={**base, "TROUPE_BLOCK_REMOTE_MODELS": "1", **(env or {})},
            cwd=directory,
            replace_env=True,
        )

    def http(self, method: str, path: str, *, key: str = KEY, **kwargs: Any) -> httpx2.Response:
        headers = {"authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        return httpx2.request(method, f"{self.url}/v1{path}", headers=headers, timeout=30, **kwargs)

    @contextmanager
    def stream(
        self, method: str, path: str, *, key: str = KEY, **kwargs: Any
    ) -> Iterator[httpx2.Response]:
        headers = {"authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        with httpx2.stream(
            method, f"{self.url}/v1{path}", headers=headers, timeout=60, **kwargs
        ) as response:
            yield response

    def run(self, run_id: str, *, key: str = KEY) -> dict[str, Any]:
        response = self.http("GET", f"/runs/{run_id}", key=key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_run(self, run_id: str, *, until: set[str], timeout: float = 30) -> dict[str, Any]:
        """Poll the run until its status is one of ``until``."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] in until:
                return run
            assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
            time.sleep(0.05)

    def replay(self, run_id: str, after: int = 0) -> tuple[int, list[Frame], bytes]:
        """The run's stream after ``after``: status, frames, raw bytes."""
        with self.stream(
            "GET", f"/runs/{run_id}/stream", headers={"last-event-id": str(after)}
        ) as r:
            raw = r.read()
            return r.status_code, sse_frames(raw.decode()), raw

    def stop(self) -> str:
        return stop(self.proc)

    def kill(self) -> None:
        """kill -9: no shutdown, no cleanup."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=15)


class FrameReader:
    """Reads SSE frames from a streaming response, in as many steps as a test likes."""

    def __init__(self, response: httpx2.Response) -> None:
        self._chunks = response.iter_bytes()
        self._raw = b""
        self.frames: list[Frame] = []

    def read(self, until: Any = None) -> list[Frame]:
        """Frames (all so far) once ``until(frames)`` holds, or at the end of the stream."""
        for piece in self._chunks:
            self._raw += piece
            complete = self._raw[: self._raw.rfind(b"\n\n") + 2] if b"\n\n" in self._raw else b""
            self.frames = sse_frames(complete.decode())
            if until is not None and until(self.frames):
                return self.frames
        self.frames = sse_frames(self._raw.decode())
        return self.frames

    @property
    def raw(self) -> bytes:
        return self._raw


def read_frames(response: httpx2.Response, until: Any = None) -> tuple[list[Frame], bytes]:
    """Read SSE frames from a streaming response until ``until(frames)`` says stop (or the end)."""
    reader = FrameReader(response)
    frames = reader.read(until)
    raw = reader.raw
    return frames, raw[: raw.rfind(b"\n\n") + 2] if until is not None else raw


def content_of(frames: list[Frame]) -> str:
    import json

    text = []
    for frame in frames:
        if frame.data == "[DONE]":
            continue
        chunk = json.loads(frame.data)
        for choice in chunk.get("choices", []):
            text.append(choice.get("delta", {}).get("content") or "")
    return "".join(text)
