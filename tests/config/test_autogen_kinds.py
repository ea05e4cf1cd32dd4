"""The AgentChat kinds in config: magentic_one teams (and their errors, with paths)."""

from __future__ import annotations

import pytest

from troupe.config import read_teams
from troupe.errors import ConfigError
from troupe.teams import MagenticOneTeam

MAGENTIC = """
models:
  demo: {provider: demo}
teams:
  research:
    kind: magentic_one
    model: demo
    max_stalls: 2
    max_turns: 8
    final_answer_prompt: "Answer {task} now."
    agents:
      - {name: researcher, model: demo, description: Looks things up.}
      - {name: writer, model: demo}
"""


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        read_teams(text, env={})
    return [str(issue) for issue in caught.value.issues]


def test_a_magentic_one_team_from_yaml() -> None:
    team = read_teams(MAGENTIC, env={})[1]["research"]
    assert isinstance(team, MagenticOneTeam)
    assert (team.max_stalls, team.rounds) == (2, 8)
    assert team.final_answer_prompt == "Answer {task} now."
    assert team.answer_agents == frozenset({"MagenticOneOrchestrator"})


def test_magentic_one_errors_name_their_paths() -> None:
    bad = MAGENTIC.replace("model: demo\n    max_stalls: 2", "model: nope\n    max_stalls: 0")
    found = issues(bad)
    assert any("$.teams.research.max_stalls" in i for i in found), found
    bad = MAGENTIC.replace("model: demo\n    max_stalls", "model: nope\n    max_stalls")
    found = issues(bad)
    assert any("$.teams.research.model" in i and "unknown model 'nope'" in i for i in found), found
    # A field of the kind is an error on another kind.
    found = issues(MAGENTIC.replace("kind: magentic_one", "kind: round_robin"))
    assert any("max_stalls" in i or "model" in i for i in found), found
