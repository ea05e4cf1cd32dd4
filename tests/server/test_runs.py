"""Runs over HTTP, in process: the run object, resuming from any event, cancel, the
disconnect policy, stored completions, a conversation's runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2
import pytest

from tests.asgi import http_scope
from tests.server.conftest import app_for
from tests.spec import validate
from tests.sse import assert_numbered, sse_frames
from troupe.agents import AssistantAgent
from troupe.config import ConfigSpec, ServerSpec
from troupe.models import FunctionModel, ModelRequest, ScriptedModel
from troupe.server import TroupePlugin, create_app
from troupe.server._push import DIRECT_SEND
from troupe.teams import MaxMessages, RoundRobinTeam

pytestmark = pytest.mark.anyio

RUN_FIELDS = {
    "id",
    "object",
    "conversation_id",
    "team",
    "status",
    "created_at",
    "ended_at",
    "stop_reason",
    "usage",
    "last_event_id",
}


def duo() -> RoundRobinTeam:
    writer = AssistantAgent("writer", ScriptedModel(["A draft about tea.", "Second draft."]))
    critic = AssistantAgent("critic", ScriptedModel(["Fine by me.", "Done."]))
    return RoundRobinTeam("duo", [writer, critic], termination=MaxMessages(3))


def ask(stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "model": "duo",
        "messages": [{"role": "user", "content": "tea"}],
        "stream": stream,
        **extra,
    }


def staying_client(request: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    """An ASGI ``receive`` of a client that sends ``request`` and then stays connected."""
    body = json.dumps(request).encode()
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError

    return receive


async def test_a_finished_run_replays_the_same_frames_from_any_event(raw_client: Any) -> None:
    client: httpx2.AsyncClient = await raw_client(app_for(duo()))
    original = await client.post(
        "/v1/chat/completions", json=ask(stream_options={"include_usage": True})
    )
    run_id = original.headers["x-run-id"]
    frames = sse_frames(original.text)
    assert_numbered(frames)
    assert frames[-1].data == "[DONE]" and json.loads(frames[-2].data)["usage"]
    run = (await client.get(f"/v1/runs/{run_id}")).json()
    assert set(run) >= RUN_FIELDS and run["object"] == "troupe.run"
    assert run["status"] == "completed" and run["team"] == "duo"
    assert run["conversation_id"] == original.headers["x-conversation-id"]
    # The trailer (usage chunk, [DONE]) is numbered after the last event.
    assert run["last_event_id"] == len(frames) - 2
    blocks = [b + "\n\n" for b in original.text.split("\n\n") if b]
    for after in range(len(frames)):
        replay = await client.get(f"/v1/runs/{run_id}/stream?after={after}")
        assert replay.status_code == 200
        assert replay.text == "".join(blocks[after:])  # byte for byte, ids included
        by_header = await client.get(
            f"/v1/runs/{run_id}/stream", headers={"last-event-id": str(after)}
        )
        assert by_header.text == replay.text
    done = await client.get(f"/v1/runs/{run_id}/stream?after={len(frames)}")
    assert done.status_code == 204
    # An EventSource opened on ?after=0 reconnects to that URL with Last-Event-ID: the
    # header wins, so it does not replay the run for ever.
    again = await client.get(
        f"/v1/runs/{run_id}/stream?after=0", headers={"last-event-id": str(len(frames))}
    )
    assert again.status_code == 204


async def test_run_errors_and_ids_of_other_keys(raw_client: Any) -> None:
    client: httpx2.AsyncClient = await raw_client(app_for(duo(), api_keys=["sk-a", "sk-b"]))
    a = {"authorization": "Bearer sk-a"}
    b = {"authorization": "Bearer sk-b"}
    response = await client.post("/v1/chat/completions", json=ask(stream=False), headers=a)
    run_id = response.headers["x-run-id"]
    for path in (f"/v1/runs/{run_id}", f"/v1/runs/{run_id}/stream"):
        assert (await client.get(path, headers=b)).status_code == 404
        assert (await client.get(path, headers=a)).status_code == 200
    assert (await client.post(f"/v1/runs/{run_id}/cancel", headers=b)).status_code == 404
    missing = await client.get("/v1/runs/run_nope", headers=a)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "run_not_found"
    for bad in ("-1", "x", "1.5"):
        wrong = await client.get(f"/v1/runs/{run_id}/stream?after={bad}", headers=a)
        assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "after"
    # A finished run cancelled: it is returned as it is.
    cancelled = await client.post(f"/v1/runs/{run_id}/cancel", headers=a)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "completed"


async def test_the_stored_completion_is_the_non_stream_answer(raw_client: Any) -> None:
    client: httpx2.AsyncClient = await raw_client(app_for(duo()))
    whole = (await client.post("/v1/chat/completions", json=ask(stream=False))).json()
    stored = await client.get(f"/v1/chat/completions/{whole['id']}")
    assert stored.status_code == 200
    validate(stored.json(), "CreateChatCompletionResponse")
    assert stored.json() == whole
    streamed = await client.post("/v1/chat/completions", json=ask(stream=True))
    run_id = streamed.headers["x-run-id"]
    completion = (await client.get(f"/v1/chat/completions/chatcmpl-{run_id[4:]}")).json()
    validate(completion, "CreateChatCompletionResponse")
    text = "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in (json.loads(f.data) for f in sse_frames(streamed.text) if f.data != "[DONE]")
        if c["choices"]
    )
    assert completion["choices"][0]["message"]["content"] == text
    assert (await client.get("/v1/chat/completions/chatcmpl-nope")).status_code == 404


def slow_team(cancelled: anyio.Event, started: anyio.Event) -> RoundRobinTeam:
    async def slow(request: ModelRequest) -> str:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        return "never"

    return RoundRobinTeam("duo", [AssistantAgent("bot", FunctionModel(slow))])


async def test_a_running_runs_completion_is_409_and_a_stop_cancels_it(raw_client: Any) -> None:
    cancelled, started = anyio.Event(), anyio.Event()
    client: httpx2.AsyncClient = await raw_client(app_for(slow_team(cancelled, started)))
    assert (await client.post("/v1/conversations/c-idle/stop")).status_code == 409
    result: dict[str, httpx2.Response] = {}

    async def chat() -> None:
        result["chat"] = await client.post(
            "/v1/chat/completions",
            json=ask(stream=False, background=True),
            headers={"x-conversation-id": "c-run"},
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(chat)
        await started.wait()
        [run] = (await client.get("/v1/conversations/c-run/runs")).json()["data"] or [None]
        if run is None:  # its record may not be written yet: ask the conversation
            stop = await client.post("/v1/conversations/c-run/stop")
        else:
            early = await client.get(f"/v1/chat/completions/chatcmpl-{run['id'][4:]}")
            assert early.status_code == 409 and early.json()["error"]["code"] == "run_in_progress"
            stop = await client.post("/v1/conversations/c-run/stop")
        assert stop.status_code == 200 and stop.json()["status"] == "cancelled"
    assert cancelled.is_set()
    runs = (await client.get("/v1/conversations/c-run/runs")).json()
    assert [r["status"] for r in runs["data"]] == ["cancelled"]
    events = result["chat"].json()["choices"][0]["message"]["troupe"]
    assert events[-1]["type"] == "run_end" and events[-1]["stop_reason"] == "cancelled"


@pytest.mark.parametrize(
    ("policy", "background", "status"),
    [
        ("cancel", False, "cancelled"),
        ("continue", False, "completed"),
        ("cancel", True, "completed"),
    ],
)
@pytest.mark.parametrize("direct", [True, False], ids=["server-send", "app-send"])
async def test_the_disconnect_policy(
    served: Any, policy: str, background: bool, status: str, direct: bool
) -> None:
    """``server-send``: the frames of a run that is not a background one are written by the
    run's task (as under uvicorn), the response's task watching the client meanwhile."""
    gate = anyio.Event()

    async def gated(request: ModelRequest) -> str:
        await gate.wait()
        return "late answer"

    team = RoundRobinTeam("duo", [AssistantAgent("bot", FunctionModel(gated))])
    app = create_app(ConfigSpec(server=ServerSpec(on_disconnect=policy)), teams=[team])  # type: ignore[arg-type]
    await served.app(app)
    sent: list[dict[str, Any]] = []
    leave = anyio.Event()
    body = json.dumps(ask(stream=True, background=background)).encode()

    async def receive() -> dict[str, Any]:
        if not sent:
            return {"type": "http.request", "body": body, "more_body": False}
        await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            leave.set()  # the client goes away after the first frame

    scope = http_scope("POST", "/v1/chat/completions", [(b"content-type", b"application/json")])
    if direct:
        scope[DIRECT_SEND] = send
    with anyio.fail_after(5):
        await app(scope, receive, send)  # type: ignore[arg-type]
    run_id = dict(sent[0]["headers"])[b"x-run-id"].decode()
    gate.set()
    client = await served.http(app)
    with anyio.fail_after(5):
        while True:
            run = (await client.get(f"/v1/runs/{run_id}")).json()
            if run["status"] != "in_progress":
                break
            await anyio.sleep(0.01)
    assert run["status"] == status


class RateLimited:
    """A model whose provider answers 429."""

    provider = "openai"
    model_name = "busy-model"

    async def stream(self, request: ModelRequest) -> Any:
        from troupe.errors import UpstreamRateLimitError

        raise UpstreamRateLimitError("openai model 'busy-model': HTTP 429 rate limit reached")
        yield


async def test_a_429_in_a_parallel_branch_is_reported_as_that_429(raw_client: Any) -> None:
    from troupe.teams import Edge, GraphTeam

    team = GraphTeam(
        "duo",
        [
            AssistantAgent("split", ScriptedModel(["go", "go"])),
            AssistantAgent("fine", ScriptedModel(["ok", "ok"])),
            AssistantAgent("busy", RateLimited()),  # type: ignore[arg-type]
        ],
        [Edge("split", "fine"), Edge("split", "busy")],
    )
    client: httpx2.AsyncClient = await raw_client(app_for(team))
    whole = await client.post("/v1/chat/completions", json=ask(stream=False))
    assert whole.status_code == 429
    assert whole.json()["error"]["code"] == "rate_limit_exceeded"
    assert "HTTP 429" in whole.json()["error"]["message"]
    streamed = await client.post("/v1/chat/completions", json=ask(stream=True))
    errors = [
        e for e in (json.loads(f.data) for f in sse_frames(streamed.text)[:-1]) if "error" in e
    ]
    assert [e["error"]["code"] for e in errors] == ["rate_limit_exceeded"]
    run = (await client.get(f"/v1/runs/{streamed.headers['x-run-id']}")).json()
    assert run["status"] == "failed" and "HTTP 429" in run["stop_reason"]


async def test_a_conversations_runs_go_with_it(raw_client: Any) -> None:
    client: httpx2.AsyncClient = await raw_client(app_for(duo()))
    first = await client.post(
        "/v1/chat/completions", json=ask(stream=False), headers={"x-conversation-id": "gone"}
    )
    run_id = first.headers["x-run-id"]
    assert (await client.get(f"/v1/runs/{run_id}")).status_code == 200
    assert (await client.delete("/v1/conversations/gone")).status_code == 200
    assert (await client.get(f"/v1/runs/{run_id}")).status_code == 404
    assert (await client.get("/v1/conversations/gone/runs")).status_code == 404


async def test_data_the_store_refuses_fails_that_run_alone(raw_client: Any) -> None:
    """A run whose data the store cannot take (a database error that is not an outage)
    ends failed; the server, and the runs written beside it, go on."""
    from troupe.store import InMemoryConversationStore

    class Picky(InMemoryConversationStore):
        async def commit_runs(self, commits: Any) -> list[str | None]:
            if any("poison" in repr(commit.state) for commit in commits):
                raise ValueError("this database takes no poison")
            result: list[str | None] = await super().commit_runs(commits)
            return result

    picky = Picky()
    app = create_app(teams=[duo()], store=picky)
    client: httpx2.AsyncClient = await raw_client(app)
    body = ask(stream=False)
    body["messages"] = [{"role": "user", "content": "poison"}]
    refused = await client.post("/v1/chat/completions", json=body)
    assert refused.status_code in (200, 500, 503)
    run = (await client.get(f"/v1/runs/{refused.headers['x-run-id']}")).json()
    assert run["status"] == "failed"
    fine = await client.post("/v1/chat/completions", json=ask(stream=False))
    assert fine.status_code == 200
    assert (await client.get(f"/v1/runs/{fine.headers['x-run-id']}")).json()["status"] == (
        "completed"
    )
    assert (await client.get("/health/ready")).status_code == 200


async def test_a_background_runs_views_send_only_events_already_stored(raw_client: Any) -> None:
    """If the replica dies, another goes on from the stored log: an event a client got
    must be in it, or the takeover would send other events under its id."""
    from troupe.messages import UserMessage
    from troupe.runs import RunStart
    from troupe.server import TroupePlugin
    from troupe.store import InMemoryConversationStore

    words = " ".join(f"w{i}" for i in range(60))
    slow = AssistantAgent("writer", FunctionModel(lambda _: words, delay=0.004))
    store = InMemoryConversationStore()
    app = create_app(
        teams=[RoundRobinTeam("slow", [slow], termination=MaxMessages(2))], store=store
    )
    await raw_client(app)  # serving: the run manager runs
    manager = app.plugins.get(TroupePlugin).runs
    for background in (True, False):
        run = await manager.start(
            RunStart(team="slow", messages=(UserMessage(content="go"),), background=background)
        )
        ahead = 0
        async for first, batch in manager.follow(run.id, "", 0):
            stored = len(await store.run_events(run.id))
            ahead = max(ahead, first + len(batch) - 1 - stored)
        if background:
            assert ahead == 0
        else:  # a run that ends with its replica: its events go out at once
            assert ahead > 0


async def test_a_background_runs_first_words_are_sent_soon_whatever_the_flush_period(
    raw_client: Any,
) -> None:
    """Its views send only stored events: the writer stores them within 50 ms of their
    arrival, however long ``run_log_flush_seconds`` is."""
    from troupe.messages import UserMessage
    from troupe.runs import RunStart
    from troupe.server import TroupePlugin

    words = " ".join(f"w{i}" for i in range(100))
    slow = AssistantAgent("writer", FunctionModel(lambda _: words, delay=0.02))
    app = create_app(
        config=ConfigSpec(server=ServerSpec(run_log_flush_seconds=30.0)),
        teams=[RoundRobinTeam("slow", [slow], termination=MaxMessages(2))],
    )
    await raw_client(app)
    manager = app.plugins.get(TroupePlugin).runs
    await anyio.sleep(0.1)  # the writer is in its long wait
    run = await manager.start(
        RunStart(team="slow", messages=(UserMessage(content="go"),), background=True)
    )
    started = anyio.current_time()
    with anyio.fail_after(10):
        async for _first, batch in manager.follow(run.id, "", 0):
            if any(type(e).__name__ == "TextDelta" for e in batch):
                break
    assert anyio.current_time() - started < 1.0  # a run of 2 s, a flush period of 30 s
    await manager.cancel(run.id, "")


async def test_views_of_one_run_each_get_every_event_when_another_view_goes_away(
    raw_client: Any,
) -> None:
    """Several clients watch one run (a resumed stream beside the first, the studio): one
    that leaves mid-wait takes nothing from the others."""
    from troupe.messages import UserMessage
    from troupe.runs import RunStart
    from troupe.server import TroupePlugin

    words = " ".join(f"w{i}" for i in range(40))
    slow = AssistantAgent("writer", FunctionModel(lambda _: words, delay=0.005))
    app = create_app(teams=[RoundRobinTeam("slow", [slow], termination=MaxMessages(2))])
    await raw_client(app)
    manager = app.plugins.get(TroupePlugin).runs
    run = await manager.start(RunStart(team="slow", messages=(UserMessage(content="go"),)))
    seen: dict[int, list[int]] = {0: [], 1: [], 2: []}

    async def view(index: int) -> None:
        async for first, batch in manager.follow(run.id, "", 0):
            seen[index] += range(first, first + len(batch))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for index in (0, 1):
                tg.start_soon(view, index)
            with anyio.move_on_after(0.05) as leaving:  # the third view leaves mid-run
                await view(2)
            assert leaving.cancelled_caught
    assert seen[0] == seen[1] == list(range(1, run.last_seq + 1))
    assert 0 < len(seen[2]) < run.last_seq


async def test_a_conversation_whose_first_run_kept_nothing_is_shown_empty(raw_client: Any) -> None:
    """Its first run failed before a turn (a 429): the id the client was given answers
    (empty, its team named), as its runs are listed and as it is deleted."""
    team = RoundRobinTeam("duo", [AssistantAgent("busy", RateLimited())])  # type: ignore[arg-type]
    client: httpx2.AsyncClient = await raw_client(app_for(team))
    failed = await client.post(
        "/v1/chat/completions", json=ask(stream=False), headers={"x-conversation-id": "first"}
    )
    assert failed.status_code == 429
    shown = await client.get("/v1/conversations/first")
    assert shown.status_code == 200
    body = shown.json()
    assert (body["id"], body["team"], body["transcript"]) == ("first", "duo", [])
    runs = (await client.get("/v1/conversations/first/runs")).json()["data"]
    assert [run["status"] for run in runs] == ["failed"]
    assert (await client.delete("/v1/conversations/first")).status_code == 200
    assert (await client.get("/v1/conversations/first")).status_code == 404
    assert (await client.get("/v1/conversations/never")).status_code == 404


def chatty() -> RoundRobinTeam:
    """Three agents, each answer streamed in pieces a moment apart: many events, one after
    the other (not all in one turn of the event loop, whose frames go out in one write)."""

    def agent(name: str) -> AssistantAgent:
        answers = [f"{name} says one two three four five."] * 4
        return AssistantAgent(name, ScriptedModel(answers, delay=0.001))

    return RoundRobinTeam("duo", [agent("a"), agent("b"), agent("c")], termination=MaxMessages(4))


@pytest.mark.parametrize("direct", [True, False], ids=["server-send", "app-send"])
@pytest.mark.parametrize("stuck_at", [1, 3])
async def test_a_client_that_reads_slowly_holds_nothing_and_gets_every_frame(
    served: Any, stuck_at: int, direct: bool
) -> None:
    """The run writes its frames to a client that keeps up; one whose connection stops
    taking them (a slow reader, flow control) does not hold the run, and gets the same
    frames, in order, once it reads again. ``server-send``: the frames written with the
    server's own send from the run's task (as under uvicorn), which waits on asyncio
    futures only, as uvicorn's flow control does."""
    app = app_for(chatty())
    await served.app(app)
    reference = sse_frames(
        (await (await served.http(app)).post("/v1/chat/completions", json=ask())).text
    )
    plugin = app.plugins.get(TroupePlugin)
    bodies: list[bytes] = []
    run_id = ""
    over_while_stuck: list[bool] = []
    receive = staying_client(ask())

    async def send(message: dict[str, Any]) -> None:
        nonlocal run_id
        if message["type"] == "http.response.start":
            run_id = dict(message["headers"])[b"x-run-id"].decode()
            return
        bodies.append(message["body"])
        if len(bodies) == stuck_at:  # the client stops reading for a while
            run = plugin.runs.local(run_id, "")
            await asyncio.wait_for(run.finished.wait(), 5)
            over_while_stuck.append(run.over)

    scope = http_scope("POST", "/v1/chat/completions", [(b"content-type", b"application/json")])
    if direct:
        scope[DIRECT_SEND] = send
    with anyio.fail_after(10):
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert over_while_stuck == [True]
    frames = sse_frames(b"".join(bodies).decode())
    assert_numbered(frames)
    assert frames[-1].data == "[DONE]"

    # The same frames a client that kept up got, but for the ids and times of another run.
    def text(fs: list[Any]) -> str:
        return "".join(
            (json.loads(f.data)["choices"] or [{}])[0].get("delta", {}).get("content") or ""
            for f in fs
            if f.data != "[DONE]"
        )

    assert len(frames) == len(reference) and text(frames) == text(reference)


