"""Schema migrations: from nothing, from the first schema on, concurrently, and from the CLI."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tests.store.postgres import postgres_database
from troupe.cli import main
from troupe.messages import AssistantMessage, UserMessage
from troupe.store import SQLConversationStore, StoreError, parse_database_url
from troupe.store._database import Database, open_database
from troupe.store._migrate import (
    VERSION_TABLE,
    _config,
    _upgrade,
    downgrade,
    head_revision,
    revision_of,
    upgrade,
)
from troupe.store._schema import SCHEMA_REVISION, metadata
from troupe.teams import PendingInput, RunState

pytestmark = pytest.mark.anyio
TABLES = {
    "troupe_conversations",
    "troupe_items",
    "troupe_leases",
    "troupe_runs",
    "troupe_run_events",
    "troupe_api_keys",
    "troupe_model_cache",
    "troupe_memory",
    VERSION_TABLE,
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with postgres_database("troupe_migrate") as url:
        yield url


@pytest.fixture
async def database(empty_url: str) -> Any:
    database = open_database(parse_database_url(empty_url))
    yield database
    await database.dispose()


async def tables(database: Database) -> set[str]:
    names = await database.read(lambda conn: sa.inspect(conn).get_table_names())
    return {name for name in names if name.startswith("troupe")}


def test_the_code_knows_the_latest_revision() -> None:
    assert head_revision() == SCHEMA_REVISION


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


async def test_upgrade_builds_the_tables_the_code_uses(database: Database) -> None:
    assert await tables(database) == set()
    assert await upgrade(database) == head_revision()
    assert await tables(database) == TABLES

    def differences(sync: sa.Connection) -> list[Any]:
        context = MigrationContext.configure(sync, opts={"version_table": VERSION_TABLE})
        return list(compare_metadata(context, metadata))

    # A change to _schema.py without a migration (or the reverse) fails here.
    assert await database.read(differences) == []
    assert await upgrade(database) == head_revision()  # again: nothing to do


async def test_an_upgrade_that_fails_halfway_leaves_the_schema_as_it_was(
    database: Database,
) -> None:
    def dies_after_the_migrations(connection: sa.Connection) -> None:
        _upgrade(connection, "head")
        raise RuntimeError("the process dies here")

    with pytest.raises(RuntimeError, match="dies"):
        await database.write(dies_after_the_migrations)
    assert await tables(database) == set()
    assert await revision_of(database) is None


async def test_downgrade_to_nothing_and_up_again(database: Database) -> None:
    await upgrade(database)
    assert await downgrade(database, "base") is None
    assert await tables(database) == {VERSION_TABLE}
    assert await upgrade(database) == head_revision()
    assert await tables(database) == TABLES


async def test_a_conversation_stored_by_the_first_schema_survives_every_upgrade(
    database: Database, empty_url: str
) -> None:
    chain = revisions()
    assert chain[-1] == head_revision()
    await upgrade(database, chain[0])
    # Written as troupe wrote it at the first revision: the columns of that revision.
    transcript = (
        UserMessage(content="Write a slogan"),
        AssistantMessage(content="Tea, simply.", source="writer"),
    )
    state = RunState(
        conversation_id="old-one",
        team="review",
        next_speaker=1,
        pending_input=PendingInput(agent="you", prompt="Verdict?"),
        runs=1,
    )
    encoded = [msgspec.json.encode(m) for m in transcript]

    def write(conn: sa.Connection) -> None:
        conn.execute(
            sa.text(
                "INSERT INTO troupe_conversations (scope, id, team, title, state, item_count, "
                "transcript_bytes, fingerprint, waiting_for, created_at, updated_at) VALUES "
                "('', 'old-one', 'review', 'Write a slogan', :state, 2, :size, :fp, 'you', "
                "1700000000, 1700000000)"
            ),
            {"state": msgspec.json.encode(state), "size": sum(map(len, encoded)), "fp": "e" * 64},
        )
        for seq, data in enumerate(encoded):
            conn.execute(
                sa.text(
                    "INSERT INTO troupe_items (scope, conversation_id, seq, data) "
                    "VALUES ('', 'old-one', :seq, :data)"
                ),
                {"seq": seq, "data": data},
            )

    await database.write(write)
    for revision in chain[1:]:
        await upgrade(database, revision)
    store = SQLConversationStore(empty_url)
    try:
        loaded = await store.load("old-one")
        assert loaded == msgspec.structs.replace(state, transcript=transcript)
        assert await store.find("e" * 64) == "old-one"
        (summary,) = await store.list_conversations()
        assert (summary.title, summary.waiting_for, summary.items) == ("Write a slogan", "you", 2)
    finally:
        await store.close()


async def test_replicas_starting_together_migrate_once(empty_url: str) -> None:
    stores = [SQLConversationStore(empty_url) for _ in range(4)]
    try:
        async with anyio.create_task_group() as tg:
            for store in stores:
                tg.start_soon(store.open)
        assert {store.revision for store in stores} == {head_revision()}
    finally:
        for store in stores:
            await store.close()


async def test_a_schema_from_a_newer_troupe_is_refused_clearly(
    database: Database, empty_url: str
) -> None:
    await upgrade(database)
    await database.write(
        lambda conn: conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = 'f00d'"))
    )
    store = SQLConversationStore(empty_url)
    with pytest.raises(StoreError, match=r"'f00d'.*newer troupe"):
        await store.open()
    await store.close()


async def test_without_migrate_an_old_schema_asks_for_troupe_db_upgrade(
    database: Database, empty_url: str
) -> None:
    store = SQLConversationStore(empty_url, migrate=False)
    with pytest.raises(StoreError, match="troupe db upgrade"):
        await store.open()
    await store.close()
    assert await revision_of(database) is None


def test_troupe_db_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TROUPE_DATABASE_URL", raising=False)
    config = tmp_path / "teams.yaml"
    config.write_text("server:\n  database_url: sqlite:///data/conversations.db\n")
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    database = tmp_path / "data" / "conversations.db"
    assert f"sqlite:///{database}: schema at revision {head_revision()}" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", str(config)]) == 0  # idempotent
    # The environment names the database of every replica; it wins over the file.
    other = tmp_path / f"{uuid.uuid4().hex}.db"
    monkeypatch.setenv("TROUPE_DATABASE_URL", f"sqlite:///{other}")
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert other.exists()
    capsys.readouterr()
    assert main(["db", "upgrade", "--config", str(config), "--database-url", "mysql://x"]) == 1
    assert "unsupported database URL 'mysql://x'" in capsys.readouterr().err


def test_troupe_db_upgrade_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TROUPE_DATABASE_URL", raising=False)
    config = tmp_path / "teams.yaml"
    config.write_text("teams: {}\n")
    assert main(["db", "upgrade", "-c", str(config)]) == 0
    assert (tmp_path / ".troupe" / "troupe.db").exists()
