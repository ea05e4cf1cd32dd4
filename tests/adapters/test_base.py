"""The adapter base against a real app: hooks in order, conversation ids, errors."""

from __future__ import annotations

import httpx2
import pytest

from tests.asgi import ServedTransport
from troupe.adapters import TeamClient, TeamStreamHandler
from troupe.agents import AssistantAgent
from troupe.events import Event
from troupe.models import ScriptedModel, tool_call
from troupe.server import create_app
from troupe.teams import RoundRobinTeam
from troupe.tools import function_tool

pytestmark = pytest.mark.anyio


def double(x: int) -> int:
    """Double a number."""
    return 2 * x


class Recorder(TeamStreamHandler):
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.errors: list[str] = []

    async def on_event(self, event: Event) -> None:
        self.calls.append(type(event).__name__)

    async def on_error(self, message: str, code: str | None = None) -> None:
        self.errors.append(message)


def client_for(api_keys: tuple[str, ...] = (), key: str | None = None) -> TeamClient:
    model = ScriptedModel([tool_call("double", '{"x": 21}'), "It is 42.", "Again."])
    team = RoundRobinTeam("calc", [AssistantAgent("bot", model, tools=[function_tool(double)])])
    app = create_app(teams=[team], api_keys=api_keys)
    http = httpx2.AsyncClient(transport=ServedTransport(app))
    return TeamClient("http://troupe.test", api_key=key, http_client=http)


async def test_hooks_follow_the_stream_and_the_conversation_continues() -> None:
    client = client_for()
    teams = await client.teams()
    assert [(t.id, t.agents) for t in teams] == [("calc", ("bot",))]
    handler = Recorder()
    first = await handler.run(client, "calc", "double 21")
    assert first.ok and first.text == "It is 42."
    assert handler.calls == [
        "RunStarted",
        "AgentStarted",
        "UsageReported",
        "ToolCalled",
        "ToolResultReturned",
        "TextDelta",
        "TextDelta",
        "TextDelta",
        "UsageReported",
        "AgentFinished",
        "RunEnded",
    ]
    assert first.conversation_id and first.conversation_id.startswith("conv_")
    second = await Recorder().run(client, "calc", "again", conversation_id=first.conversation_id)
    assert second.conversation_id == first.conversation_id
    await client.aclose()


async def test_errors_become_messages_for_people() -> None:
    handler = Recorder()
    refused = await handler.run(client_for(api_keys=("sk-1",), key="wrong"), "calc", "hi")
    assert refused.error == "The troupe server refused the API key. Check the key you configured."
    missing = await handler.run(client_for(), "nope", "hi")
    assert missing.error is not None and missing.error.startswith("The server has no such team")
    down = await handler.run(TeamClient("http://127.0.0.1:9"), "calc", "hi")
    assert down.error is not None and down.error.startswith(
        "Cannot reach the troupe server at http://127.0.0.1:9"
    )
    assert len(handler.errors) == 3
