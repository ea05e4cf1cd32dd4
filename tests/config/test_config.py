"""Config files: every error with its path, env interpolation, `troupe check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from troupe.cli import main
from troupe.config import build_teams, load_teams, read_config, read_teams
from troupe.errors import ConfigError
from troupe.examples import BUNDLED_CONFIG
from troupe.models import DemoModel

GOOD = """
models:
  local: {provider: openai, model: qwen2.5, base_url: "http://127.0.0.1:9/v1", api_key: none}
  demo: {provider: demo}
teams:
  writers:
    description: A writer and a critic take turns.
    kind: round_robin
    agents:
      - {name: writer, model: local, system_message: "Write.", tools: ["troupe.tools.builtin:calculator"]}
      - {name: critic, model: demo, system_message: "Review."}
    termination: {text_mention: APPROVE, max_messages: 8}
"""


def issues(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        read_teams(text, env=env or {})
    return [str(issue) for issue in caught.value.issues]


def test_a_good_config_builds_teams() -> None:
    teams = build_teams(read_config(GOOD, env={}))
    team = teams["writers"]
    assert [a.name for a in team.agents] == ["writer", "critic"]
    assert team.description == "A writer and a critic take turns."


def test_every_error_is_reported_with_its_path() -> None:
    text = (
        GOOD.replace("model: local, system", "model: gpt5, system")
        + """
  second:
    agents:
      - {name: a, model: demo, tools: ["nowhere.tools:search"]}
      - {name: b, model: demo, temperature: 3}
"""
    )
    found = issues(text)
    # Field errors first, then references: all of them in one run.
    assert found[0].startswith(
        "$.teams.second.agents[1].temperature: unknown field `temperature`; "
        "fields of kind assistant: name, description, message_filter, model,"
    )
    assert "$.teams.writers.agents[0].model: unknown model 'gpt5'" in found[1]
    assert found[2].startswith("$.teams.second.agents[0].tools[0]: cannot import 'nowhere.tools'")
    assert len(found) == 3


def test_field_errors_in_several_entries_are_all_reported() -> None:
    text = """
models:
  a: {provider: openai, model: x, max_retries: many}
  b: {provider: anthropicc, model: y}
teams:
  t: {agents: []}
"""
    assert issues(text) == [
        "$.models.a.max_retries: Expected `int`, got `str`",
        "$.models.b.provider: invalid value 'anthropicc'; "
        "expected one of: openai, anthropic, ollama, demo",
        "$.teams.t.agents: Expected `array` of length >= 1",
    ]


def test_a_field_of_another_kind_is_an_error() -> None:
    text = """
models: {m: {provider: demo}}
teams:
  t:
    edges: [{from: a, to: a}]
    agents:
      - {name: a, model: m, prompt: "Your turn"}
      - {name: b, kind: user_proxy, model: m}
      - {name: c, kind: team}
  g: {kind: graf, agents: [{name: x, model: m}]}
"""
    assert issues(text) == [
        "$.teams.t.edges: `edges` does not apply to kind round_robin (only to kind graph)",
        "$.teams.t.agents[0].prompt: `prompt` does not apply to kind assistant "
        "(only to kind user_proxy)",
        "$.teams.t.agents[1].model: `model` does not apply to kind user_proxy "
        "(only to kind assistant, code_executor, society_of_mind)",
        "$.teams.t.agents[2].team: required field missing (kind team needs it)",
        "$.teams.g.kind: invalid kind 'graf'; expected one of: round_robin, selector, swarm, graph, magentic_one",
    ]


def test_an_enum_value_that_may_be_a_secret_is_not_shown() -> None:
    key = "sk-proj-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
    found = issues(
        f"models: {{m: {{provider: {key}}}, n: {{provider: Xk29fLq8ZmT3vR7wP1yN5sD0hJ4c}}}}\n"
        "teams: {t: {agents: [{name: a, model: m}]}}"
    )
    assert found == [
        "$.models.m.provider: invalid value (not shown); "
        "expected one of: openai, anthropic, ollama, demo",
        "$.models.n.provider: invalid value (not shown); "
        "expected one of: openai, anthropic, ollama, demo",
    ]
    assert key not in str(found)


MANY_ERRORS = """
models:
  gpt: {provider: openai, model: gpt-4o, api_key: "${NO_SUCH_KEY}"}
  demo: {provider: demo}
  broken: {provider: anthropicc}
  retry: {provider: openai, model: x, api_key: none, max_retries: many}
executors:
  box: {kind: dockr}
teams:
  writers:
    edges: [{from: a, to: b}]
    agents:
      - {name: a, model: gtp}
      - {name: b, model: demo, prompt: "hi", temprature: 1}
      - {name: c, kind: user_proxy, tools: [x]}
    termination: {text_mention: APPROVE, max_messages: 0}
  pipe:
    kind: graph
    agents:
      - {name: x, model: broken}
      - {name: y, model: gpt, tools: ["nowhere.mod:fn"]}
    edges: [{from: x, to: z}]
  pick:
    kind: selector
    agents: [{name: p, model: demo}, {name: q, model: demo, team_tools: [nosuch]}]
    selector: {model: nomodel, max_attempts: 0}
  hand:
    kind: swarm
    agents:
      - {name: s1, model: demo, handoffs: [s3]}
      - {name: s2, kind: code_executor, executor: box}
  k: {kind: roundrobin, agents: [{name: z, model: demo}]}
  t2: {agents: [{name: w, kind: team, team: nosuchteam}]}
