"""Magentic-One on scripted ledgers: plan, progress, stall and re-plan, final answer, bad JSON."""

from __future__ import annotations

import json

import pytest

from tests.teams.conftest import Chat, names, run_team
from troupe.agents import AssistantAgent, UserProxyAgent
from troupe.errors import ConfigError
from troupe.events import ReasoningDelta, SpeakerSelected, TextDelta, UsageReported
from troupe.messages import UserMessage
from troupe.models import ScriptedModel
from troupe.teams import MagenticOneTeam, MaxMessages

pytestmark = pytest.mark.anyio


def ledger(
    speaker: str,
    instruction: str,
    *,
    satisfied: bool = False,
    progress: bool = True,
    loop: bool = False,
) -> str:
    return json.dumps(
        {
            "is_request_satisfied": {"reason": "r", "answer": satisfied},
            "is_in_loop": {"reason": "r", "answer": loop},
            "is_progress_being_made": {"reason": "r", "answer": progress},
            "next_speaker": {"reason": f"{speaker} knows", "answer": speaker},
            "instruction_or_question": {"reason": "r", "answer": instruction},
        }
    )


def done() -> str:
    return ledger("writer", "", satisfied=True)


def team(orchestrator: ScriptedModel, **kwargs: object) -> MagenticOneTeam:
    return MagenticOneTeam(
        "m1",
        [
            AssistantAgent(
                "researcher", ScriptedModel(["found: 42"] * 5), description="Looks things up."
            ),
            AssistantAgent("writer", ScriptedModel(["draft"] * 5), description="Writes text."),
        ],
        model=orchestrator,
        **kwargs,  # type: ignore[arg-type]
    )


def said(recorder_events: list[object], agent: str) -> list[str]:
    return [
        e.text
        for e in recorder_events
        if isinstance(e, TextDelta | ReasoningDelta) and e.agent == agent
    ]


async def test_plan_progress_and_final_answer() -> None:
    orchestrator = ScriptedModel(
        [
            "FACTS: none given",
            "PLAN: research, then write",
            ledger("researcher", "Find the number."),
            ledger("writer", "Write it up."),
            done(),
            "The answer is 42.",
        ]
    )
    m1 = team(orchestrator)
    result, recorder = await run_team(m1, "What is the answer?")
    assert result.status == "completed"
    assert result.stop_reason == "the request is satisfied"
    picked = [(e.agent, e.reason) for e in recorder.events if isinstance(e, SpeakerSelected)]
    assert picked == [("researcher", "researcher knows"), ("writer", "writer knows")]
    sources = [m.source for m in result.state.transcript]
    orch = "MagenticOneOrchestrator"
    assert sources == ["user", orch, orch, "researcher", orch, "writer", orch]
    # The task ledger carries the task, the team, the facts and the plan.
    task_ledger = result.state.transcript[1].content
    assert isinstance(task_ledger, str)
    for part in ("What is the answer?", "researcher: Looks things up.", "FACTS", "PLAN"):
        assert part in task_ledger
    # The instruction reaches the agent; the final answer is the only answer text.
    researcher = m1.by_name["researcher"]
    assert isinstance(researcher, AssistantAgent)
    seen = researcher.model.requests[0].messages  # type: ignore[attr-defined]
    assert seen[-1].content == "Find the number."
    assert said(recorder.events, orch)[-1] == "The answer is 42."
    answer = [e.text for e in recorder.events if isinstance(e, TextDelta) and e.agent == orch]
    assert answer == ["The answer is 42."]
    # Every orchestrator call counts in the run's usage.
    assert (
        len([e for e in recorder.events if isinstance(e, UsageReported) and e.agent == orch]) == 6
    )
    assert orchestrator.remaining == 0


async def test_stalls_lead_to_a_new_plan_and_the_agents_start_over() -> None:
    orchestrator = ScriptedModel(
        [
            "facts v1",
            "plan v1",
            ledger("researcher", "Try A.", progress=False),
            ledger("researcher", "Try A again.", loop=True),
            # Second stall in a row with max_stalls=2: re-plan.
            "facts v2",
            "plan v2: ask the writer",
            ledger("writer", "Write from what we know."),
            done(),
            "Final.",
        ]
    )
    m1 = team(orchestrator, max_stalls=2)
    result, recorder = await run_team(m1, "Solve it")
    assert result.stop_reason == "the request is satisfied"
    ledgers = [t for t in said(recorder.events, "MagenticOneOrchestrator") if "plan v" in t]
    assert len(ledgers) == 2 and "plan v2" in ledgers[1] and "facts v2" in ledgers[1]
    # The re-plan was asked with the old facts and the conversation so far.
    replan = orchestrator.requests[4].messages
    assert "facts v1" in str(replan[-1].content)
    assert any("found: 42" in str(m.content) for m in replan)
    # After the re-plan the writer sees the new ledger, not the stalled attempts.
    writer = m1.by_name["writer"]
    view = [str(m.content) for m in writer.model.requests[0].messages]  # type: ignore[attr-defined]
    assert not any("Try A" in text for text in view)
    assert any("plan v2" in text for text in view)


