"""SQLite on the event loop: what a user of one server file would notice.

A request's transactions run on the event loop's own connection when they can;
another process writing meanwhile makes them wait on a thread (the server
keeps serving), the WAL still reaches the database file, and a plain client's
next turn finds its conversation without reading the others.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio
import msgspec
import pytest

from troupe.events import AgentFinished, AgentStarted, Event, RunStarted, TextDelta
from troupe.messages import AssistantMessage, Usage, UserMessage
from troupe.store import (
    Lease,
    RunCommit,
    RunEnd,
    RunInput,
    RunRecord,
    SQLConversationStore,
    encode_events,
)
from troupe.store._database import CHECKPOINT_EVERY
from troupe.teams import RunState

pytestmark = pytest.mark.anyio


def _commit(n: int) -> RunCommit:
    """A whole run on a conversation it minted, begun and ended in one commit (as a short
    chat completion's is)."""
    run_id, conv = f"run_{n:08d}", f"conv_{n:08d}"
    log: list[Event] = [RunStarted(agent="team", run_id=run_id, conversation_id=conv)]
    log.append(AgentStarted(agent="assistant", message_id="m1"))
    log += [TextDelta(agent="assistant", message_id="m1", text=" word") for _ in range(50)]
    log.append(AgentFinished(agent="assistant", message_id="m1"))
    question = UserMessage(content="Tell me a story.")
    record = RunRecord(
        id=run_id,
        conversation_id=conv,
        team="team",
        input=RunInput(messages=(question,)),
        created_at=time.time(),
    )
    state = RunState(
        conversation_id=conv,
        team="team",
        transcript=(question, AssistantMessage(content=" word" * 50, source="assistant")),
    )
    return RunCommit(
        run_id=run_id,
        scope="",
        conversation_id=conv,
        lease=Lease(conv, f"tok{n:029d}"),
        owner="host:1:1",
        begin=record,
        first_seq=1,
        last_seq=len(log),
        events=encode_events(log),
        times=msgspec.json.encode(list(range(len(log)))),
        state=state,
        fingerprint=f"fp{n}",
        end=RunEnd(status="completed", stop_reason="stop", usage=Usage()),
    )


async def test_a_commit_waits_for_another_process_writing_and_the_loop_keeps_serving(
    tmp_path: Path,
) -> None:
    store = SQLConversationStore(f"sqlite:///{tmp_path / 'troupe.db'}")
    await store.open()
    try:
        assert await store.commit_runs([_commit(1)]) == [None]
        # Another process (here another connection) holds the write lock for a while.
        other = sqlite3.connect(tmp_path / "troupe.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ticks = 0
        done = anyio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await anyio.sleep(0.01)

        async def commit() -> None:
            assert await store.commit_runs([_commit(2)]) == [None]
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            tg.start_soon(commit)
            await anyio.sleep(0.5)
            assert not done.is_set()  # it waits for the lock...
            assert ticks >= 20  # ...on a thread: the event loop went on meanwhile
            other.execute("COMMIT")
            other.close()
        assert done.is_set()
        assert await store.find("fp2") == "conv_00000002"
    finally:
        await store.close()


async def test_the_wal_reaches_the_database_file_while_the_server_commits(
    tmp_path: Path,
) -> None:
    path = tmp_path / "troupe.db"
    store = SQLConversationStore(f"sqlite:///{path}")
    await store.open()
    try:
        size = path.stat().st_size
        for n in range(CHECKPOINT_EVERY * 4):
            assert await store.commit_runs([_commit(n)]) == [None]
        with anyio.fail_after(10):
            # Checkpointed on the database's own thread (polled: it tells nobody).
            while path.stat().st_size <= size:  # noqa: ASYNC110
                await anyio.sleep(0.02)
    finally:
        await store.close()
    # Every commit is in the file, read by a connection of its own.
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute("SELECT count(*) FROM troupe_runs").fetchone()
    assert count == CHECKPOINT_EVERY * 4


async def test_the_next_turn_finds_its_conversation_by_one_index_entry(tmp_path: Path) -> None:
    """Finding a conversation by its history's fingerprint reads the same few index
    entries with 30 conversations in the scope as with 600."""
    store = SQLConversationStore(f"sqlite:///{tmp_path / 'troupe.db'}")
    await store.open()

    async def steps(fingerprint: str) -> int:
        conn = store._db._loop_conn  # type: ignore[union-attr]
        assert conn is not None  # the event loop's connection runs ``find``
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        counted = [0]

        def count() -> int:
            counted[0] += 1
            return 0

        driver.set_progress_handler(count, 1)
        try:
            assert await store.find(fingerprint) is not None
        finally:
            driver.set_progress_handler(None, 1)
        return counted[0]

    try:
        for n in range(30):
            await store.commit_runs([_commit(n)])
        few = await steps("fp7")
        for n in range(30, 600):
            await store.commit_runs([_commit(n)])
        many = await steps("fp7")
        assert many <= few * 1.5, (few, many)
    finally:
        await store.close()