server: {busy_policy: sometimes}
"""

MANY_ERRORS_FOUND = [
    "$.models.gpt.api_key: environment variable NO_SUCH_KEY is not set",
    "$.models.broken.provider: invalid value 'anthropicc'; "
    "expected one of: openai, anthropic, ollama, demo",
    "$.models.retry.max_retries: Expected `int`, got `str`",
    "$.executors.box.kind: invalid kind 'dockr'; expected one of: docker, local",
    "$.teams.writers.edges: `edges` does not apply to kind round_robin (only to kind graph)",
    "$.teams.writers.agents[1].prompt: `prompt` does not apply to kind assistant "
    "(only to kind user_proxy)",
    "$.teams.writers.agents[1].temprature: unknown field `temprature`",
    "$.teams.writers.agents[2].tools: `tools` does not apply to kind user_proxy "
    "(only to kind assistant)",
    "$.teams.writers.termination.max_messages: Expected `int` >= 1",
    "$.teams.pick.selector.max_attempts: Expected `int` >= 1",
    "$.teams.k.kind: invalid kind 'roundrobin'; expected one of: round_robin, selector, swarm, graph, magentic_one",
    "$.server.busy_policy: invalid value 'sometimes'; expected one of: reject, enqueue",
    "$.teams.writers.agents[0].model: unknown model 'gtp' (did you mean 'gpt'?); "
    "models: broken, demo, gpt, retry",
    "$.teams.pipe.agents[1].tools[0]: cannot import 'nowhere.mod'",
    "$.teams.pipe.edges[0]: edge to or from unknown agent 'z'",
    "$.teams.pick.agents[1].team_tools[0]: unknown team 'nosuch'; teams: hand, k, pick, pipe, t2, writers",
    "$.teams.pick.selector.model: unknown model 'nomodel'; models: broken, demo, gpt, retry",
    "$.teams.hand.agents[0].handoffs: handoff to unknown agent 's3'",
    "$.teams.t2.agents[0].team: unknown team 'nosuchteam'; teams: hand, k, pick, pipe, t2, writers",
]


def test_troupe_check_prints_every_error_of_a_file_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    bad = tmp_path / "teams.yaml"
    bad.write_text(MANY_ERRORS)
    assert main(["check", str(bad)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"{bad}: {len(MANY_ERRORS_FOUND)} error(s)"
    printed = [line.strip() for line in lines[1:]]
    assert len(printed) == len(MANY_ERRORS_FOUND) == 19
    for line, expected in zip(printed, MANY_ERRORS_FOUND, strict=True):
        assert line.startswith(expected)
    # The unset variable is one error, not a second one about the empty key it left.
    assert not any("no API key" in line for line in printed)


def test_env_interpolation() -> None:
    text = """
models:
  m: {provider: openai, model: "${MODEL:-gpt-4o-mini}", api_key: "${KEY}", base_url: "${URL:-}"}
teams:
  t: {agents: [{name: a, model: m}]}
"""
    spec = read_config(text, env={"KEY": "sk-1"})
    assert spec.models["m"].model == "gpt-4o-mini"
    assert spec.models["m"].api_key == "sk-1"
    assert spec.models["m"].base_url == ""
    assert issues(text, env={}) == ["$.models.m.api_key: environment variable KEY is not set"]


def test_bad_yaml_and_unknown_sections() -> None:
    assert issues("teams: [oops")[0].startswith("$: invalid YAML at line 1")
    assert issues("temas: {}\nteams: {}")[0] == (
        "$.temas: unknown field `temas` (did you mean `teams`?); "
        "fields: models, executors, teams, server, mcp_servers, memories"
    )


def test_bundled_examples_fall_back_to_the_demo_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _, teams = load_teams(BUNDLED_CONFIG)
    assert set(teams) == {"assistant", "writers"}
    agent = teams["assistant"].agents[0]
    assert isinstance(agent.model, DemoModel)  # type: ignore[attr-defined]


def test_bundled_examples_use_openai_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    _, teams = load_teams(BUNDLED_CONFIG)
    model = teams["assistant"].agents[0].model  # type: ignore[attr-defined]
    assert model.provider == "openai" and model.model_name == "gpt-4o-mini"


def test_troupe_check_prints_errors_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "teams.yaml"
    bad.write_text(GOOD.replace("model: local, system", "model: gpt5, system"))
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "$.teams.writers.agents[0].model: unknown model 'gpt5'" in err
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert main(["check", str(good)]) == 0
    assert "ok, 1 team(s): writers" in capsys.readouterr().out


def test_serve_refuses_an_invalid_config(tmp_path: Path) -> None:
    bad = tmp_path / "teams.yaml"
    bad.write_text("teams: {t: {agents: [{name: a, model: nope}]}}")
    proc = subprocess.run(
        [sys.executable, "-m", "troupe.cli", "serve", "--config", str(bad), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "$.teams.t.agents[0].model: unknown model 'nope'" in proc.stderr


def test_termination_names_agents_of_the_team() -> None:
    text = """
models: {m: {provider: demo}}
teams:
  t:
    agents: [{name: a, model: m}, {name: inner, kind: team, team: u}]
    termination:
      any:
        - text_mention: {text: X, sources: [a, deep, c]}
        - {source_match: [zz], handoff: user, text_message: deep}
  u: {agents: [{name: deep, model: m}]}
"""
    assert issues(text) == [
        "$.teams.t.termination.any[0].text_mention.sources[2]: "
        "unknown agent 'c' (agents: a, deep, inner)",
        "$.teams.t.termination.any[1].source_match[0]: unknown agent 'zz' (agents: a, deep, inner)",
    ]
