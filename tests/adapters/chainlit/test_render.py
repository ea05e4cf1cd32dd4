"""The Chainlit adapter on real troupe streams: what a user of the chat would see.

Streams come from a real in-process troupe app (ScriptedModel teams) or are
recorded with ``troupe.wire``'s own encoder, for what no offline team does
(thinking text, a failure in mid-message, a stream that never ends). The
graph, swarm, user-proxy and approval teams are in ``test_teams.py``, on a
real ``troupe serve``. Chainlit's real ``Message`` and
``Step`` objects render into ``Page``, which applies their socket events as the
browser does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio
import chainlit as cl
import httpx2
import pytest
from chainlit.config import config

from tests.adapters.chainlit._page import open_page, user_says
from tests.asgi import ServedTransport
from troupe.adapters import TurnOutcome
from troupe.adapters.chainlit import ChainlitRenderer, TroupeChainlit
from troupe.adapters.chainlit._app import CONVERSATIONS_KEY
from troupe.adapters.chainlit._render import NOT_KEPT, STOPPED
from troupe.agents import AssistantAgent
from troupe.events import (
    AgentFinished,
    AgentStarted,
    Event,
    ReasoningDelta,
    RunEnded,
    RunFailed,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)
from troupe.models import ModelResponse, ScriptedModel, tool_call
from troupe.models.testing import Reply
from troupe.server import create_app
from troupe.teams import RoundRobinTeam, Team
from troupe.tools import function_tool
from troupe.wire import ChunkEncoder, Renderer

pytestmark = pytest.mark.anyio


def double(x: int) -> int:
    """Double a number."""
    return 2 * x


def weather(city: str) -> str:
    """The weather in a city."""
    raise ValueError(f"no weather station in {city}")


def calc_team(*script: Reply) -> Team:
    model = ScriptedModel(list(script))
    bot = AssistantAgent("bot", model, tools=[function_tool(double), function_tool(weather)])
    return RoundRobinTeam("calc", [bot], description="A bot that doubles numbers.")


def duo_team() -> Team:
    writer = AssistantAgent("writer", ScriptedModel(["A first draft about tea."]))
    critic = AssistantAgent("critic", ScriptedModel(["Good enough. APPROVE"]))
    return RoundRobinTeam("duo", [writer, critic])


def in_process(*teams: Team, api_keys: tuple[str, ...] = (), **kwargs: Any) -> TroupeChainlit:
    app = create_app(teams=list(teams), api_keys=api_keys)
    http = httpx2.AsyncClient(transport=ServedTransport(app))
    return TroupeChainlit("http://troupe.test", http_client=http, **kwargs)


async def ask(troupe: TroupeChainlit, text: str) -> TurnOutcome:
    """One user message, answered inside an ``on_message`` run as Chainlit does it."""
    user = await user_says(text)
    async with cl.Step(name="on_message", type="run", parent_id=user.id):
        return await troupe.reply(user)


# --- recorded streams ---------------------------------------------------------------


def sse(events: Sequence[Event], *, speaker_lines: bool = False, end: bool = True) -> bytes:
    """Events as the server's SSE body, encoded by ``troupe.wire``; ``end=False``: still open."""
    encoder = ChunkEncoder("chatcmpl-rec", 0, "team", Renderer(speaker_lines=speaker_lines))
    body = encoder.start()
    run_end = None
    for event in events:
        if isinstance(event, RunEnded):
            run_end = event
        else:
            body += encoder.encode(event)
    return body + encoder.finish(run_end, None) if end else body


class Recorded:
    """A troupe server that answers each chat request with the next recorded stream."""

    def __init__(self, *turns: bytes | Callable[[], AsyncIterator[bytes]], agents: int = 1):
        self.turns = list(turns)
        self.agents = [{"name": f"agent{i}"} for i in range(agents)]
        self.requests: list[httpx2.Request] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/v1/models":
            model = {"id": "team", "object": "model", "created": 0, "owned_by": "troupe"}
            return httpx2.Response(
                200, json={"object": "list", "data": [model | {"agents": self.agents}]}
            )
        self.requests.append(request)
        turn = self.turns.pop(0)
        headers = {"content-type": "text/event-stream", "x-conversation-id": "conv_rec"}
        return httpx2.Response(
            200, headers=headers, content=turn if isinstance(turn, bytes) else turn()
        )

    def troupe(self) -> TroupeChainlit:
        http = httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler))
        return TroupeChainlit("http://troupe.test", http_client=http)