async def test_malformed_ledger_is_retried_then_the_run_stops_with_the_reason() -> None:
    orchestrator = ScriptedModel(
        ["facts", "plan", "not json", '{"is_request_satisfied": true}', "```json\n{oops\n```"]
    )
    result, recorder = await run_team(team(orchestrator, max_ledger_retries=3), "go")
    assert result.status == "completed"
    assert result.stop_reason.startswith(
        "the orchestrator gave no valid progress ledger in 3 attempts"
    )
    assert "no JSON object found" in result.stop_reason
    # Each retry told the model what was wrong.
    assert "must be an object" in str(orchestrator.requests[4].messages[-1].content)
    assert not [e for e in recorder.events if isinstance(e, SpeakerSelected)]


async def test_a_fenced_ledger_and_an_unknown_speaker_retry() -> None:
    orchestrator = ScriptedModel(
        [
            "facts",
            "plan",
            ledger("nobody", "hi"),
            "Here you go:\n```json\n" + done() + "\n```",
            "Done.",
        ]
    )
    result, _ = await run_team(team(orchestrator), "go")
    assert result.stop_reason == "the request is satisfied"
    assert "next_speaker 'nobody'" in str(orchestrator.requests[3].messages[-1].content)


async def test_max_rounds_ends_with_a_final_answer() -> None:
    orchestrator = ScriptedModel(
        ["facts", "plan", ledger("writer", "w1"), ledger("writer", "w2"), "Best effort."]
    )
    result, recorder = await run_team(team(orchestrator, max_turns=2), "go")
    assert result.stop_reason == "maximum rounds 2 reached"
    assert said(recorder.events, "MagenticOneOrchestrator")[-1] == "Best effort."


async def test_a_new_message_is_a_new_task_and_a_human_answer_continues_it() -> None:
    orchestrator = ScriptedModel(
        [
            "facts",
            "plan",
            ledger("human", "Which colour?"),
            # The human's answer continues the same task: no new plan.
            done(),
            "Blue it is.",
            # A new message in the conversation is a new task: a new plan.
            "facts 2",
            "plan 2",
            done(),
            "Second answer.",
        ]
    )
    m1 = MagenticOneTeam(
        "m1",
        [AssistantAgent("writer", ScriptedModel(["x"])), UserProxyAgent("human")],
        model=orchestrator,
    )
    first, _ = await run_team(m1, "Paint it")
    assert first.status == "requires_input"
    second = await m1.run(first.state, [UserMessage(content="blue")], _ignore)
    assert second.stop_reason == "the request is satisfied"
    third = await m1.run(second.state, [UserMessage(content="Now a poem")], _ignore)
    assert third.stop_reason == "the request is satisfied"
    assert "Now a poem" in str(orchestrator.requests[5].messages[0].content)
    assert orchestrator.remaining == 0


async def test_an_agent_may_not_take_the_orchestrators_name() -> None:
    with pytest.raises(ConfigError, match="may not be named"):
        MagenticOneTeam(
            "m1",
            [AssistantAgent("MagenticOneOrchestrator", ScriptedModel([]))],
            model=ScriptedModel([]),
        )


async def _ignore(event: object) -> None:
    return None


async def test_over_the_api_the_answer_is_the_final_answer(chat: type[Chat]) -> None:
    orchestrator = ScriptedModel(
        ["facts", "plan", ledger("writer", "Write it."), done(), "The final answer."]
    )
    content, events = await chat(team(orchestrator)).say("m1", "go")
    assert content == "The final answer."
    assert "writer" in names(events, SpeakerSelected)


async def test_a_termination_condition_still_applies() -> None:
    orchestrator = ScriptedModel(["facts", "plan", ledger("writer", "Write it.")])
    result, _ = await run_team(team(orchestrator, termination=MaxMessages(2)), "go")
    assert result.stop_reason == "maximum number of messages 2 reached"
