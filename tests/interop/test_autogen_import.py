"""``import_autogen`` and ``troupe import autogen``: every AgentChat component, and what is left out.

The components are built with AutoGen itself and dumped, as a user's file is;
every imported config is loaded with troupe's config loader (``troupe check``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from autogen_agentchat.agents import (
    AssistantAgent,
    CodeExecutorAgent,
    MessageFilterAgent,
    MessageFilterConfig,
    PerSourceFilter,
    SocietyOfMindAgent,
    UserProxyAgent,
)
from autogen_agentchat.conditions import (
    ExternalTermination,
    FunctionCallTermination,
    HandoffTermination,
    MaxMessageTermination,
    SourceMatchTermination,
    StopMessageTermination,
    TextMentionTermination,
    TextMessageTermination,
    TimeoutTermination,
    TokenUsageTermination,
)
from autogen_agentchat.teams import (
    DiGraphBuilder,
    GraphFlow,
    MagenticOneGroupChat,
    RoundRobinGroupChat,
)
from autogen_core.memory import ListMemory
from autogen_core.model_context import (
    BufferedChatCompletionContext,
    HeadAndTailChatCompletionContext,
    TokenLimitedChatCompletionContext,
)
from autogen_ext.models.anthropic import AnthropicChatCompletionClient
from autogen_ext.models.ollama import OllamaChatCompletionClient
from autogen_ext.models.openai import OpenAIChatCompletionClient
from pydantic import BaseModel

from tests.interop.autogen_support import dumped, import_team, replay
from troupe.cli import main
from troupe.interop import import_autogen
from troupe.teams import MagenticOneTeam
from troupe.teams import SocietyOfMindAgent as TroupeSocietyOfMind

SECRET = "sk-proj-abcdefghijklmnop1234567890"


def multiply(x: float, y: float) -> float:
    """Multiply two numbers."""
    return x * y


class Verdict(BaseModel):
    approved: bool
    reason: str


def paths(result: Any) -> dict[str, str]:
    return {item.path: item.what for item in result.not_carried}


def test_every_termination_condition_with_or_and_and(tmp_path: Path) -> None:
    """Every serializable AgentChat condition (FunctionalTermination is not serializable)."""
    condition = (
        (MaxMessageTermination(9) | TextMentionTermination("BYE") | StopMessageTermination())
        | (TokenUsageTermination(max_total_token=500) & TimeoutTermination(60))
        | HandoffTermination("user")
        | ExternalTermination()
        | SourceMatchTermination(["a"])
        | TextMessageTermination("a")
        | FunctionCallTermination("multiply")
    )
    team = RoundRobinGroupChat([AssistantAgent("a", replay([]))], termination_condition=condition)
    result, teams = import_team(team, tmp_path)
    # AutoGen nests every ``|``; conditions joined by any are one mapping in troupe.
    assert result.config["teams"]["imported"]["termination"] == {
        "max_messages": 9,
        "text_mention": "BYE",
        "stop_message": True,
        "all": [{"token_usage": {"total": 500}}, {"timeout": 60.0}],
        "handoff": "user",
        "external": True,
        "source_match": ["a"],
        "text_message": "a",
        "function_call": "multiply",
    }
    assert "imported" in teams
    assert result.not_carried == ()
    same_key = MaxMessageTermination(3) | (TextMentionTermination("A") | MaxMessageTermination(5))
    both = RoundRobinGroupChat([AssistantAgent("a", replay([]))], termination_condition=same_key)
    assert import_autogen(dumped(both)).config["teams"]["RoundRobinGroupChat"]["termination"] == {
        "any": [{"max_messages": 3}, {"text_mention": "A", "max_messages": 5}]
    }


def test_model_clients_become_models_and_keys_are_never_copied(tmp_path: Path) -> None:
    clients = {
        "o": OpenAIChatCompletionClient(model="gpt-4o", api_key=SECRET, temperature=0.3, seed=7),
        "c": AnthropicChatCompletionClient(model="claude-sonnet-4-0", api_key=SECRET),
        "l": OllamaChatCompletionClient(model="llama3.2", host="http://gpu:11434"),
    }
    team = RoundRobinGroupChat([AssistantAgent(n, c) for n, c in clients.items()])
    raw = dumped(team)
    # What an AutoGen Studio export with a plain key looks like: the key is in the file.
    raw["config"]["participants"][0]["config"]["model_client"]["config"]["api_key"] = SECRET
    azure = {
        "provider": "autogen_ext.models.openai.AzureOpenAIChatCompletionClient",
        "component_type": "model",
        "config": {
            "model": "gpt-4o",
            "azure_endpoint": "https://acme.openai.azure.com",
            "azure_deployment": "prod-4o",
            "api_version": "2024-06-01",
            "api_key": SECRET,
        },
    }
    raw["config"]["participants"].append(
        {
            **raw["config"]["participants"][0],
            "config": {
                **raw["config"]["participants"][0]["config"],
                "name": "z",
                "model_client": azure,
            },
        }
    )
    result = import_autogen(raw, name="t")
    text = result.yaml()
    assert SECRET not in text
    models = result.config["models"]
    assert models["gpt-4o"] == {
        "provider": "openai",
        "model": "gpt-4o",
        "temperature": 0.3,
        "seed": 7,
        "api_key": "${OPENAI_API_KEY}",
    }
    assert models["claude-sonnet-4-0"]["provider"] == "anthropic"
    assert models["claude-sonnet-4-0"]["api_key"] == "${ANTHROPIC_API_KEY}"
    assert models["llama3.2"] == {
        "provider": "ollama",
        "model": "llama3.2",
        "base_url": "http://gpu:11434",
    }
    assert models["gpt-4o-2"] == {
        "provider": "openai",
        "model": "gpt-4o",
        "base_url": "https://acme.openai.azure.com",
        "api_version": "2024-06-01",
        "azure_deployment": "prod-4o",
        "api_key": "${AZURE_OPENAI_API_KEY}",
    }
    assert any("OPENAI_API_KEY" in note for note in result.notes)
    (tmp_path / "t.yaml").write_text(text)
    from troupe.config import read_teams

    env = {"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "AZURE_OPENAI_API_KEY": "k"}
    _, teams = read_teams(text, env=env)
    assert list(teams) == ["t"]


def test_assistant_settings_tools_context_and_structured_output(tmp_path: Path) -> None:
    agent = AssistantAgent(
        "judge",
        replay([]),
        tools=[multiply],
        handoffs=["other"],
        system_message="Judge fairly.",
        model_context=BufferedChatCompletionContext(buffer_size=6),
        output_content_type=Verdict,
        max_tool_iterations=3,
        tool_call_summary_format="{tool_name}: {result}",
    )
    other = AssistantAgent(
        "other",
        replay([]),
        system_message=None,
        model_context=TokenLimitedChatCompletionContext(replay([]), token_limit=2000),
    )
    result, teams = import_team(RoundRobinGroupChat([agent, other]), tmp_path)
    judge, second = result.config["teams"]["imported"]["agents"]
    assert judge["system_message"] == "Judge fairly."
    assert judge["tools"] == [f"{tmp_path.name}_tools:multiply"]
    assert judge["handoffs"][0]["target"] == "other"
    assert judge["context"] == {"last_messages": 6}
    assert judge["output_schema"]["required"] == ["approved", "reason"]
    assert judge["reflect_on_tool_use"] is True  # AgentChat's default with structured output
    assert judge["max_tool_iterations"] == 3
    assert judge["tool_call_summary_format"] == "{tool_name}: {result}"
    assert second["system_message"] is None
    assert second["reflect_on_tool_use"] is False
    assert second["context"] == {"token_budget": 2000}
    assert "def multiply(x: float, y: float) -> float:" in (result.tools_source or "")
    tool = teams["imported"].by_name["judge"].tools["multiply"]  # type: ignore[attr-defined]
    assert tool.spec.description.startswith("Multiply two numbers")


def test_user_proxy_code_executor_and_what_troupe_has_no_counterpart_for(tmp_path: Path) -> None:
    from autogen_ext.code_executors.local import LocalCommandLineCodeExecutor

    with pytest.warns(UserWarning, match="LocalCommandLineCodeExecutor|approval"):
        coder = CodeExecutorAgent(
            "runner", code_executor=LocalCommandLineCodeExecutor(work_dir=tmp_path / "w")
        )
    memory_agent = AssistantAgent(
        "remembers",
        replay([]),
        memory=[ListMemory()],
        model_context=HeadAndTailChatCompletionContext(head_size=2, tail_size=5),
    )
    filtered = MessageFilterAgent(
        "filtered",
        wrapped_agent=AssistantAgent("inner", replay([])),
        filter=MessageFilterConfig(
            per_source=[PerSourceFilter(source="user", position="last", count=1)]
        ),
    )
    team = RoundRobinGroupChat([UserProxyAgent("human"), coder, memory_agent, filtered])
    result, teams = import_team(team, tmp_path)
    human, runner, remembers, wrapped = result.config["teams"]["imported"]["agents"]
    assert human == {"kind": "user_proxy", "name": "human", "description": "A human user"}
    assert runner["kind"] == "code_executor"
    assert result.config["executors"][runner["executor"]] == {
        "kind": "local",
        "enabled": True,
        "timeout": 60,
    }
    assert remembers["context"] == {"last_messages": 5}
    assert wrapped["name"] == "filtered"
    assert wrapped["message_filter"] == {
        "per_source": [{"source": "user", "position": "last", "count": 1}]
    }
    where = "$.config.participants"
    assert paths(result) == {
        f"{where}[1].config.code_executor.config.work_dir": "work_dir",
        f"{where}[2].config.memory[0]": "memory ListMemory",
        f"{where}[2].config.model_context.config.head_size": "the first 2 messages kept (head-and-tail context)",
    }
    assert "# Not carried over:" in result.yaml()
    assert list(teams) == ["imported"]


def test_society_of_mind_and_a_nested_team_become_teams_of_the_config(tmp_path: Path) -> None:
    inner = RoundRobinGroupChat(
        [AssistantAgent("drafter", replay([]))],
        name="drafting",
        termination_condition=MaxMessageTermination(3),
    )
    mind = SocietyOfMindAgent("mind", team=inner, model_client=replay([]))
    nested = RoundRobinGroupChat([AssistantAgent("helper", replay([]))], name="helpers")
    outer = RoundRobinGroupChat([mind, nested, AssistantAgent("lead", replay([]))])
    result, teams = import_team(outer, tmp_path)
    agents = result.config["teams"]["imported"]["agents"]
    assert agents[0]["kind"] == "society_of_mind" and agents[1]["kind"] == "team"
    assert result.config["teams"][agents[0]["team"]]["termination"] == {"max_messages": 3}
    assert agents[1] == {"kind": "team", "name": "helpers", "team": "helpers"}
    assert set(teams) == {"imported", agents[0]["team"], "helpers"}
    assert result.not_carried == ()
    mind_agent = teams["imported"].by_name["mind"]
    assert isinstance(mind_agent, TroupeSocietyOfMind)
    assert mind_agent.team is teams[agents[0]["team"]]


def test_magentic_one_keeps_its_kind(tmp_path: Path) -> None:
    team = MagenticOneGroupChat(
        [AssistantAgent("web", replay([])), AssistantAgent("coder", replay([]))],
        model_client=replay([]),
        max_stalls=2,
    )
    result, teams = import_team(team, tmp_path)
    spec = result.config["teams"]["imported"]
    assert spec["kind"] == "magentic_one" and spec["max_turns"] == 20
    assert spec["max_stalls"] == 2 and "model" in spec
    assert result.not_carried == ()
    assert isinstance(teams["imported"], MagenticOneTeam)
    assert teams["imported"].max_stalls == 2


def test_graph_activation_and_groups(tmp_path: Path) -> None:
    a, b, c, d, e = (AssistantAgent(n, replay([])) for n in "abcde")
    builder = DiGraphBuilder()
    for agent in (a, b, c, d, e):
        builder.add_node(agent)
    builder.add_edge(a, b).add_edge(a, c)
    builder.add_edge(b, d, activation_condition="any").add_edge(c, d, activation_condition="any")
    builder.add_edge(d, a, condition="AGAIN", activation_group="loop")
    builder.add_edge(d, e, condition="DONE")
    builder.set_entry_point(a)
    result, teams = import_team(
        GraphFlow(builder.get_participants(), graph=builder.build()), tmp_path
    )
    spec = result.config["teams"]["imported"]
    assert spec["activation"] == {"d": "any"}
    assert spec["entry"] == ["a"]
    assert {"from": "d", "to": "a", "when": "AGAIN"} in spec["edges"]
    assert paths(result) == {
        "$.config.graph.nodes.d.edges[0].activation_group": "activation group 'loop'"
    }
    assert "imported" in teams


def test_an_agentchat_04_file_and_a_studio_gallery(tmp_path: Path) -> None:
    # AgentChat 0.4 wrote tools directly under the agent (no workbench).
    agent_04 = {
        "provider": "autogen_agentchat.agents.AssistantAgent",
        "component_type": "agent",
        "version": 1,
        "config": {
            "name": "helper",
            "model_client": {
                "provider": "OpenAIChatCompletionClient",
                "component_type": "model",
                "config": {"model": "gpt-4o-mini"},
            },
            "tools": [
                {
                    "provider": "autogen_core.tools.FunctionTool",
                    "component_type": "tool",
                    "config": {
                        "source_code": "def shout(text: str) -> str:\n    return text.upper()\n",
                        "name": "shout",
                        "description": "Shout the text.",
                        "global_imports": [{"module": "math", "imports": ["pi"]}],
                    },
                }
            ],
            "handoffs": [],
            "description": "Helps.",
            "system_message": "Help.",
            "reflect_on_tool_use": False,
            "tool_call_summary_format": "{result}",
        },
    }
    team = {
        "provider": "autogen_agentchat.teams.RoundRobinGroupChat",
        "component_type": "team",
        "config": {"participants": [agent_04], "name": "helpers team"},
    }
    gallery = {"name": "My gallery", "components": {"teams": [team], "models": []}}
    result = import_autogen(gallery, tools_module="gallery_tools")
    assert result.teams == ("helpers_team",)
    assert result.config["teams"]["helpers_team"]["agents"][0]["tools"] == [
        "gallery_tools:shout_tool"
    ]
    source = result.tools_source or ""
    assert "from math import pi" in source
    assert "shout_tool = FunctionTool(shout, name='shout', description='Shout the text.')" in source
    (tmp_path / "gallery_tools.py").write_text(source)
    from troupe.config import read_teams

    _, teams = read_teams(result.yaml(), env={"OPENAI_API_KEY": "k"}, base_dir=tmp_path)
    tool = teams["helpers_team"].agents[0].tools["shout"]  # type: ignore[attr-defined]
    assert tool.spec.description == "Shout the text."


def test_the_command_writes_yaml_and_tools_that_troupe_check_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    team = RoundRobinGroupChat(
        [
            AssistantAgent(
                "calc", OpenAIChatCompletionClient(model="gpt-4o", api_key=SECRET), tools=[multiply]
            )
        ],
        termination_condition=TextMentionTermination("DONE"),
    )
    source = tmp_path / "team.json"
    source.write_text(team.dump_component().model_dump_json())
    out = tmp_path / "teams.yaml"
    assert main(["import", "autogen", str(source), "-o", str(out), "--name", "calc"]) == 0
    err = capsys.readouterr().err
    assert f"wrote {tmp_path / 'teams_tools.py'}" in err
    assert SECRET not in out.read_text()
    assert "teams_tools:multiply" in out.read_text()
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["check", str(out)]) == 0
    assert "ok, 1 team(s): calc" in capsys.readouterr().out


def test_the_command_says_what_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["import", "autogen", str(bad)]) == 1
    assert "cannot read" in capsys.readouterr().err
    agent_only = tmp_path / "agent.json"
    agent_only.write_text(json.dumps(dumped(AssistantAgent("a", replay([])))))
    assert main(["import", "autogen", str(agent_only)]) == 1
    assert "not a team" in capsys.readouterr().err


def test_text_that_troupe_would_read_as_an_environment_variable_is_noted() -> None:
    agent = AssistantAgent("a", replay([]), system_message="Greet ${USER_NAME} warmly.")
    result = import_autogen(dumped(RoundRobinGroupChat([agent])), name="t")
    assert (
        "teams.t.agents[0].system_message (in the YAML): troupe reads ${USER_NAME} "
        "as an environment variable" in result.notes
    )


def test_a_malformed_file_is_reported_not_a_crash() -> None:
    agent = {
        "provider": "autogen_agentchat.agents.AssistantAgent",
        "config": {
            "name": "a",
            "model_client": {"provider": "mypkg.MyClient", "config": {}},
            "handoffs": [42, {"target": "b"}],
            "tools": "not a list",
            "workbench": [{"provider": "autogen_ext.tools.mcp.McpWorkbench", "config": {}}],
        },
    }
    graph = {
        "provider": "autogen_agentchat.teams.GraphFlow",
        "component_type": "team",
        "config": {
            "participants": [agent, "nonsense", {"provider": "mypkg.Robot", "config": {}}],
            "graph": {"nodes": {"a": {"edges": [{"condition": "x"}, "bad"]}}},
            "termination_condition": {"provider": "mypkg.MyCondition", "config": {}},
        },
    }
    result = import_autogen(graph, name="g")
    where = "$.config.participants"
    assert paths(result) == {
        f"{where}[0].config.model_client.config": "model client MyClient",
        f"{where}[0].config.handoffs[0]": "handoff",
        f"{where}[0].config.workbench[0].config": "workbench McpWorkbench",
        f"{where}[1]": "agent",
        f"{where}[2].config": "agent Robot",
        "$.config.graph.nodes.a.edges[0]": "edge",
        "$.config.graph.nodes.a.edges[1]": "edge",
        "$.config.termination_condition.config": "termination condition MyCondition",
    }
    assert [a["name"] for a in result.config["teams"]["g"]["agents"]] == ["a"]


def test_once_troupe_has_magentic_one_and_society_of_mind_the_import_writes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The import asks troupe's config schema which kinds exist; here it says they do."""
    from troupe.interop import _autogen_agents, autogen_import

    kinds = {
        "magentic_one": frozenset({"model", "max_stalls", "final_answer_prompt", "agents"}),
        "society_of_mind": frozenset({"name", "team", "model", "instruction", "response_prompt"}),
    }
    monkeypatch.setattr(autogen_import, "spec_fields", lambda union, tag: kinds.get(tag))
    monkeypatch.setattr(_autogen_agents, "spec_fields", lambda union, tag: kinds.get(tag))
    inner = RoundRobinGroupChat([AssistantAgent("drafter", replay([]))], name="drafting")
    mind = SocietyOfMindAgent("mind", team=inner, model_client=replay([]), instruction="Sum up.")
    team = MagenticOneGroupChat(
        [mind, AssistantAgent("coder", replay([]))], model_client=replay([]), max_stalls=2
    )
    result = import_autogen(dumped(team), name="m1")
    spec = result.config["teams"]["m1"]
    assert spec["kind"] == "magentic_one"
    assert (spec["model"], spec["max_stalls"]) == ("replay", 2)
    assert spec["final_answer_prompt"].startswith("\nWe are working on the following task")
    assert spec["agents"][0] == {
        "kind": "society_of_mind",
        "name": "mind",
        "team": "mind",
        "model": "replay",
        "instruction": "Sum up.",
        "response_prompt": spec["agents"][0]["response_prompt"],
    }
    assert result.not_carried == ()