def message(agent: str, text: str, message_id: str = "") -> list[Event]:
    message_id = message_id or f"msg_{agent}"
    return [
        AgentStarted(agent=agent, message_id=message_id),
        TextDelta(agent=agent, message_id=message_id, text=text),
        AgentFinished(agent=agent, message_id=message_id),
    ]


def ended(reason: str = "done") -> RunEnded:
    return RunEnded(agent="team", stop_reason=reason, conversation_id="conv_rec")


# --- tests --------------------------------------------------------------------------


async def test_every_team_is_a_chat_profile() -> None:
    open_page()
    troupe = in_process(calc_team(), duo_team())
    profiles = await troupe.chat_profiles()
    assert [(p.name, p.markdown_description, p.default) for p in profiles] == [
        ("calc", "A bot that doubles numbers.", True),
        ("duo", "A round_robin team of writer, critic.\n\nAgents: writer, critic.", False),
    ]
    assert await in_process(calc_team(), team="calc").chat_profiles() == []


async def test_the_answer_streams_below_its_tool_step() -> None:
    page = open_page(chat_profile="calc")
    troupe = in_process(calc_team(tool_call("double", '{"x": 21}'), "It is 42 exactly."))
    outcome = await ask(troupe, "double 21")
    assert outcome.ok and outcome.text == "It is 42 exactly."
    assert page.shown() == [
        ("tool", "double", "42"),
        ("assistant_message", "bot", "It is 42 exactly."),
    ]
    step = page.of_type("tool")[0]
    assert step["input"] == '{\n  "x": 21\n}' and step["showInput"] == "json"
    assert not step["isError"] and step["start"] and step["end"]
    run = page.of_type("run")[0]
    assert step["parentId"] == run["id"]
    answer = page.of_type("assistant_message")[0]
    assert len(page.tokens[answer["id"]]) > 1, "the answer should stream token by token"
    assert answer["streaming"] is False


async def test_several_agents_speak_under_their_names() -> None:
    page = open_page(chat_profile="duo")
    troupe = in_process(duo_team())
    await ask(troupe, "a text about tea")
    assert page.shown() == [
        ("assistant_message", "writer", "**writer:** A first draft about tea."),
        ("assistant_message", "critic", "**critic:** Good enough. APPROVE"),
    ]


async def test_text_before_a_tool_call_stays_above_its_step() -> None:
    page = open_page(chat_profile="calc")
    first = ModelResponse(content="Let me compute.", tool_calls=(tool_call("double", '{"x": 2}'),))
    troupe = in_process(calc_team(first, "It is 4."))
    await ask(troupe, "double 2")
    assert page.shown() == [
        ("assistant_message", "bot", "Let me compute."),
        ("tool", "double", "4"),
        ("assistant_message", "bot", "It is 4."),
    ]


async def test_a_failed_tool_is_an_error_step() -> None:
    page = open_page(chat_profile="calc")
    troupe = in_process(calc_team(tool_call("weather", '{"city": "Atlantis"}'), "No idea."))
    await ask(troupe, "weather?")
    step = page.of_type("tool")[0]
    assert step["name"] == "weather" and step["isError"] is True
    assert "no weather station in Atlantis" in step["output"]


async def test_the_conversation_continues_with_the_id_the_server_gave() -> None:
    open_page(chat_profile="calc")
    seen: list[str | None] = []

    async def record(request: httpx2.Request) -> None:
        if request.url.path.endswith("/chat/completions"):
            seen.append(request.headers.get("x-conversation-id"))

    app = create_app(teams=[calc_team("One.", "Two.")])
    http = httpx2.AsyncClient(transport=ServedTransport(app), event_hooks={"request": [record]})
    troupe = TroupeChainlit("http://troupe.test", http_client=http)
    await troupe.start()
    first = await ask(troupe, "one")
    await ask(troupe, "two")
    assert first.conversation_id and seen == [None, first.conversation_id]
    assert cl.user_session.get(CONVERSATIONS_KEY) == {"calc": first.conversation_id}


async def test_thinking_is_a_reasoning_step() -> None:
    page = open_page()
    server = Recorded(
        sse(
            [
                AgentStarted(agent="triage", message_id="m1"),
                ReasoningDelta(agent="triage", message_id="m1", text="A refund, "),
                ReasoningDelta(agent="triage", message_id="m1", text="so billing."),
                TextDelta(agent="triage", message_id="m1", text="Billing it is."),
                AgentFinished(agent="triage", message_id="m1"),
                ended(),
            ],
        ),
    )
    await ask(server.troupe(), "refund please")
    assert page.shown() == [
        ("llm", "reasoning", "A refund, so billing."),
        ("assistant_message", "triage", "Billing it is."),
    ]


