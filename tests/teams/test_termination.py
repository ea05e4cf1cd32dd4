"""Every termination condition, composition, YAML, and the external stop through the API."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from tests.asgi import ServedTransport
from tests.teams.conftest import run_team
from troupe.agents import AssistantAgent, UserProxyAgent
from troupe.config import build_teams, read_config
from troupe.messages import AssistantMessage, ToolMessage, Usage, UserMessage
from troupe.models import FunctionModel, ModelRequest, ScriptedModel, tool_call
from troupe.server import create_app
from troupe.teams import (
    AllOf,
    AnyOf,
    External,
    FunctionCall,
    Handoff,
    MaxMessages,
    RoundRobinTeam,
    RunProgress,
    SourceMatch,
    StopMessage,
    TextMention,
    TextMessage,
    Timeout,
    TokenUsage,
)

pytestmark = pytest.mark.anyio


def progress(**kwargs) -> RunProgress:  # type: ignore[no-untyped-def]
    return RunProgress(messages=kwargs.pop("messages", ()), **kwargs)


USER = UserMessage(content="please finish")
SAID = AssistantMessage(content="all done, DONE", source="writer")
CALL = AssistantMessage(content="", source="writer", tool_calls=(tool_call("search"),))


@pytest.mark.parametrize(
    ("condition", "fires", "quiet", "reason"),
    [
        (
            MaxMessages(2),
            progress(messages=(USER, SAID)),
            progress(messages=(USER,)),
            "maximum number of messages 2",
        ),
        (
            TextMention("DONE"),
            progress(messages=(USER, SAID)),
            progress(messages=(UserMessage(content="DONE"),)),
            "mentioned by writer",
        ),
        (
            TextMention("DONE", ["critic"]),
            progress(messages=(AssistantMessage(content="DONE", source="critic"),)),
            progress(messages=(SAID,)),
            "by critic",
        ),
        (
            StopMessage(),
            progress(messages=(AssistantMessage(content="ok", source="a", stop="finished"),)),
            progress(messages=(SAID,)),
            "stop requested by a: finished",
        ),
        (
            TokenUsage(max_total_tokens=10),
            progress(messages=(), usage=Usage(prompt_tokens=6, completion_tokens=4)),
            progress(messages=(), usage=Usage(prompt_tokens=5)),
            "total token usage 10",
        ),
        (
            TokenUsage(max_completion_tokens=3),
            progress(messages=(), usage=Usage(completion_tokens=3)),
            progress(messages=(), usage=Usage(prompt_tokens=99)),
            "completion token usage 3",
        ),
        (
            Handoff("user"),
            progress(handoffs=(("billing", "user"),)),
            progress(handoffs=(("a", "b"),)),
            "billing handed off to user",
        ),
        (Timeout(1.5), progress(elapsed=2.0), progress(elapsed=1.0), "timeout of 1.5 s"),
        (External(), progress(stop_requested=True), progress(), "stopped on request"),
        (
            SourceMatch(["writer"]),
            progress(messages=(SAID,)),
            progress(messages=(USER,)),
            "writer spoke",
        ),
        (
            TextMessage(),
            progress(messages=(USER, SAID)),
            progress(messages=(USER, CALL)),
            "text message from writer",
        ),
        (
            TextMessage("critic"),
            progress(messages=(AssistantMessage(content="x", source="critic"),)),
            progress(messages=(SAID,)),
            "from critic",
        ),
        (
            FunctionCall("search"),
            progress(items=(ToolMessage(call_id="1", name="search", content="r", source="w"),)),
            progress(items=(ToolMessage(call_id="1", name="other", content="r", source="w"),)),
            "function search was called by w",
        ),
    ],
)
def test_each_condition(condition, fires, quiet, reason) -> None:  # type: ignore[no-untyped-def]
    assert reason in (condition.check(fires) or "")
    assert condition.check(quiet) is None


def test_composition() -> None:
    both = TextMention("DONE") & MaxMessages(3)
    assert both.check(progress(messages=(USER, SAID))) is None
    assert isinstance(both, AllOf)
    assert "and" in (both.check(progress(messages=(USER, SAID, SAID))) or "")
    either = TextMention("NOPE") | MaxMessages(2)
    assert isinstance(either, AnyOf)
    assert either.check(progress(messages=(USER, SAID))) == "maximum number of messages 2 reached"


def test_yaml_any_and_all() -> None:
    spec = read_config(
        """
models: {m: {provider: demo}}
teams:
  t:
    agents: [{name: a, model: m}]
    termination:
      any:
        - all: [{text_mention: DONE}, {source_match: [a]}]
        - token_usage: {total: 1000}
        - {timeout: 30, external: true, function_call: search, handoff: user, stop_message: true, text_message: a}
""",
        env={},
    )
    condition = build_teams(spec)["t"].termination
    assert repr(condition) == (
        "TextMention('DONE') & SourceMatch(['a']) | TokenUsage(total=1000) | "
        "StopMessage() | Handoff('user') | Timeout(30.0) | External() | TextMessage('a') | FunctionCall('search')"
    )


async def test_stop_tool_and_usage_end_real_runs() -> None:
    stopper = AssistantAgent(
        "a", ScriptedModel([tool_call("stop_run", '{"reason": "enough"}')]), stop_tool=True
    )
    team = RoundRobinTeam(
        "t", [stopper, AssistantAgent("b", ScriptedModel([]))], termination=StopMessage()
    )
    result, _ = await run_team(team, "go")
    assert result.stop_reason == "stop requested by a: enough"
    chatty = AssistantAgent("a", ScriptedModel(["one two three four five"] * 5))
    team = RoundRobinTeam("t", [chatty], termination=TokenUsage(max_completion_tokens=9))
    result, _ = await run_team(team, "go")
    assert result.turns == 2 and "completion token usage" in result.stop_reason


async def test_external_stop_through_the_api() -> None:
    gate = anyio.Event()

    async def slow(request: ModelRequest) -> str:
        gate.set()
        await anyio.sleep(0.05)
        return "still going"

    team = RoundRobinTeam("t", [AssistantAgent("a", FunctionModel(slow))], termination=External())
    app = create_app(teams=[team])
    async with httpx2.AsyncClient(transport=ServedTransport(app), base_url="http://t") as client:
        assert (
            await client.post("/v1/conversations/c9/stop")
        ).status_code == 409  # nothing running
        results = {}

        async def chat() -> None:
            body = {"model": "t", "messages": [{"role": "user", "content": "go"}]}
            results["chat"] = await client.post(
                "/v1/chat/completions", json=body, headers={"x-conversation-id": "c9"}
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(chat)
            await gate.wait()
            stop = await client.post("/v1/conversations/c9/stop")
            assert stop.status_code == 200 and stop.json()["stopping"] is True
            assert stop.json()["status"] == "cancelled"
    events = results["chat"].json()["choices"][0]["message"]["troupe"]
    assert events[-1]["type"] == "run_end" and events[-1]["stop_reason"] == "cancelled"


def test_proxy_counts_as_a_participant_for_source_match() -> None:
    condition = SourceMatch(["human"])
    assert (
        condition.check(progress(messages=(UserMessage(content="hi", source="human"),)))
        == "human spoke"
    )
    assert UserProxyAgent("human").name == "human"