@pytest.mark.parametrize("direct", [True, False], ids=["server-send", "app-send"])
async def test_a_send_that_fails_mid_stream_leaves_the_run_to_finish(
    served: Any, direct: bool
) -> None:
    """The server's send raising (a broken connection in some servers) ends that response
    only: the run is cancelled as for any client that goes away, its state consistent."""
    app = app_for(chatty())
    await served.app(app)
    plugin = app.plugins.get(TroupePlugin)
    receive = staying_client(ask())
    sent = 0
    run_id = ""

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent, run_id
        sent += 1
        if message["type"] == "http.response.start":
            run_id = dict(message["headers"])[b"x-run-id"].decode()
        if sent == 4:
            raise OSError("connection reset by peer")

    scope = http_scope("POST", "/v1/chat/completions", [(b"content-type", b"application/json")])
    if direct:
        scope[DIRECT_SEND] = send
    with anyio.fail_after(10), pytest.raises(Exception, match="response started"):
        await app(scope, receive, send)  # type: ignore[arg-type]  # Litestar's word for it
    live = plugin.runs.local(run_id, "")
    assert live is not None
    with anyio.fail_after(5):
        await live.finished.wait()
    run = (await (await served.http(app)).get(f"/v1/runs/{run_id}")).json()
    # The client is gone, as for a disconnect: cancelled, unless it had just finished.
    assert run["status"] in {"cancelled", "completed"}
    assert run["ended_at"] is not None


