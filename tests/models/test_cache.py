"""The model response cache: the second identical conversation makes no upstream request."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.fakes.openai_upstream import FakeOpenAIServer, Reply
from troupe.config import read_teams
from troupe.events import Event, UsageReported
from troupe.messages import UserMessage
from troupe.models.cache import CachedModel
from troupe.store import upgrade_database
from troupe.teams import RunResult, Team

pytestmark = pytest.mark.anyio


def config(base_url: str, cache: str) -> str:
    return f"""
models:
  gpt:
    provider: openai
    model: fake-model
    base_url: "{base_url}"
    api_key: sk-test
    temperature: 0.2
    cache: {cache}
teams:
  solo:
    agents: [{{name: bot, model: gpt, system_message: "Be brief."}}]
"""


async def converse(team: Team, text: str) -> tuple[RunResult, list[Event]]:
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    result = await team.run(team.new_state("c"), [UserMessage(content=text)], record)
    return result, events


_built: list[Team] = []


def solo(text: str) -> Team:
    team = read_teams(text, env={})[1]["solo"]
    _built.append(team)
    return team


@pytest.fixture(autouse=True)
async def _close_models() -> AsyncIterator[None]:
    yield
    while _built:
        await _built.pop().agents[0].model.aclose()  # type: ignore[attr-defined]


async def test_memory_cache_second_identical_conversation_makes_no_request() -> None:
    async with FakeOpenAIServer() as fake:
        fake.script(Reply(text="Hello there."), Reply(text="Different."))
        team = solo(config(fake.base_url, "{store: memory}"))
        first, _ = await converse(team, "hi")
        second, events = await converse(team, "hi")
        assert fake.stats.requests == 1
        assert first.state.transcript[-1].content == second.state.transcript[-1].content
        assert second.state.transcript[-1].content == "Hello there."
        # A hit costs nothing.
        assert [e.usage.total_tokens for e in events if isinstance(e, UsageReported)] == [0]
        # Another request is another key.
        third, _ = await converse(team, "something else")
        assert fake.stats.requests == 2 and third.state.transcript[-1].content == "Different."


async def test_the_models_settings_are_part_of_the_key() -> None:
    async with FakeOpenAIServer() as fake:
        fake.script(Reply(text="one"), Reply(text="two"))
        text = config(fake.base_url, "{store: memory}")
        team = solo(text)
        await converse(team, "hi")
        model = team.agents[0].model  # type: ignore[attr-defined]
        assert isinstance(model, CachedModel)
        warmer = solo(text.replace("temperature: 0.2", "temperature: 0.9"))
        # A fresh memory cache would miss anyway: share the store to show the key differs.
        warmer.agents[0].model.cache = model.cache  # type: ignore[attr-defined]
        await converse(warmer, "hi")
        assert fake.stats.requests == 2


async def test_database_cache_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'troupe.db'}"
    await upgrade_database(url)
    async with FakeOpenAIServer() as fake:
        fake.script(Reply(text="Stored answer."))
        text = config(fake.base_url, f'{{store: database, url: "{url}"}}')
        await converse(solo(text), "hi")
        # A new process (a new build of the config) finds the response in the database.
        second, _ = await converse(solo(text), "hi")
        assert fake.stats.requests == 1
        assert second.state.transcript[-1].content == "Stored answer."


@pytest.fixture
def redis_url() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip(
            "redis-server is not installed; runs where it is (apt-get install redis-server)"
        )
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_redis_cache_is_shared_between_builds(redis_url: str) -> None:
    async with FakeOpenAIServer() as fake:
        fake.script(Reply(text="From redis."))
        text = config(fake.base_url, f'{{store: redis, url: "{redis_url}", ttl_seconds: 60}}')
        await converse(solo(text), "hi")
        second, _ = await converse(solo(text), "hi")
        assert fake.stats.requests == 1
        assert second.state.transcript[-1].content == "From redis."


async def test_a_cache_that_fails_is_skipped() -> None:
    async with FakeOpenAIServer() as fake:
        fake.script(Reply(text="a"), Reply(text="b"))
        port = free_port()  # nothing listens there
        text = config(fake.base_url, f'{{store: redis, url: "redis://127.0.0.1:{port}/0"}}')
        team = solo(text)
        first, _ = await converse(team, "hi")
        second, _ = await converse(team, "hi")
        assert first.status == second.status == "completed"
        assert fake.stats.requests == 2
