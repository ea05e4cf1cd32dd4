"""Runs that outlive their connection, on real `troupe serve` processes and a paced upstream.

A client that leaves and comes back with ``Last-Event-ID``; a disconnect that
cancels; a cancel that closes the upstream request; ``kill -9`` in the middle
of a multi-turn background run, on SQLite and across two replicas on
PostgreSQL, with a run followed from the other replica.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Upstream, stop
from tests.e2e.runs_support import FrameReader, Serve, content_of, paced_upstream, read_frames
from tests.spec import validate
from tests.sse import Frame, assert_numbered, sse_frames
from tests.store.postgres import postgres_database

pytestmark = pytest.mark.e2e

WORDS = "Durable runs keep going while their clients come and go, and nothing is lost. " * 2


@pytest.fixture(scope="module")
def paced() -> Iterator[Upstream]:
    upstream, proc = paced_upstream(0.03)
    yield upstream
    stop(proc)


@pytest.fixture
def serve(tmp_path: Path, paced: Upstream) -> Iterator[Serve]:
    paced.reset()
    server = Serve(tmp_path, paced)
    yield server
    server.stop()


def body(team: str, text: str = WORDS, **extra: Any) -> dict[str, Any]:
    return {"model": team, "messages": [{"role": "user", "content": text}], **extra}


def events(frames: list[Frame]) -> list[dict[str, Any]]:
    """The ``delta.troupe`` events of chunk frames."""
    found = []
    for frame in frames:
        if frame.data != "[DONE]":
            for choice in json.loads(frame.data).get("choices", []):
                event = choice.get("delta", {}).get("troupe")
                if event:
                    found.append(event)
    return found


def test_a_background_run_goes_on_and_a_client_resumes_it(serve: Serve) -> None:
    with serve.stream(
        "POST", "/chat/completions", json=body("writer", stream=True, background=True)
    ) as r:
        assert r.status_code == 200
        run_id = r.headers["x-run-id"]
        before, raw_before = read_frames(r, until=lambda f: content_of(f).count(" ") >= 3)
    # The client is gone; the run is not.
    assert serve.run(run_id)["status"] == "in_progress"
    last = before[-1].id
    assert last is not None
    with serve.stream("GET", f"/runs/{run_id}/stream", headers={"last-event-id": str(last)}) as r:
        assert r.status_code == 200 and r.headers["x-run-id"] == run_id
        after, _ = read_frames(r)
    frames = before + after
    assert_numbered(frames)  # strictly increasing, none twice, no gap
    assert frames[-1].data == "[DONE]"
    assert content_of(frames).strip() == WORDS.strip()
    run = serve.wait_run(run_id, until={"completed"})
    assert run["object"] == "troupe.run" and run["team"] == "writer" and run["background"]
    assert run["last_event_id"] == frames[-2].id  # [DONE] is the trailer after the last event
    assert run["ended_at"] >= run["created_at"] and run["usage"]["total_tokens"] > 0
    # Replayed later from the start: the very same bytes, ids included.
    status, replayed, raw = serve.replay(run_id)
    assert status == 200 and replayed == frames
    assert raw.startswith(raw_before)
    # All of it seen: an EventSource reconnecting now gets 204 and stops.
    assert serve.replay(run_id, after=frames[-1].id or 0)[0] == 204
    # The stored completion, in OpenAI's shape.
    completion_id = "chatcmpl-" + run_id.removeprefix("run_")
    stored = serve.http("GET", f"/chat/completions/{completion_id}")
    assert stored.status_code == 200
    validate(stored.json(), "CreateChatCompletionResponse")
    assert stored.json()["choices"][0]["message"]["content"].strip() == WORDS.strip()
    assert serve.http("GET", "/chat/completions/chatcmpl-nope").status_code == 404
    # Another key sees neither the run nor its completion.
    assert serve.http("GET", f"/runs/{run_id}", key="sk-other").status_code == 404
    assert (
        serve.http("GET", f"/chat/completions/{completion_id}", key="sk-other").status_code == 404
    )
    listed = serve.http("GET", f"/conversations/{run['conversation_id']}/runs").json()
    assert [r["id"] for r in listed["data"]] == [run_id]


def test_without_background_a_disconnect_cancels_the_run(serve: Serve, paced: Upstream) -> None:
    with serve.stream("POST", "/chat/completions", json=body("writer", stream=True)) as r:
        run_id = r.headers["x-run-id"]
        read_frames(r, until=lambda f: content_of(f).count(" ") >= 2)
    run = serve.wait_run(run_id, until={"cancelled"}, timeout=5)
    assert run["ended_at"] is not None
    deadline = time.monotonic() + 5
    while paced.stats()["streams_cancelled"] < 1:  # the upstream saw its request closed
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.mark.parametrize("how", ["run", "conversation"])
def test_a_cancel_stops_the_run_mid_turn_and_closes_the_upstream_request(
    serve: Serve, paced: Upstream, how: str
) -> None:
    # A team with no ``external`` condition: a cancel stops it anyway, mid-turn.
    with serve.stream(
        "POST", "/chat/completions", json=body("writer", stream=True, background=True)
    ) as r:
        run_id, conversation = r.headers["x-run-id"], r.headers["x-conversation-id"]
        reader = FrameReader(r)
        frames = list(reader.read(until=lambda f: content_of(f).count(" ") >= 2))
        asked = time.monotonic()
        path = f"/runs/{run_id}/cancel" if how == "run" else f"/conversations/{conversation}/stop"
        answer = serve.http("POST", path)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "cancelled"
        rest = reader.read()[len(frames) :]  # the stream ends with run_end and [DONE]
    while paced.stats()["streams_cancelled"] < 1:
        assert time.monotonic() - asked < 1.0, "the upstream request was not closed in a second"
        time.sleep(0.01)
    ended = [e for e in events(frames + rest) if e["type"] == "run_end"]
    assert ended and ended[0]["stop_reason"] == "cancelled" and ended[0]["run_id"] == run_id
    assert (frames + rest)[-1].data == "[DONE]"
    assert serve.run(run_id)["status"] == "cancelled"
    assert serve.http("POST", f"/conversations/{conversation}/stop").status_code == 409


def _turns(serve: Serve, conversation: str) -> list[str]:
    transcript = serve.http("GET", f"/conversations/{conversation}").json()["transcript"]
    return [m["source"] for m in transcript]


def _start_trio(serve: Serve) -> tuple[str, str, list[Frame]]:
    """A background run of three agents; returns once the second agent has started."""
    with serve.stream(
        "POST", "/chat/completions", json=body("trio", stream=True, background=True)
    ) as r:
        run_id, conversation = r.headers["x-run-id"], r.headers["x-conversation-id"]

        def second_started(frames: list[Frame]) -> bool:
            started = [e for e in events(frames) if e["type"] == "agent_start"]
            return len(started) >= 2 and content_of(frames).count(" ") >= 1

        frames, _ = read_frames(r, until=second_started)
    return run_id, conversation, frames


def test_kill_9_mid_run_on_sqlite_then_restart_finishes_it(tmp_path: Path, paced: Upstream) -> None:
    paced.reset()
    first = Serve(tmp_path, paced)
    run_id, conversation, seen = _start_trio(first)
    time.sleep(0.3)  # into the second turn
    first.kill()
    second = Serve(tmp_path, paced)  # same working directory: the same SQLite file
    try:
        run = second.wait_run(run_id, until={"completed"}, timeout=30)
        assert run["stop_reason"] == "maximum number of messages 4 reached"
        status, frames, _ = second.replay(run_id)
        assert status == 200
        assert_numbered(frames)
        kinds = [e["type"] for e in events(frames)]
        assert kinds.count("run_resumed") == 1 and kinds[-1] == "run_end"
        # The run's usage counts the model calls made before the crash too, as run_end does.
        end = events(frames)[-1]["usage"]
        assert run["usage"]["prompt_tokens"] == end["prompt_tokens"] > 0
        assert second.run(run_id)["usage"] == run["usage"]
        # Every turn once in the conversation, whatever the replica did before it died.
        assert _turns(second, conversation) == ["user", "first", "second", "third"]
        # What the dead replica had stored is unchanged: the client's frames up to there
        # are the log's (the log goes on after them, from run_resumed).
        resumed = next(f.id for f in frames if '"type":"run_resumed"' in f.data)
        assert resumed is not None
        stored = {f.id: f for f in frames}
        kept = [f for f in seen if f.id is not None and f.id < resumed]
        assert kept and all(stored[f.id] == f for f in kept)
    finally:
        second.stop()


def test_two_replicas_on_postgres_follow_and_take_over(tmp_path: Path, paced: Upstream) -> None:
    paced.reset()
    with postgres_database("troupe_runs") as url:
        server = f'database_url: "{url}"'
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        a = Serve(tmp_path / "a", paced, server=server)
        b = Serve(tmp_path / "b", paced, server=server)
        try:
            with a.stream(
                "POST", "/chat/completions", json=body("trio", stream=True, background=True)
            ) as r:
                run_id, conversation = r.headers["x-run-id"], r.headers["x-conversation-id"]
                read_frames(r, until=lambda f: content_of(f).count(" ") >= 1)
            # Replica B follows the run A runs, live, to its end (after A dies too).
            followed: list[str] = []
            live_on_b: list[bool] = []

            def follow() -> None:
                with b.stream("GET", f"/runs/{run_id}/stream") as s:
                    for line in s.iter_lines():
                        if line.startswith("id:") and not live_on_b:
                            live_on_b.append(a.run(run_id)["status"] == "in_progress")
                        followed.append(line)

            reader = threading.Thread(target=follow)
            reader.start()
            deadline = time.monotonic() + 10
            while not live_on_b:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert live_on_b == [True]  # B got events while A was still running the run
            # Once B has seen the second agent start, A dies mid-turn.
            while sum('"type":"agent_start"' in line for line in followed) < 2:
                assert time.monotonic() < deadline + 20
                time.sleep(0.02)
            a.kill()
            run = b.wait_run(run_id, until={"completed"}, timeout=30)
            reader.join(timeout=30)
            assert not reader.is_alive()
            status, frames, _ = b.replay(run_id)
            assert status == 200 and run["status"] == "completed"
            assert_numbered(frames)
            assert [e["type"] for e in events(frames)].count("run_resumed") == 1
            assert _turns(b, conversation) == ["user", "first", "second", "third"]
            # B's follower saw the run through to [DONE], every frame once, in order.
            ids = [int(line[3:]) for line in followed if line.startswith("id:")]
            assert ids == [f.id for f in frames] and "data: [DONE]" in followed
        finally:
            b.stop()
            if a.proc.poll() is None:
                a.stop()


def test_an_adapter_resumes_a_broken_stream_and_cancels_on_stop(serve: Serve) -> None:
    import anyio

    from tests.e2e.cutting_proxy import cutting_proxy
    from troupe.adapters import TeamClient, TeamStreamHandler

    class Collect(TeamStreamHandler):
        def __init__(self) -> None:
            self.texts: list[str] = []
            self.errors: list[str] = []

        async def on_text_delta(self, event: Any) -> None:
            self.texts.append(event.text)

        async def on_error(self, message: str, code: str | None = None) -> None:
            self.errors.append(message)

    async def scenario(proxy: Any) -> tuple[Collect, Any]:
        client = TeamClient(f"http://127.0.0.1:{proxy.port}", api_key="sk-runs", reconnects=3)
        handler = Collect()
        try:
            proxy.cut_next(after=1500, times=2)  # the request, then its first resume, break
            outcome = await handler.run(client, "writer", WORDS)
        finally:
            await client.aclose()
        return handler, outcome

    with cutting_proxy(("127.0.0.1", serve.port)) as proxy:
        handler, outcome = anyio.run(scenario, proxy)
        assert proxy.cut == 2
    assert outcome.ok, handler.errors
    assert "".join(handler.texts).strip() == WORDS.strip()  # every word once, in order
    assert outcome.stop_reason

    # A person's Stop: the consumer goes away, and the run is cancelled, not left going.
    async def stop_early() -> str:
        client = TeamClient(serve.url, api_key="sk-runs")
        try:
            stream = client.stream("writer", WORDS)
            conversation, _ = await anext(stream)
            await stream.aclose()
            return conversation or ""
        finally:
            await client.aclose()

    conversation = anyio.run(stop_early)
    runs = serve.http("GET", f"/conversations/{conversation}/runs").json()["data"]
    assert [r["status"] for r in runs] == ["cancelled"]


def _dechunk(data: bytes) -> bytes:
    """An HTTP/1.1 chunked body, joined."""
    out, at = [], 0
    while True:
        end = data.index(b"\r\n", at)
        size = int(data[at:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[end + 2 : end + 2 + size])
        at = end + 2 + size + 2


def test_a_client_that_stops_reading_does_not_hold_the_run(
    tmp_path: Path, upstream: Upstream
) -> None:
    """uvicorn's flow control: a client whose socket takes nothing more (a small receive
    window, not read) while an 8 MB answer streams. The run writes its frames itself while
    the client keeps up, and must not wait for it: it completes while the client reads
    nothing; the client then gets every frame, numbered, and the whole answer."""
    upstream.reset()
    chunks = [f"{i:06d}{'y' * 1993} " for i in range(4000)]
    upstream.script({"chunks": chunks})
    server = Serve(tmp_path, upstream)
    try:
        request = json.dumps(body("writer", stream=True)).encode()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.settimeout(60)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: troupe\r\nconnection: close\r\n"
            b"authorization: Bearer sk-runs\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(request), request)
        )
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(4096)
        head, _, received = received.partition(b"\r\n\r\n")
        headers = dict(
            line.decode().lower().split(": ", 1) for line in head.split(b"\r\n")[1:] if line
        )
        run = server.wait_run(headers["x-run-id"], until={"completed", "failed"}, timeout=60)
        assert run["status"] == "completed"  # while the client read nothing
        while data := sock.recv(1 << 20):
            received += data
        sock.close()
    finally:
        server.stop()
    frames = sse_frames(_dechunk(received).decode())
    assert_numbered(frames)
    assert frames[-1].data == "[DONE]"
    assert frames[-1].id == run["last_event_id"] + 1
    assert content_of(frames) == "".join(chunks)
