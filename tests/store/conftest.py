"""Stores on real databases: SQLite files under tmp, and PostgreSQL (a database per test run)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.store.postgres import postgres_database
from troupe.store import ConversationStore, InMemoryConversationStore, SQLConversationStore

BACKENDS = ["memory", "sqlite", "postgresql"]
SQL_BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """This test run's database; tests keep apart by using ids and scopes of their own."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty database for one test (schema migrations)."""
    with postgres_database("troupe_migrate") as url:
        yield url


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for the backend the test is parametrized with (``sqlite`` or ``postgresql``)."""
    backend = request.param
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'troupe.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def open_stores() -> AsyncIterator[Callable[..., SQLConversationStore]]:
    """Makes SQL stores (replicas, as many as asked) and closes them after the test."""
    stores: list[SQLConversationStore] = []

    def make(url: str, **kwargs: object) -> SQLConversationStore:
        store = SQLConversationStore(url, **kwargs)  # type: ignore[arg-type]
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.close()


@pytest.fixture
async def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    open_stores: Callable[..., SQLConversationStore],
) -> AsyncIterator[ConversationStore]:
    backend = request.param
    if backend == "memory":
        memory = InMemoryConversationStore()
        yield memory
        await memory.close()
        return
    url = (
        f"sqlite:///{tmp_path / 'troupe.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    sql = open_stores(url)
    await sql.open()
    yield sql
