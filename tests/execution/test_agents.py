"""The code-executor agent and the run_code tool, in teams, with approval round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.teams.conftest import Chat, run_team
from troupe.agents import AssistantAgent, CodeAssistantAgent, CodeExecutorAgent
from troupe.events import CodeExecuted, CodeExecutionStarted, InputRequested
from troupe.execution import LocalExecutor
from troupe.messages import UserMessage, text_of
from troupe.models.testing import ScriptedModel, tool_call
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio

WRITE = "Let me check.\n```python\nprint(6 * 7)\n```\n"


def local(tmp_path: Path, approval: str = "never") -> LocalExecutor:
    return LocalExecutor("local", enabled=True, work_root=tmp_path, approval=approval)  # type: ignore[arg-type]


async def test_runs_the_fenced_blocks_of_the_previous_message(tmp_path: Path) -> None:
    writer = AssistantAgent("writer", ScriptedModel([WRITE]))
    runner = CodeExecutorAgent("runner", local(tmp_path))
    team = RoundRobinTeam("t", [writer, runner], max_turns=2)
    result, events = await run_team(team, "what is 6*7?")
    assert text_of(result.state.transcript[-1]) == "exit code 0\n42\n"
    started = [e for e in events.events if isinstance(e, CodeExecutionStarted)]
    done = [e for e in events.events if isinstance(e, CodeExecuted)]
    assert [(e.agent, e.language, e.code) for e in started] == [
        ("runner", "python", "print(6 * 7)\n")
    ]
    assert [(e.agent, e.output) for e in done] == [("runner", "42\n")]


async def test_without_code_blocks_it_says_so(tmp_path: Path) -> None:
    team = RoundRobinTeam("t", [CodeExecutorAgent("runner", local(tmp_path))], max_turns=1)
    result, events = await run_team(team, "no code here")
    assert "No code blocks found" in text_of(result.state.transcript[-1])
    assert not any(isinstance(e, CodeExecutionStarted) for e in events.events)


async def test_with_a_model_it_writes_runs_reads_and_retries(tmp_path: Path) -> None:
    model = ScriptedModel(
        [
            "```python\nprint(1 / 0)\n```",
            "Fixed:\n```python\nprint(1 / 1)\n```",
            "The answer is 1.0.",
        ]
    )
    coder = CodeExecutorAgent("coder", local(tmp_path), model=model, max_retries=2)
    result, events = await run_team(RoundRobinTeam("t", [coder], max_turns=1), "divide")
    assert text_of(result.state.transcript[-1]) == "The answer is 1.0."
    codes = [e.exit_code for e in events.events if isinstance(e, CodeExecuted)]
    assert codes == [1, 0]
    # The model read the failure before it fixed the code.
    second_request = model.requests[1].messages
    assert "ZeroDivisionError" in text_of(second_request[-1])


async def test_with_a_model_it_gives_up_after_max_retries(tmp_path: Path) -> None:
    model = ScriptedModel(["```sh\nexit 1\n```", "```sh\nexit 2\n```"])
    coder = CodeExecutorAgent("coder", local(tmp_path), model=model, max_retries=1)
    result, _ = await run_team(RoundRobinTeam("t", [coder], max_turns=1), "fail")
    assert text_of(result.state.transcript[-1]) == "Giving up: the code failed 2 times."
    assert model.remaining == 0


def approval_team(tmp_path: Path) -> RoundRobinTeam:
    writer = AssistantAgent("writer", ScriptedModel([WRITE, "Thanks."]))
    runner = CodeExecutorAgent("runner", local(tmp_path, approval="always"))
    return RoundRobinTeam("t", [writer, runner], max_turns=2)


async def test_approval_pauses_and_approve_runs_the_code(tmp_path: Path) -> None:
    team = approval_team(tmp_path)
    paused, events = await run_team(team, "compute")
    request = events.events[-2]
    assert isinstance(request, InputRequested) and request.agent == "runner"
    assert request.kind == "approval"  # front ends offer approve / reject buttons
    assert "```python\nprint(6 * 7)\n```" in request.prompt
    assert not any(isinstance(e, CodeExecutionStarted) for e in events.events)

    approved, events = await run_team(team, "approve", state=paused.state)
    assert approved.state.pending_input is None
    runner_said = [m for m in approved.state.transcript if m.source == "runner"]
    assert text_of(runner_said[-1]) == "exit code 0\n42\n"
    assert [e.output for e in events.events if isinstance(e, CodeExecuted)] == ["42\n"]


async def test_approval_reject_with_a_reason_does_not_run(tmp_path: Path) -> None:
    team = approval_team(tmp_path)
    paused, _ = await run_team(team, "compute")
    rejected, events = await run_team(team, "reject: not today", state=paused.state)
    runner_said = [m for m in rejected.state.transcript if m.source == "runner"]
    assert text_of(runner_said[-1]) == "The user rejected running the code: not today"
    assert not any(isinstance(e, CodeExecutionStarted) for e in events.events)


async def test_an_assistant_runs_code_with_its_run_code_tool(tmp_path: Path) -> None:
    model = ScriptedModel(
        [
            tool_call("run_code", '{"language": "sh", "code": "echo $((6 * 7)) > n; cat n"}'),
            "It is 42.",
        ]
    )
    agent = CodeAssistantAgent("helper", model, executor=local(tmp_path))
    result, events = await run_team(RoundRobinTeam("t", [agent], max_turns=1), "6*7?")
    assert text_of(result.state.transcript[-1]) == "It is 42."
    executed = [e for e in events.events if isinstance(e, CodeExecuted)]
    assert [(e.agent, e.output) for e in executed] == [("helper", "42\n")]
    assert (local(tmp_path).work_dir("c1") / "n").read_text() == "42\n"


async def test_run_code_approval_through_the_http_api(tmp_path: Path) -> None:
    model = ScriptedModel(
        [
            tool_call("run_code", '{"language": "python", "code": "print(2 + 2)"}'),
            "Waiting for you.",
            "The result is 4.",
        ]
    )
    agent = CodeAssistantAgent("helper", model, executor=local(tmp_path, approval="always"))
    chat = Chat(RoundRobinTeam("calc", [agent], max_turns=1))
    _, events = await chat.say("calc", "2+2?")
    asked = [e for e in events if isinstance(e, InputRequested)]
    assert len(asked) == 1 and "print(2 + 2)" in asked[0].prompt
    assert not any(isinstance(e, CodeExecuted) for e in events)
    text, events = await chat.say("calc", "approve")
    assert [e.output for e in events if isinstance(e, CodeExecuted)] == ["4\n"]
    assert "The result is 4." in text
    last = model.requests[-1].messages
    assert any(isinstance(m, UserMessage) and "4" in text_of(m) for m in last)
