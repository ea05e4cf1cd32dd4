"""The offline demo model plays along with the instructions of the README's and the examples' teams."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import yaml

from tests.teams.conftest import Chat, names
from troupe import AssistantAgent, RoundRobinTeam, SelectorTeam, TextMention
from troupe.config import load_teams
from troupe.events import AgentStarted, RunEnded, SpeakerSelected, ToolCalled
from troupe.models import DemoModel
from troupe.models._demo_values import value_for

pytestmark = pytest.mark.anyio
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("TROUPE_DEMO_DELAY", "0")


@pytest.fixture
def readme_team(tmp_path: Path) -> Iterator[Path]:
    """The README's own teams.yaml, its models swapped for the demo model, its tool written."""
    block = re.search(r"```yaml\n# teams.yaml\n(.*?)```", README.read_text(), re.DOTALL)
    assert block is not None, "the README's example teams.yaml"
    config = yaml.safe_load(block.group(1))
    config["models"] = {name: {"provider": "demo"} for name in config["models"]}
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "tools.py").write_text(
        'def search(query: str) -> str:\n    """Search the web."""\n'
        '    return f"3 pages about {query}"\n'
    )
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump(config))
    yield path
    sys.modules.pop("mypkg.tools", None)
    sys.modules.pop("mypkg", None)
    if str(tmp_path.resolve()) in sys.path:
        sys.path.remove(str(tmp_path.resolve()))


async def test_the_readme_team_ends_when_its_critic_approves(readme_team: Path) -> None:
    _, teams = load_teams(readme_team)  # provider: demo needs no API key
    text, events = await Chat(*teams.values()).say("writers", "A haiku about tea")
    calls = [
        (e.agent, e.name, msgspec.json.decode(e.arguments))
        for e in events
        if isinstance(e, ToolCalled)
    ]
    assert calls == [("writer", "search", {"query": "A haiku about tea"})]
    assert names(events, AgentStarted) == ["writer", "critic"]
    assert "The search tool says: 3 pages about A haiku about tea." in text
    assert text.endswith("**critic:** Clear and to the point. APPROVE")
    end = events[-1]
    assert isinstance(end, RunEnded) and end.stop_reason == "text 'APPROVE' mentioned by critic"


@pytest.mark.parametrize(
    ("instruction", "word"),
    [
        ("Review. Say APPROVE when done.", "APPROVE"),
        ("Check the plan; reply with TERMINATE when the task is complete.", "TERMINATE"),
        ("If it is good, end your review with the word LGTM.", "LGTM"),
    ],
)
async def test_a_reviewer_says_its_stop_word_after_a_draft(instruction: str, word: str) -> None:
    team = RoundRobinTeam(
        "pair",
        [
            AssistantAgent("writer", DemoModel(), system_message="Write."),
            AssistantAgent("reviewer", DemoModel(), system_message=instruction),
        ],
        termination=TextMention(word),
        max_turns=6,
    )
    text, events = await Chat(team).say("pair", "A slogan")
    assert names(events, AgentStarted) == ["writer", "reviewer"]
    assert text.endswith(f"**reviewer:** Clear and to the point. {word}")


async def test_a_reviewer_with_nothing_to_review_says_so() -> None:
    team = RoundRobinTeam(
        "solo", [AssistantAgent("critic", DemoModel(), system_message="Say APPROVE when done.")]
    )
    text, _ = await Chat(team).say("solo", "Hello")
    assert text == "Nothing to review yet."


async def test_an_unconditional_stop_word_ends_every_answer() -> None:
    team = RoundRobinTeam(
        "solo", [AssistantAgent("writer", DemoModel(), system_message="Answer. End with DONE.")]
    )
    text, _ = await Chat(team).say("solo", "Hello")
    assert text.endswith(" DONE")


async def test_a_selector_picks_who_has_not_spoken_since_the_user_then_goes_round() -> None:
    agents = [AssistantAgent(n, DemoModel(), description=f"The {n}.") for n in ("a", "b", "c")]
    team = SelectorTeam("pick", agents, model=DemoModel(), max_turns=5)
    _, events = await Chat(team).say("pick", "Go")
    assert [e.agent for e in events if isinstance(e, SpeakerSelected)] == ["a", "b", "c", "a", "b"]


def test_tool_arguments_come_from_the_schema_and_the_question() -> None:
    schema = {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "city": {"type": "string"},
            "days": {"type": "integer", "maximum": 7},
            "units": {"enum": ["metric", "imperial"]},
            "order_id": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "exact": {"type": "boolean"},
        },
        "required": ["query", "city", "days", "units", "order_id", "tags", "exact"],
    }
    question = "Weather in Paris for 10 days, order 42?"
    assert value_for(schema, question) == {
        "query": question,
        "city": "Paris",
        "days": 7,
        "units": "metric",
        "order_id": "42",
        "tags": [question],
        "exact": False,
    }
    calculator = {"type": "object", "properties": {"expression": {"type": "string"}}}
    calculator["required"] = ["expression"]
    assert value_for(calculator, "What is 6*7?") == {"expression": "6*7"}
    assert value_for(calculator, "Hello") is None  # no sensible expression: no call
