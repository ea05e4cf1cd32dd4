"""``troupe export``: teams defined in Python, written as YAML that loads back to the same teams."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from troupe.cli import main
from troupe.config import read_teams
from troupe.interop import export_teams
from troupe.teams import GraphTeam, SelectorTeam


def test_exported_teams_load_back_with_the_same_structure() -> None:
    text = export_teams("tests.interop.exported_teams:all_teams")
    assert "sk-never-written" not in text
    config = yaml.safe_load(text)
    assert config["models"]["gpt-4o-mini"] == {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "api_key": "${OPENAI_API_KEY}",
        "temperature": 0.2,
    }
    review = config["teams"]["review"]
    assert review["agents"][0]["tools"] == ["tests.interop.exported_teams:word_count"]
    assert review["edges"] == [
        {"from": "writer", "to": "editor"},
        {"from": "editor", "to": "writer", "when": "REVISE"},
        {"from": "editor", "to": "writer", "when_func": "tests.interop.exported_teams:approved"},
    ]
    lead = config["teams"]["lead"]
    assert lead["termination"] == {
        "any": [
            {"all": [{"text_mention": "DONE"}, {"max_messages": 3}]},
            {"token_usage": {"total": 9000}},
        ]
    }
    assert lead["selector"]["selector_func"] == "tests.interop.exported_teams:pick"
    assert lead["agents"][0] == {"kind": "team", "name": "review", "team": "review"}
    # A ScriptedModel is no provider's: the demo model, and the header says so.
    assert "#   teams.scripted.agents.a: model ScriptedModel (the demo model instead)" in text

    _, teams = read_teams(text, env={"OPENAI_API_KEY": "k"})
    assert set(teams) == {"lead", "review", "scripted"}
    graph = teams["review"]
    assert isinstance(graph, GraphTeam) and [e.target for e in graph.edges] == [
        "editor",
        "writer",
        "writer",
    ]
    selector = teams["lead"]
    assert isinstance(selector, SelectorTeam) and selector.selector_func is not None
    assert (
        repr(selector.termination)
        == "TextMention('DONE') & MaxMessages(3) | TokenUsage(total=9000)"
    )


def test_the_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "teams.yaml"
    assert main(["export", "tests.interop.exported_teams:review_team", "-o", str(out)]) == 0
    assert "writer" in yaml.safe_load(out.read_text())["teams"]["review"]["agents"][0]["name"]
    assert main(["export", "tests.interop.exported_teams:word_count"]) == 1
    assert "is not a team" in capsys.readouterr().err
    assert main(["export", "no.such.module:team"]) == 1
    assert "cannot import 'no.such.module'" in capsys.readouterr().err
