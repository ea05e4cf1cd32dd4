"""Agent memory: list and vector memories; embeddings from a real endpoint served locally."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.embeddings_upstream import FakeEmbeddingsServer
from tests.teams.conftest import Chat
from troupe.agents import AgentTurn, AssistantAgent
from troupe.config import read_teams
from troupe.errors import ConfigError
from troupe.events import Event, MemoryQueried, MemoryRecalled
from troupe.memory import ListMemory, OllamaEmbedder, OpenAIEmbedder, VectorMemory, cosine
from troupe.messages import SystemMessage, UserMessage
from troupe.models import ScriptedModel
from troupe.store import upgrade_database
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio

FACTS = [
    "The office cat is called Biscuit.",
    "Deploys happen on Tuesdays after lunch.",
    "The VPN password rotates every month.",
]


async def test_list_memory_reaches_the_context_and_the_events() -> None:
    model = ScriptedModel(["Biscuit."])
    agent = AssistantAgent("bot", model, memory=[ListMemory("facts", FACTS[:2])])
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    await agent.run(AgentTurn(transcript=(UserMessage(content="What is the cat called?"),)), record)
    recalled = [m for m in model.requests[0].messages if isinstance(m, SystemMessage)][-1]
    assert "Relevant memory content" in recalled.content
    assert "1. The office cat is called Biscuit." in recalled.content
    queried = [e for e in events if isinstance(e, MemoryQueried)]
    assert [(e.memory, e.query) for e in queried] == [("facts", "What is the cat called?")]
    (result,) = [e for e in events if isinstance(e, MemoryRecalled)]
    assert result.contents == tuple(FACTS[:2]) and result.scores == ()


@pytest.fixture
async def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'troupe.db'}"
    await upgrade_database(url)
    return url


async def test_vector_memory_recalls_the_nearest_through_a_real_embeddings_api(
    db_url: str,
) -> None:
    async with FakeEmbeddingsServer() as fake:
        memory = VectorMemory(
            "kb",
            OpenAIEmbedder("text-embedding-3-small", base_url=fake.base_url, api_key="k"),
            db_url,
            top_k=1,
        )
        try:
            await memory.add_many(FACTS)
            assert await memory.count() == 3
            assert fake.requests[0]["input"] == FACTS  # one request for all of them
            model = ScriptedModel(["Tuesdays."])
            agent = AssistantAgent("bot", model, memory=[memory])
            chat = Chat(RoundRobinTeam("helpdesk", [agent]))
            content, events = await chat.say("helpdesk", "When do deploys happen?")
            assert content == "Tuesdays."
            context = [
                m.content for m in model.requests[0].messages if isinstance(m, SystemMessage)
            ]
            assert any("Deploys happen on Tuesdays" in c for c in context)
            assert not any("Biscuit" in c for c in context)  # only the nearest one
            # The events travel the wire: the query and its ranked result.
            (result,) = [e for e in events if isinstance(e, MemoryRecalled)]
            assert result.contents == ("Deploys happen on Tuesdays after lunch.",)
            assert len(result.scores) == 1 and result.scores[0] > 0.3
            assert fake.requests[-1]["input"] == ["When do deploys happen?"]
        finally:
            await memory.aclose()


async def test_entries_are_kept_per_memory_and_scope(db_url: str) -> None:
    async with FakeEmbeddingsServer() as fake:
        embedder = OpenAIEmbedder("e", base_url=fake.base_url, api_key="k")
        one = VectorMemory("one", embedder, db_url)
        two = VectorMemory("two", embedder, db_url)
        try:
            await one.add("alpha beta", {"source": "wiki"})
            await one.add("alpha gamma", scope="tenant-b")
            await two.add("alpha delta")
            hits = await one.query("alpha")
            assert [(h.content, h.metadata) for h in hits] == [("alpha beta", {"source": "wiki"})]
            # A tenant sees the shared entries and its own, never another tenant's.
            hits = await one.query("alpha gamma", scope="tenant-b")
            assert [h.content for h in hits] == ["alpha gamma", "alpha beta"]
            assert [h.content for h in await one.query("alpha", scope="tenant-c")] == ["alpha beta"]
        finally:
            await one.aclose()
            await two.aclose()


async def test_ollama_embeddings(db_url: str) -> None:
    async with FakeEmbeddingsServer() as fake:
        memory = VectorMemory(
            "kb", OllamaEmbedder("nomic-embed-text", host=fake.ollama_host), db_url, top_k=2
        )
        try:
            await memory.add_many(FACTS)
            hits = await memory.query("the cat Biscuit")
            assert hits[0].content == FACTS[0]
            assert fake.requests[0]["model"] == "nomic-embed-text"
        finally:
            await memory.aclose()


def test_cosine() -> None:
    assert cosine([1, 0], [1, 0]) == 1.0
    assert cosine([1, 0], [0, 1]) == 0.0
    assert cosine([0, 0], [1, 1]) == 0.0


CONFIG = """
models:
  demo: {provider: demo}
memories:
  facts: {kind: list, items: ["The office cat is called Biscuit."]}
  kb:
    kind: vector
    embeddings: {provider: openai, model: emb, base_url: "BASE", api_key: k}
    top_k: 1
    database_url: "DB"
    documents: ["Deploys happen on Tuesdays after lunch.", "Lunch is at noon."]
teams:
  desk:
    agents: [{name: bot, model: demo, memory: [facts, kb]}]
"""


async def test_memories_in_yaml_with_documents_put_in_on_first_use(db_url: str) -> None:
    async with FakeEmbeddingsServer() as fake:
        text = CONFIG.replace("BASE", fake.base_url).replace("DB", db_url)
        _spec, teams = read_teams(text, env={})
        chat = Chat(teams["desk"])
        _content, events = await chat.say("desk", "when are deploys?")
        recalled = {e.memory: e.contents for e in events if isinstance(e, MemoryRecalled)}
        assert recalled == {
            "facts": ("The office cat is called Biscuit.",),
            "kb": ("Deploys happen on Tuesdays after lunch.",),
        }
        # A second build (another process) finds the documents there: not added twice.
        _spec, again = read_teams(text, env={})
        await Chat(again["desk"]).say("desk", "lunch?")
        memory = again["desk"].agents[0].memory[1]  # type: ignore[attr-defined]
        assert await memory.memory.count() == 2
        for team in (teams, again):
            await team["desk"].agents[0].memory[1].aclose()  # type: ignore[attr-defined]


def test_an_unknown_memory_is_reported_at_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        read_teams(CONFIG.replace("memory: [facts, kb]", "memory: [fact]"), env={})
    (issue,) = caught.value.issues
    assert issue.path == "$.teams.desk.agents[0].memory[0]"
    assert "unknown memory 'fact' (did you mean 'facts'?)" in issue.message
