"""API keys made with ``troupe keys``: hashed in the database, limited to teams, rate limited
(429 with Retry-After through the openai SDK), revoked on every replica; config keys still work.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import openai
import pytest
from litestar import Litestar

from tests.asgi import Served
from tests.e2e.conftest import free_port
from troupe.agents import AssistantAgent
from troupe.config import ConfigSpec, ServerSpec
from troupe.config.spec import MetricsSpec
from troupe.models import FunctionModel, ModelRequest, ScriptedModel
from troupe.server import create_app
from troupe.server._auth import _scope
from troupe.store import ApiKeyRecord, SQLConversationStore, key_digest, new_key
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio

CONFIG_KEY = "config-key-0001"


def keys(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``troupe keys ...`` in a subprocess, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "troupe.cli", "keys", *args, "--database-url", db],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def key_of(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    *_, key = done.stdout.strip().splitlines()
    assert key.startswith("tk-") and " " not in key
    return key


async def create(db: str, name: str, teams: tuple[str, ...] | None = None, **limits: int) -> str:
    """What ``troupe keys create`` does, in process (the subprocess is tested on its own)."""
    key = new_key()
    store = SQLConversationStore(db)
    try:
        await store.add_key(
            ApiKeyRecord(name=name, digest=key_digest(key), prefix=key[:7], teams=teams, **limits)
        )
    finally:
        await store.close()
    return key


def teams() -> list[RoundRobinTeam]:
    def echo(name: str) -> RoundRobinTeam:
        bot = AssistantAgent("bot", ScriptedModel([f"{name} says hello"] * 50))
        return RoundRobinTeam(name, [bot], max_turns=1)

    return [echo("support"), echo("billing"), echo("admin")]


def app(db: str, storage: str = "memory://", team_list: Any = None) -> Litestar:
    server = ServerSpec(
        database_url=db,
        api_keys=[CONFIG_KEY],
        key_cache_seconds=0.2,
        rate_limit_storage=storage,
    )
    # The tests' environment names a memory store; these replicas share the database.
    store = SQLConversationStore(db)
    return create_app(ConfigSpec(server=server), teams=team_list or teams(), store=store)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'troupe.db'}"


async def say(client: openai.AsyncOpenAI, model: str = "support") -> str:
    reply = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    return reply.choices[0].message.content or ""


async def test_keys_are_made_listed_and_revoked_with_the_cli(db: str, served: Served) -> None:
    key = key_of(keys(db, "create", "--name", "alice", "--teams", "support,billing", "--rpm", "60"))
    assert await say(await served.openai(app(db), api_key=key))
    listing = keys(db, "list")
    assert listing.returncode == 0, listing.stderr
    assert (
        "alice" in listing.stdout and "teams: support, billing; 60 requests/min" in listing.stdout
    )
    assert key not in listing.stdout and key[:7] in listing.stdout
    assert key.encode() not in await anyio.Path(db.removeprefix("sqlite:///")).read_bytes()
    taken = keys(db, "create", "--name", "alice")
    assert taken.returncode == 1 and "exists" in taken.stderr
    revoked = keys(db, "revoke", "alice")
    assert revoked.returncode == 0 and "revoked key 'alice'" in revoked.stdout
    missing = keys(db, "revoke", "alice")
    assert missing.returncode == 1 and "no key in use named 'alice'" in missing.stderr


async def test_a_key_sees_only_its_teams(db: str, served: Served) -> None:
    limited = await create(db, "support-desk", ("support", "billing"))
    everything = await create(db, "ops")
    server = app(db)
    client = await served.openai(server, api_key=limited)
    assert sorted([m.id async for m in client.models.list()]) == ["billing", "support"]
    assert await say(client) == "support says hello"
    with pytest.raises(openai.NotFoundError) as refused:
        await say(client, "admin")
    assert refused.value.code == "model_not_found" and "admin" not in str(
        refused.value.body
    ).replace("'admin'", "")
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("admin")
    for key in (everything, CONFIG_KEY):
        other = await served.openai(server, api_key=key)
        assert sorted([m.id async for m in other.models.list()]) == ["admin", "billing", "support"]
        assert await say(other, "admin") == "admin says hello"
    with pytest.raises(openai.AuthenticationError):
        await say(await served.openai(server, api_key="tk-not-a-key"))


async def test_with_keys_on_metrics_need_a_key_that_sees_every_team(
    db: str, served: Served
) -> None:
    limited = await create(db, "support-desk", ("support",))
    everything = await create(db, "ops")
    server = ServerSpec(database_url=db, api_keys=[CONFIG_KEY], metrics=MetricsSpec(enabled=True))
    http = await served.http(
        create_app(ConfigSpec(server=server), teams=teams(), store=SQLConversationStore(db))
    )

    def scrape(key: str | None) -> Any:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return http.get("/metrics", headers=headers)

    anonymous = await scrape(None)
    assert anonymous.status_code == 401
    assert "API key" in anonymous.json()["error"]["message"]
    assert (await scrape("tk-not-a-key")).status_code == 401
    refused = await scrape(limited)
    assert (
        refused.status_code == 403 and "limited to some teams" in refused.json()["error"]["message"]
    )
    for key in (everything, CONFIG_KEY):
        scraped = await scrape(key)
        assert scraped.status_code == 200 and "# TYPE troupe_runs_total counter" in scraped.text
    assert (await http.get("/health/ready")).status_code == 200  # still open to probes


async def test_past_a_limit_the_answer_is_429_with_retry_after(db: str, served: Served) -> None:
    rpm = await create(db, "rpm", rpm=2)
    tpm = await create(db, "tpm", tpm=5)
    unlimited = await create(db, "unlimited")
    server = app(db)
    client = await served.openai(server, api_key=rpm)
    assert await say(client) and await say(client)
    with pytest.raises(openai.RateLimitError) as limited:
        await say(client)
    error = limited.value
    assert error.status_code == 429 and error.code == "rate_limit_exceeded"
    assert 1 <= int(error.response.headers["retry-after"]) <= 60
    assert "2 requests per minute" in error.message
    # The token limit: a run may go past it, the next one is refused.
    client = await served.openai(server, api_key=tpm)
    await say(client)
    with pytest.raises(openai.RateLimitError, match="5 tokens per minute"):
        await say(client)
    # Other keys are not limited by them.
    for key in (unlimited, CONFIG_KEY):
        other = await served.openai(server, api_key=key)
        for _ in range(4):
            assert await say(other)


class Slow:
    """A team "slow" whose answer waits until ``release`` is set; ``started`` once asked."""

    def __init__(self) -> None:
        self.started, self.release = anyio.Event(), anyio.Event()

    async def answer(self, _: ModelRequest) -> str:
        self.started.set()
        await self.release.wait()
        return "done"

    def app(self, db: str) -> Litestar:
        bot = AssistantAgent("bot", FunctionModel(self.answer))
        return app(db, team_list=[RoundRobinTeam("slow", [bot], max_turns=1)])


async def test_runs_at_once_are_limited_per_key(db: str, served: Served) -> None:
    key = await create(db, "one-at-a-time", max_concurrent_runs=1)
    slow = Slow()
    started, release = slow.started, slow.release
    server = slow.app(db)
    client = await served.openai(server, api_key=key)
    answers: list[str] = []

    async def first() -> None:
        answers.append(await say(client, "slow"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        await started.wait()
        with pytest.raises(openai.RateLimitError, match="1 run"):
            await say(client, "slow")
        # Another key is not held back.
        other = await served.openai(server, api_key=CONFIG_KEY)
        release.set()
        assert await say(other, "slow") == "done"
    assert answers == ["done"]
    assert await say(client, "slow") == "done"


async def test_runs_at_once_are_limited_across_replicas(db: str, served: Served) -> None:
    key = await create(db, "one-at-a-time", max_concurrent_runs=1)
    slow = Slow()
    started, release = slow.started, slow.release
    a = await served.openai(slow.app(db), api_key=key)
    b = await served.openai(slow.app(db), api_key=key)
    store = SQLConversationStore(db)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(say, a, "slow")
            await started.wait()
            with anyio.fail_after(10):  # the run's start is in the database in a moment
                while True:
                    if await store.runs_holding_leases(scope=_scope(key)):
                        break
                    await anyio.sleep(0.02)
            try:
                with anyio.fail_after(10), pytest.raises(openai.RateLimitError, match="1 run"):
                    await say(b, "slow")
            finally:
                release.set()
    finally:
        await store.close()
    assert await say(b, "slow") == "done"


async def test_a_revoked_key_stops_working_on_every_replica(db: str, served: Served) -> None:
    key = await create(db, "leaving")
    replicas = [await served.openai(app(db), api_key=key) for _ in range(2)]
    for client in replicas:
        assert await say(client)
    done = keys(db, "revoke", "leaving")
    assert done.returncode == 0 and "revoked key 'leaving'" in done.stdout
    for client in replicas:
        with anyio.fail_after(30):
            while True:
                try:
                    await say(client)
                except openai.AuthenticationError:
                    break
                await anyio.sleep(0.1)
    assert "revoked" in keys(db, "list").stdout
    # The config's key still works; the name can be given to a new key.
    assert await say(await served.openai(app(db), api_key=CONFIG_KEY))
    assert await say(await served.openai(app(db), api_key=await create(db, "leaving")))


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_limits_hold_across_replicas_sharing_redis(
    db: str, served: Served, redis_url: str
) -> None:
    key = await create(db, "shared-limit", rpm=3)
    one, two = [await served.openai(app(db, redis_url), api_key=key) for _ in range(2)]
    assert await say(one) and await say(two) and await say(one)
    for client in (one, two):
        with pytest.raises(openai.RateLimitError):
            await say(client)