async def test_a_stream_the_run_writes_gets_keepalives_while_the_model_is_slow(
    served: Any,
) -> None:
    """Frames written by the run's task (the server's own send, as under uvicorn): while the
    model thinks, the response's task sends the keepalive comment; then the answer."""

    async def slow(request: ModelRequest) -> str:
        await anyio.sleep(0.35)
        return "finally"

    team = RoundRobinTeam("slow", [AssistantAgent("bot", FunctionModel(slow))])
    app = create_app(ConfigSpec(server=ServerSpec(keepalive_seconds=0.1)), teams=[team])
    await served.app(app)
    receive = staying_client({**ask(), "model": "slow"})
    bodies: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        bodies.append(message.get("body", b""))

    scope = http_scope("POST", "/v1/chat/completions", [(b"content-type", b"application/json")])
    scope[DIRECT_SEND] = send
    with anyio.fail_after(10):
        await app(scope, receive, send)  # type: ignore[arg-type]
    text = b"".join(bodies).decode()
    assert text.count(": keepalive") >= 2
    assert text.index(": keepalive") < text.index("finally")
    assert text.endswith("data: [DONE]\n\n")


async def test_frames_appended_together_reach_the_client_in_one_write(served: Any) -> None:
    """Written by the run's task (as under uvicorn): the frames of the events a run appends
    in one go (a model's read of many chunks; the usage, the turn's end and the run's end)
    go out in one write each, the run's last ones with ``[DONE]``."""
    gate = anyio.Event()

    async def answer(request: ModelRequest) -> str:
        await gate.wait()  # the stream is caught up with the run, and handed its events
        return "one two three"

    app = app_for(RoundRobinTeam("duo", [AssistantAgent("bot", FunctionModel(answer))]))
    await served.app(app)
    bodies: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])
            gate.set()

    scope = http_scope("POST", "/v1/chat/completions", [(b"content-type", b"application/json")])
    scope[DIRECT_SEND] = send
    with anyio.fail_after(5):
        await app(scope, staying_client(ask(stream=True)), send)  # type: ignore[arg-type]
    frames = sse_frames(b"".join(bodies).decode())
    assert_numbered(frames)
    last = sse_frames(bodies[-1].decode())
    assert len(bodies) == 2  # what the run had when the stream began; all the rest
    assert [f.data for f in last][-1] == "[DONE]"
    assert (
        "".join(
            json.loads(f.data)["choices"][0]["delta"].get("content") or ""
            for f in frames
            if f.data != "[DONE]" and json.loads(f.data)["choices"]
        )
        == "one two three"
    )
