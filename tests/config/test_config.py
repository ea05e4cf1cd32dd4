"""Config files: every error with its path, env interpolation, `troupe check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from troupe.cli import main
from troupe.config import build_teams, load_teams, read_config
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
        spec = read_config(text, env=env or {})
        build_teams(spec)
    return [str(issue) for issue in caught.value.issues]


def test_a_good_config_builds_teams() -> None:
    teams = build_teams(read_config(GOOD, env={}))
    team = teams["writers"]
    assert [a.name for a in team.agents] == ["writer", "critic"]
    assert team.description == "A writer and a critic take turns."


def test_every_error_is_reported_with_its_path() -> None:
    text = (
        GOOD.replace("model: local, system", "model: gpt5, system").replace(
            "max_messages: 8", "max_messages: 8"
        )
        + """
  second:
    agents:
      - {name: a, model: demo, tools: ["nowhere.tools:search"]}
      - {name: b, model: demo, temperature: 3}
"""
    )
    found = issues(text)
    assert found == ["$.teams.second.agents[1]: Object contains unknown field `temperature`"]
    # Field errors come first; fix them and the references are checked, all of them at once.
    text = text.replace(", temperature: 3", "")
    found = issues(text)
    assert "$.teams.writers.agents[0].model: unknown model 'gpt5'" in found[0]
    assert found[1].startswith("$.teams.second.agents[0].tools[0]: cannot import 'nowhere.tools'")
    assert len(found) == 2


def test_field_errors_in_several_entries_are_all_reported() -> None:
    text = """
models:
  a: {provider: openai, model: x, max_retries: many}
  b: {provider: anthropicc, model: y}
teams:
  t: {agents: []}
"""
    found = issues(text)
    assert found[0].startswith("$.models.a.max_retries: Expected `int`, got `str`")
    assert found[1].startswith("$.models.b.provider: Invalid enum value 'anthropicc'")
    assert found[2].startswith("$.teams.t.agents: Expected `array` of length >= 1")


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
    assert issues("temas: {}\nteams: {}")[0].startswith(
        "$.temas: unknown section (expected one of "
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
