"""The same team in AutoGen AgentChat 0.7 and, imported, in troupe, on the same replies.

Each test builds a team kind in AutoGen with ``ReplayChatCompletionClient``s,
dumps it, imports it (``import_autogen``), loads the YAML with troupe's config
loader, and runs both with the same scripted replies. It compares the speaker
order, the tool calls, the condition that stopped the run, and the transcript.
Where troupe differs on purpose, the test says so (see docs/teams.md,
"Differences from AutoGen AgentChat").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from autogen_agentchat.agents import AssistantAgent as AGAssistant
from autogen_agentchat.agents import UserProxyAgent as AGUserProxy
from autogen_agentchat.conditions import (
    FunctionCallTermination,
    HandoffTermination,
    MaxMessageTermination,
    TextMentionTermination,
)
from autogen_agentchat.messages import StructuredMessage
from autogen_agentchat.teams import (
    DiGraphBuilder,
    GraphFlow,
    RoundRobinGroupChat,
    SelectorGroupChat,
    Swarm,
)
from pydantic import BaseModel

from tests.interop.autogen_support import (
    give_models,
    import_team,
    replay,
    run_autogen,
    run_both,
    run_troupe,
)
from tests.teams.conftest import Chat, run_team
from troupe.events import AgentStarted, InputRequested, RunEnded
from troupe.messages import text_of
from troupe.server import InMemoryConversationStore, create_app

pytestmark = pytest.mark.anyio

TASK = "Write a haiku about autumn."


class Verdict(BaseModel):
    approved: bool
    reason: str


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def test_round_robin_speaks_in_the_same_order_and_stops_on_the_same_mention(
    tmp_path: Path,
) -> None:
    scripts = {
        "writer": ["Leaves fall, draft one.", "Leaves fall softly, draft two."],
        "critic": ["Too plain, revise.", "Good. APPROVE"],
    }

    def build() -> RoundRobinGroupChat:
        return RoundRobinGroupChat(
            [
                AGAssistant("writer", replay(scripts["writer"]), system_message="You write."),
                AGAssistant("critic", replay(scripts["critic"]), system_message="You review."),
            ],
            termination_condition=TextMentionTermination("APPROVE") | MaxMessageTermination(10),
        )

    theirs, ours, _ = await run_both(build, scripts, TASK, tmp_path)

    assert ours.speakers == theirs.speakers == ["writer", "critic", "writer", "critic"]
    assert ours.transcript == theirs.transcript
    # Same condition; the wording differs on purpose (troupe says who mentioned it).
    assert theirs.stop_reason == "Text 'APPROVE' mentioned"
    assert ours.stop_reason == "text 'APPROVE' mentioned by critic"


async def test_tool_calls_and_their_summary_match(tmp_path: Path) -> None:
    scripts = {
        "calc": [[("add", '{"a": 2, "b": 3}')], "The sum is 5."],
        "checker": ["Checked: 5 is right. DONE"],
    }

    def build() -> RoundRobinGroupChat:
        calc = AGAssistant("calc", replay(scripts["calc"]), tools=[add])
        checker = AGAssistant("checker", replay(scripts["checker"]))
        return RoundRobinGroupChat(
            [calc, checker], termination_condition=TextMentionTermination("DONE")
        )

    theirs, ours, result = await run_both(build, scripts, "What is 2 + 3?", tmp_path)
    assert result.config["teams"]["imported"]["agents"][0]["tools"] == [
        f"{tmp_path.name}_tools:add"
    ]

    assert ours.tool_calls == theirs.tool_calls == [("add", '{"a": 2, "b": 3}')]
    assert ours.speakers == theirs.speakers == ["calc", "checker"]
    # Without reflection, both answer with the tool's result ("{result}" summary).
    assert (
        ours.transcript
        == theirs.transcript
        == [("calc", "5"), ("checker", "Checked: 5 is right. DONE")]
    )


async def test_reflection_on_tool_use_and_function_call_termination(tmp_path: Path) -> None:
    scripts = {"calc": [[("add", '{"a": 1, "b": 1}')], "One and one make 2."]}

    def build() -> RoundRobinGroupChat:
        calc = AGAssistant("calc", replay(scripts["calc"]), tools=[add], reflect_on_tool_use=True)
        return RoundRobinGroupChat(
            [calc], termination_condition=FunctionCallTermination("add") | MaxMessageTermination(4)
        )

    theirs, ours, _ = await run_both(build, scripts, "1 + 1?", tmp_path)

    assert ours.tool_calls == theirs.tool_calls
    assert ours.transcript == theirs.transcript == [("calc", "One and one make 2.")]
    assert theirs.stop_reason == "Function 'add' was executed."
    assert ours.stop_reason == "function add was called by calc"


async def test_selector_picks_the_same_speakers_from_the_same_selector_replies(
    tmp_path: Path,
) -> None:
    scripts = {
        "selector": ["planner", "coder", "reviewer"],
        "planner": ["Plan: write a function."],
        "coder": ["def f(): return 1"],
        "reviewer": ["Looks good. TERMINATE"],
    }

    def build() -> SelectorGroupChat:
        agents = [
            AGAssistant(name, replay(scripts[name]), description=f"The {name}.")
            for name in ("planner", "coder", "reviewer")
        ]
        return SelectorGroupChat(
            agents,
            model_client=replay(scripts["selector"]),
            termination_condition=TextMentionTermination("TERMINATE"),
            selector_prompt="Roles: {roles}. Pick from {participants}.\n{history}",
        )

    theirs, ours, result = await run_both(build, scripts, "Write f.", tmp_path)
    selector = result.config["teams"]["imported"]["selector"]
    assert selector["prompt"] == "Roles: {roles}. Pick from {participants}.\n{history}"
    assert selector["allow_repeated_speaker"] is False

    assert ours.speakers == theirs.speakers == ["planner", "coder", "reviewer"]
    assert ours.transcript == theirs.transcript
    assert theirs.stop_reason == "Text 'TERMINATE' mentioned"
    assert ours.stop_reason == "text 'TERMINATE' mentioned by reviewer"


async def test_swarm_handoffs_and_a_handoff_to_the_user(tmp_path: Path) -> None:
    scripts = {
        "triage": [[("transfer_to_billing", "{}")]],
        "billing": ["Which invoice?", [("transfer_to_user", "{}")]],
    }

    def build() -> Swarm:
        triage = AGAssistant("triage", replay(scripts["triage"]), handoffs=["billing"])
        billing = AGAssistant("billing", replay(scripts["billing"]), handoffs=["triage", "user"])
        return Swarm(
            [triage, billing],
            termination_condition=HandoffTermination("user") | MaxMessageTermination(10),
        )

    theirs, ours, _ = await run_both(build, scripts, "I was charged twice.", tmp_path)

    # AutoGen: billing has the floor after its text answer and speaks again in the
    # same run, handing off to the user. troupe (on purpose): a swarm speaker that
    # answers without handing off ends the run; the user's next message goes to it.
    assert theirs.speakers == ["triage", "billing", "billing"]
    assert ours.speakers == ["triage", "billing"]
    assert ours.tool_calls == theirs.tool_calls[:1] == [("transfer_to_billing", "{}")]
    assert ours.transcript == theirs.transcript[:2]
    assert theirs.transcript[0] == (
        "triage",
        "Transferred to billing, adopting the role of billing immediately.",
    )
    assert ours.stop_reason == "swarm team finished"
    assert theirs.stop_reason == "Handoff to user from billing detected."


async def test_graph_fans_out_joins_and_takes_the_conditional_edge(tmp_path: Path) -> None:
    scripts = {
        "outliner": ["Outline: intro, body."],
        "intro": ["An intro."],
        "body": ["A body."],
        "editor": ["Edited. PUBLISH"],
        "publisher": ["Published."],
        "reviser": ["Never runs."],
    }

    def build() -> GraphFlow:
        agents = {name: AGAssistant(name, replay(script)) for name, script in scripts.items()}
        builder = DiGraphBuilder()
        for agent in agents.values():
            builder.add_node(agent)
        builder.add_edge(agents["outliner"], agents["intro"])
        builder.add_edge(agents["outliner"], agents["body"])
        builder.add_edge(agents["intro"], agents["editor"])
        builder.add_edge(agents["body"], agents["editor"])
        builder.add_edge(agents["editor"], agents["publisher"], condition="PUBLISH")
        builder.add_edge(agents["editor"], agents["reviser"], condition="REVISE")
        return GraphFlow(builder.get_participants(), graph=builder.build())

    theirs, ours, result = await run_both(build, scripts, "Write a post.", tmp_path)
    edges = result.config["teams"]["imported"]["edges"]
    assert {"from": "editor", "to": "publisher", "when": "PUBLISH"} in edges

    # intro and body run concurrently in both: compare them as a set.
    assert theirs.speakers[0] == ours.speakers[0] == "outliner"
    assert set(theirs.speakers[1:3]) == set(ours.speakers[1:3]) == {"intro", "body"}
    assert theirs.speakers[3:] == ours.speakers[3:] == ["editor", "publisher"]
    assert sorted(ours.transcript) == sorted(theirs.transcript)
    assert theirs.stop_reason == "Digraph execution is complete"
    assert ours.stop_reason == "graph team finished"


async def test_a_user_proxy_pauses_the_run_where_autogen_blocks_on_input(tmp_path: Path) -> None:
    scripts = {"helper": ["Shall I go on?", "Done, as you said. BYE"]}

    def build(input_func: Any = None) -> RoundRobinGroupChat:
        helper = AGAssistant("helper", replay(scripts["helper"]))
        human = AGUserProxy("human", input_func=input_func)
        return RoundRobinGroupChat(
            [helper, human], termination_condition=TextMentionTermination("BYE")
        )

    theirs = await run_autogen(build(lambda prompt: "Yes, go on."), "Help me.")
    _, teams = import_team(build(), tmp_path)
    team = teams["imported"]
    give_models(team, scripts)
    result, recorder = await run_team(team, "Help me.")
    # AutoGen calls input_func and waits inside the run. troupe (on purpose) ends the run
    # with a question to the API's client; its next message is the human's, and the run
    # goes on from there (no server task waits for a person).
    assert [e.agent for e in recorder.events if isinstance(e, InputRequested)] == ["human"]
    assert result.stop_reason == "input requested by human"
    result, recorder = await run_team(team, "Yes, go on.", result.state)
    ours = [(m.source, text_of(m)) for m in result.state.transcript[1:]]
    assert (
        ours
        == theirs.transcript
        == [
            ("helper", "Shall I go on?"),
            ("human", "Yes, go on."),
            ("helper", "Done, as you said. BYE"),
        ]
    )


async def test_a_selector_with_one_candidate_left_asks_no_model(tmp_path: Path) -> None:
    scripts = {
        "selector": ["a"],
        "a": ["A speaks."],
        "b": ["B speaks. END"],
    }

    def build() -> SelectorGroupChat:
        return SelectorGroupChat(
            [AGAssistant(n, replay(scripts[n]), description=n) for n in ("a", "b")],
            model_client=replay(scripts["selector"]),
            termination_condition=TextMentionTermination("END"),
        )

    theirs, ours, _ = await run_both(build, scripts, "Go.", tmp_path)
    # After a, b is the only other candidate (no repeated speaker): neither asks the model.
    assert ours.speakers == theirs.speakers == ["a", "b"]
    assert ours.transcript == theirs.transcript


@pytest.mark.filterwarnings(
    "ignore:.*(LocalCommandLineCodeExecutor|approval function).*:UserWarning"
)
async def test_a_code_executor_runs_the_code_block_it_is_given(tmp_path: Path) -> None:
    from autogen_agentchat.agents import CodeExecutorAgent as AGCodeExecutor
    from autogen_ext.code_executors.local import LocalCommandLineCodeExecutor

    scripts = {"coder": ["```python\nprint(6 * 7)\n```"]}

    def build() -> RoundRobinGroupChat:
        coder = AGAssistant("coder", replay(scripts["coder"]))
        executor = LocalCommandLineCodeExecutor(work_dir=tmp_path / "work")
        runner = AGCodeExecutor("runner", code_executor=executor)
        return RoundRobinGroupChat([coder, runner], termination_condition=MaxMessageTermination(3))

    theirs, ours, _ = await run_both(build, scripts, "Compute 6 * 7.", tmp_path)
    assert ours.speakers == theirs.speakers == ["coder", "runner"]
    assert ours.transcript[0] == theirs.transcript[0]
    # The output is the same; troupe (on purpose) says the exit code first, so that the
    # next agent tells a failed run from one that printed nothing.
    assert theirs.transcript[1] == ("runner", "42\n")
    assert ours.transcript[1] == ("runner", "exit code 0\n42\n")


async def test_a_nested_team_speaks_inside_the_outer_one(tmp_path: Path) -> None:
    scripts = {"a": ["A one."], "b": ["B one."], "c": ["C closes. END"]}

    def build() -> RoundRobinGroupChat:
        pair = RoundRobinGroupChat(
            [AGAssistant("a", replay(scripts["a"])), AGAssistant("b", replay(scripts["b"]))],
            name="pair",
            termination_condition=MaxMessageTermination(3),
        )
        return RoundRobinGroupChat(
            [pair, AGAssistant("c", replay(scripts["c"]))],
            termination_condition=TextMentionTermination("END"),
        )

    theirs = await run_autogen(build(), "Go.")
    result, teams = import_team(build(), tmp_path)
    assert result.config["teams"]["pair"]["termination"] == {"max_messages": 3}
    team = teams["imported"]
    give_models(teams["pair"], scripts)
    give_models(team, scripts)
    ours = await run_troupe(team, "Go.")
    assert ours.speakers == theirs.speakers == ["a", "b", "c"]
    assert ours.transcript == theirs.transcript
    assert ours.stop_reason == "text 'END' mentioned by c"


async def test_structured_output_gives_the_same_object(tmp_path: Path) -> None:
    scripts = {"judge": ['{"approved": true, "reason": "fine"}']}

    def build() -> RoundRobinGroupChat:
        judge = AGAssistant("judge", replay(scripts["judge"]), output_content_type=Verdict)
        return RoundRobinGroupChat(
            [judge],
            termination_condition=MaxMessageTermination(2),
            custom_message_types=[StructuredMessage[Verdict]],
        )

    theirs, ours, _ = await run_both(build, scripts, "Judge.", tmp_path)
    # AgentChat re-serializes its pydantic object; troupe keeps the model's JSON text.
    assert [json.loads(text) for _, text in ours.transcript] == [
        json.loads(text) for _, text in theirs.transcript
    ]
    assert theirs.stop_reason == "Maximum number of messages 2 reached, current message count: 2"
    assert ours.stop_reason == "maximum number of messages 2 reached"


async def test_a_swarm_that_hands_off_to_the_user_stops_alike(tmp_path: Path) -> None:
    scripts = {
        "triage": [[("transfer_to_billing", "{}")]],
        "billing": [[("transfer_to_user", "{}")]],
    }

    def build() -> Swarm:
        triage = AGAssistant("triage", replay(scripts["triage"]), handoffs=["billing"])
        billing = AGAssistant("billing", replay(scripts["billing"]), handoffs=["user"])
        return Swarm([triage, billing], termination_condition=HandoffTermination("user"))

    theirs, ours, _ = await run_both(build, scripts, "Refund me.", tmp_path)
    assert ours.speakers == theirs.speakers == ["triage", "billing"]
    assert ours.tool_calls == [("transfer_to_billing", "{}"), ("transfer_to_user", "{}")]
    assert ours.transcript == theirs.transcript
    assert theirs.stop_reason == "Handoff to user from billing detected."
    # troupe (on purpose): a handoff to the user always pauses the run for the user's
    # answer, which then goes to billing, as AgentChat's resume with a HandoffMessage does.
    assert ours.stop_reason == "input requested by billing"


async def test_an_imported_file_is_served(tmp_path: Path) -> None:
    """Import one file, serve it: the team answers through the OpenAI API."""

    def build() -> RoundRobinGroupChat:
        calc = AGAssistant("calc", replay([]), tools=[add], system_message="Add numbers.")
        critic = AGAssistant("critic", replay([]), system_message="Check the sum.")
        return RoundRobinGroupChat([calc, critic], termination_condition=MaxMessageTermination(3))

    import_team(build(), tmp_path)  # writes teams.yaml and its tools module
    app = create_app(tmp_path / "teams.yaml", store=InMemoryConversationStore())
    _, events = await Chat(app=app).say("imported", "What is 2 + 3?")
    assert [e.agent for e in events if isinstance(e, AgentStarted)] == ["calc", "critic"]
    assert isinstance(events[-1], RunEnded)
    assert events[-1].stop_reason == "maximum number of messages 3 reached"
