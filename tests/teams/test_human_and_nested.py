"""User proxies pause and resume across requests; nested teams stream their agents' events."""

from __future__ import annotations

import anyio
import pytest

from tests.asgi import http_scope
from tests.teams.conftest import Chat, names, run_team, speakers
from troupe.agents import AssistantAgent, UserProxyAgent
from troupe.events import (
    AgentStarted,
    InputRequested,
    RunEnded,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)
from troupe.messages import text_of
from troupe.models import FunctionModel, ModelRequest, ScriptedModel, tool_call
from troupe.server import InMemoryConversationStore, create_app
from troupe.teams import Edge, GraphTeam, RoundRobinTeam, TeamAgent, TeamTool, TextMention

pytestmark = pytest.mark.anyio


def review_team() -> RoundRobinTeam:
    writer = AssistantAgent("writer", ScriptedModel(["Draft one.", "Draft two."]))
    human = UserProxyAgent("human", prompt="Approve the draft, or say what to change.")
    return RoundRobinTeam(
        "review", [writer, human], termination=TextMention("APPROVE", sources=["human"])
    )


async def test_user_proxy_pauses_and_the_next_message_resumes_over_http() -> None:
    chat = Chat(review_team())
    text, events = await chat.say("review", "Write a slogan")
    assert text == "**writer:** Draft one.\n\nApprove the draft, or say what to change."
    (asked,) = [e for e in events if isinstance(e, InputRequested)]
    assert asked.agent == "human"
    assert isinstance(events[-1], RunEnded) and events[-1].stop_reason == "input requested by human"
    # The reply is the proxy's message; the writer goes on from there.
    text, events = await chat.say("review", "Shorter please")
    assert names(events, AgentStarted) == ["writer"]
    assert "Draft two." in text
    text, events = await chat.say("review", "APPROVE")
    assert names(events, AgentStarted) == []
    assert isinstance(events[-1], RunEnded) and "mentioned by human" in events[-1].stop_reason


async def test_the_humans_words_are_attributed_to_the_proxy() -> None:
    team = review_team()
    first, _ = await run_team(team, "Write")
    assert first.state.pending_input is not None
    second, _ = await run_team(team, "Shorter", first.state)
    assert speakers(second.state) == ["user", "writer", "human", "writer"]
    assert second.state.pending_input is not None  # the human's turn came again


async def test_a_client_leaving_mid_branch_cancels_the_run_and_keeps_the_completed_step() -> None:
    hang = anyio.Event()
    cancelled = anyio.Event()

    async def slow(request: ModelRequest) -> str:
        try:
            await hang.wait()
        except anyio.get_cancelled_exc_class():
            cancelled.set()
            raise
        return "never"

    team = GraphTeam(
        "g",
        [
            AssistantAgent("split", ScriptedModel(["go"] * 3)),
            AssistantAgent("fast", ScriptedModel(["ok"] * 3)),
            AssistantAgent("slow", FunctionModel(slow)),
        ],
        [Edge("split", "fast"), Edge("split", "slow")],
    )
    store = InMemoryConversationStore()
    app = create_app(teams=[team], store=store)
    body = b'{"model": "g", "stream": true, "messages": [{"role": "user", "content": "x"}]}'
    sent: list[bytes] = []
    disconnect = anyio.Event()

    async def receive() -> dict:  # type: ignore[type-arg]
        if not sent:
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:  # type: ignore[type-arg]
        sent.append(message.get("body", b""))
        if b'"agent":"fast"' in message.get("body", b"") and b"agent_end" in message.get(
            "body", b""
        ):
            disconnect.set()  # the client leaves while the slow branch still runs

    scope = http_scope(
        "POST",
        "/v1/chat/completions",
        [(b"content-type", b"application/json"), (b"x-conversation-id", b"cancel-me")],
    )
    async with app.lifespan():
        with anyio.fail_after(5):
            await app(scope, receive, send)  # type: ignore[arg-type]
            assert disconnect.is_set()
            await cancelled.wait()  # the slow branch's model call is cancelled
    # The app has stopped: every run of it has ended and been stored.
    [record] = await store.list_runs(conversation_id="cancel-me")
    assert record.status == "cancelled"
    state = await store.load("cancel-me")
    assert state is not None and state.run is None
    # The split's step is kept; the interrupted branches left nothing half-written.
    assert [(m.source, text_of(m)) for m in state.transcript] == [("user", "x"), ("split", "go")]
    lease = await store.acquire("cancel-me")  # and the conversation is free again
    await store.release(lease)


async def test_a_team_as_a_participant_streams_its_inner_agents() -> None:
    inner = RoundRobinTeam(
        "research",
        [
            AssistantAgent("searcher", ScriptedModel(["found A", "found B"])),
            AssistantAgent("summarizer", ScriptedModel(["A in short", "B in short"])),
        ],
    )
    outer = RoundRobinTeam(
        "outer", [AssistantAgent("lead", ScriptedModel(["look into A", "now B"])), TeamAgent(inner)]
    )
    result, recorder = await run_team(outer, "go")
    assert names(recorder.events, AgentStarted) == ["lead", "searcher", "summarizer"]
    assert [type(e).__name__ for e in recorder.events].count("RunEnded") == 1  # only the outer one
    assert speakers(result.state) == ["user", "lead", "searcher", "summarizer"]
    # The inner team keeps its own state between runs of the outer one.
    again, _ = await run_team(outer, "more", result.state)
    inner_state = again.state.inner["research"]
    assert [m.source for m in inner_state.inner.transcript].count("searcher") == 2  # type: ignore[attr-defined]


async def test_a_team_as_a_tool() -> None:
    inner = RoundRobinTeam("critics", [AssistantAgent("critic", ScriptedModel(["Too long."]))])
    caller = AssistantAgent(
        "writer",
        ScriptedModel([tool_call("critics", '{"task": "review my draft"}'), "Shortened it."]),
        tools=[TeamTool(inner)],
    )
    _result, recorder = await run_team(RoundRobinTeam("t", [caller]), "write")
    assert names(recorder.events, AgentStarted) == ["writer", "critic"]
    inner_text = "".join(
        e.text for e in recorder.events if isinstance(e, TextDelta) and e.agent == "critic"
    )
    assert inner_text == "Too long."
    (result_event,) = [e for e in recorder.events if isinstance(e, ToolResultReturned)]
    assert result_event.content == "Too long."
    assert [e.name for e in recorder.events if isinstance(e, ToolCalled)] == ["critics"]