async def test_a_mid_stream_error_is_clear_and_the_next_message_works() -> None:
    page = open_page()
    failure = RunFailed(
        agent="team", code="upstream_error", message="agent 'host': the model said: boom"
    )
    server = Recorded(
        sse(
            [
                AgentStarted(agent="host", message_id="m1"),
                TextDelta(agent="host", message_id="m1", text="Half an"),
                failure,
            ]
        ),
        sse([*message("host", "All good now."), ended()]),
    )
    troupe = server.troupe()
    failed = await ask(troupe, "go")
    assert failed.error == "The run failed: agent 'host': the model said: boom"
    partial, error = [s for s in page.steps.values() if s["type"] == "assistant_message"]
    assert partial["output"] == "Half an" and partial["streaming"] is False
    assert error["isError"] and error["output"] == f"{failed.error}\n\n{NOT_KEPT}"
    again = await ask(troupe, "again")
    assert again.ok and page.shown()[-1] == ("assistant_message", "host", "All good now.")


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("bad key", "The troupe server refused the API key. Check the key you configured."),
        (
            "down",
            "Cannot reach the troupe server at http://127.0.0.1:9. Is it running? Check the server URL.",
        ),
        ("no such team", "The server has no such team"),
    ],
)
async def test_server_trouble_is_a_clear_message(where: str, expected: str) -> None:
    page = open_page(chat_profile="nope" if where == "no such team" else "calc")
    if where == "down":
        troupe = TroupeChainlit("http://127.0.0.1:9")
    else:
        troupe = in_process(calc_team("Fine."), api_keys=("sk-1",) if where == "bad key" else ())
        troupe.api_key = "wrong" if where == "bad key" else None
    outcome = await ask(troupe, "hi")
    assert outcome.error is not None and outcome.error.startswith(expected)
    [error] = page.of_type("assistant_message")
    assert error["isError"] and error["output"] == f"{outcome.error}\n\n{NOT_KEPT}"


async def test_a_server_down_at_chat_start_is_said_at_once() -> None:
    page = open_page()
    troupe = TroupeChainlit("http://127.0.0.1:9")
    assert await troupe.chat_profiles() == []
    await troupe.start()
    [error] = page.of_type("assistant_message")
    assert error["isError"] and error["output"].startswith("Cannot reach the troupe server")


async def test_stop_closes_the_request_and_finishes_what_is_on_the_page() -> None:
    page = open_page()
    on_page, closed = anyio.Event(), anyio.Event()
    first = [
        AgentStarted(agent="host", message_id="m1"),
        TextDelta(agent="host", message_id="m1", text="Looking it up"),
        ToolCalled(agent="host", call_id="c1", name="search", arguments='{"q": "tea"}'),
    ]

    async def endless() -> AsyncIterator[bytes]:
        try:
            yield sse(first, end=False)
            on_page.set()
            await anyio.sleep_forever()
        finally:
            closed.set()

    server = Recorded(endless)
    troupe = server.troupe()
    async with anyio.create_task_group() as tg:
        tg.start_soon(ask, troupe, "search tea")
        await on_page.wait()
        tg.cancel_scope.cancel()
    with anyio.fail_after(5):
        await closed.wait()
    [step] = page.of_type("tool")
    assert step["isError"] is True and step["output"] == STOPPED and step["end"]
    [text] = page.of_type("assistant_message")
    assert text["output"] == "Looking it up" and text["streaming"] is False


async def test_attach_makes_a_whole_chainlit_app() -> None:
    page = open_page(chat_profile="calc")
    troupe = in_process(calc_team("Hello from the bot.")).attach()
    assert config.code.set_chat_profiles is not None and config.code.on_message is not None
    profiles = await config.code.set_chat_profiles(None, "en-US")
    assert [p.name for p in profiles] == ["calc"]
    user = await user_says("hello")
    await config.code.on_message(user)
    assert page.shown() == [("assistant_message", "bot", "Hello from the bot.")]
    assert troupe.conversation_id("calc")


class Quiet(ChainlitRenderer):
    """A custom renderer: no tool steps."""

    async def on_tool_call(self, event: ToolCalled) -> None:
        pass

    async def on_tool_result(self, event: ToolResultReturned) -> None:
        pass


async def test_a_custom_renderer_changes_what_is_shown() -> None:
    page = open_page(chat_profile="calc")
    troupe = in_process(calc_team(tool_call("double", '{"x": 1}'), "Two."), renderer=Quiet)
    await ask(troupe, "double 1")
    assert page.shown() == [("assistant_message", "bot", "Two.")]
