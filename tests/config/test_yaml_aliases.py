"""YAML aliases: a few anchors shared in a config work; a "billion laughs" that would expand
to millions of nodes, an alias that contains itself, or nesting past Python's stack is a
config error naming the cause, from `troupe check`, the loader and the studio's checker."""

from __future__ import annotations

from pathlib import Path

import pytest

from troupe.cli import main
from troupe.config import read_teams
from troupe.config.load import MAX_NODES, parse_yaml
from troupe.errors import ConfigError


def bomb(levels: int) -> str:
    """A config like the QA report's (388 bytes at five levels): each level is ten aliases of the one before."""
    lines = ["a0: &a0 [x,x,x,x,x,x,x,x,x,x]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    lines.append(f"teams: {{t: {{description: *a{levels}, agents: []}}}}")
    return "\n".join(lines) + "\n"


def only_issue(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        read_teams(text, env={})
    [issue] = caught.value.issues
    return str(issue)


@pytest.mark.parametrize("levels", [5, 9, 30])
def test_an_alias_bomb_is_refused_naming_the_aliases(levels: int) -> None:
    assert only_issue(bomb(levels)) == (
        f"$: the YAML expands to more than {MAX_NODES} nodes through its aliases (*name): refused"
    )


def test_an_alias_inside_itself_and_nesting_too_deep_are_config_errors() -> None:
    for text in ("a: &a [x, *a]\nteams: {}\n", "m: &m {next: *m}\n"):
        assert only_issue(text) == (
            "$: an alias refers to a node that contains it (a recursive alias)"
        )
    assert only_issue("[" * 50_000) == "$: invalid YAML: nested too deeply"


def test_ordinary_anchors_and_merge_keys_still_load() -> None:
    text = """
models:
  main: &model {provider: demo, temperature: 0.2}
  other: {<<: *model, temperature: 0.9}
teams:
  duo:
    agents:
      - &agent {name: first, model: main, system_message: "Be brief."}
      - {<<: *agent, name: second, model: other}
  trio:
    agents: [*agent, {<<: *agent, name: second}, {<<: *agent, name: third}]
"""
    spec, teams = read_teams(text, env={})
    assert spec.models["other"].temperature == 0.9
    assert set(teams) == {"duo", "trio"}
    # Ten thousand nodes through aliases are a big config, not a bomb.
    assert parse_yaml(bomb(3))["a3"][9][9][9][9] == "x"


def test_troupe_check_refuses_the_bomb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "teams.yaml"
    file.write_text(bomb(6))
    assert main(["check", str(file)]) == 1
    assert "through its aliases" in capsys.readouterr().err
