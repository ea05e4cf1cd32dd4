"""Databases of their own on the machine's PostgreSQL, created for a test run and dropped after.

``TROUPE_TEST_POSTGRES_URL`` names the server and a database to connect to
for creating them (default: the local server, user postgres, database test).
Without a reachable server the PostgreSQL tests are skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import anyio
import pytest

ADMIN_URL = os.environ.get("TROUPE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def admin(statement: str) -> None:
    """Run one statement on the admin database, from sync code or from within an event loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, _admin, statement).result()


def _reachable() -> str | None:
    try:
        admin("SELECT 1")
    except Exception as err:  # any failure means: skip
        return f"{type(err).__name__}: {err}"
    return None


_problem: list[str | None] = []


def require_postgres() -> None:
    if not _problem:
        _problem.append(_reachable())
    if _problem[0] is not None:
        reason = f"PostgreSQL at {ADMIN_URL} is not reachable: {_problem[0]}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI machines run PostgreSQL on 127.0.0.1:5432)")
        # Runs whenever PostgreSQL answers there (or at TROUPE_TEST_POSTGRES_URL).
        pytest.skip(f"{reason}; these cases run when it answers (TROUPE_TEST_POSTGRES_URL)")


@contextmanager
def postgres_database(prefix: str = "troupe_test") -> Iterator[str]:
    """A new, empty database; yields its URL, drops it (and its connections) afterwards."""
    require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
