"""Every store keeps the same promises; the SQL stores on real SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
import sqlalchemy as sa

from tests.store.conftest import BACKENDS, SQL_BACKENDS
from troupe.errors import ConversationBusyError
from troupe.events import Event, TextDelta
from troupe.messages import (
    AssistantMessage,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from troupe.store import (
    ConversationStore,
    InMemoryConversationStore,
    Lease,
    RunCommit,
    RunEnd,
    RunInput,
    RunRecord,
    SQLConversationStore,
    StoreError,
    decode_events,
    encode_events,
    parse_database_url,
)
from troupe.store._database import open_database
from troupe.teams import GraphProgress, PendingInput, RunState

pytestmark = pytest.mark.anyio
every_store = pytest.mark.parametrize("store", BACKENDS, indirect=True)
sql_url = pytest.mark.parametrize("database_url", SQL_BACKENDS, indirect=True)


def unique(prefix: str = "c") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def rich_state(conversation_id: str, extra: int = 0) -> RunState:
    """A state with every kind of content a team leaves behind."""
    transcript: tuple[Message, ...] = (
        SystemMessage(content="Be brief."),
        UserMessage(content="I was charged twice ✓"),
        AssistantMessage(
            content="",
            source="triage",
            tool_calls=(ToolCall(id="call_1", name="transfer_to_billing", arguments="{}"),),
            usage=Usage(prompt_tokens=12, completion_tokens=3),
        ),
        ToolMessage(
            call_id="call_1",
            name="transfer_to_billing",
            content="Transferred to billing.",
            source="triage",
        ),
        UserMessage(content=(TextPart("see"), ImagePart("data:image/png;base64,AAAA", "low"))),
        AssistantMessage(content="Which invoice?", source="billing", reasoning="hmm"),
        *(UserMessage(content=f"more {i}") for i in range(extra)),
    )
    # A nested team keeps its own state inside the outer one, as plain data.
    nested = RunState(
        conversation_id=conversation_id,
        team="inner",
        transcript=(UserMessage(content="task", source="billing"),),
        next_speaker=1,
    )
    inner = msgspec.json.decode(msgspec.json.encode({"inner": nested, "seen": 2}))
    return RunState(
        conversation_id=conversation_id,
        team="support",
        transcript=transcript,
        next_speaker=3,
        current_speaker="billing",
        pending_input=PendingInput(agent="billing", prompt="Which invoice?", kind="handoff"),
        graph=GraphProgress(ready=("a",), arrived={"j": ("a", "b")}, visits={"a": 2}),
        inner={"researchers": inner},
        usage=Usage(prompt_tokens=40, completion_tokens=9, cached_tokens=5),
        turns=4,
        runs=2,
    )


async def rows(url: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    """Look at the tables directly, as an operator would."""
    database = open_database(parse_database_url(url))
    try:
        return await database.read(
            lambda conn: [tuple(row) for row in conn.execute(sa.text(query), params)]
        )
    finally:
        await database.dispose()


async def execute(url: str, statement: str, **params: Any) -> None:
    database = open_database(parse_database_url(url))
    try:
        await database.write(lambda conn: conn.execute(sa.text(statement), params))
    finally:
        await database.dispose()


@every_store
async def test_a_saved_state_loads_back_equal(store: ConversationStore) -> None:
    cid = unique()
    assert await store.load(cid) is None
    state = rich_state(cid)
    await store.save(state)
    assert await store.load(cid) == state
    stored = await store.get(cid)
    assert stored is not None and stored.state == state
    summary = stored.summary
    assert (summary.id, summary.team, summary.items) == (cid, "support", len(state.transcript))
    assert summary.title == "I was charged twice ✓" and summary.waiting_for == "billing"
    assert summary.created_at <= summary.updated_at


@every_store
async def test_conversations_are_kept_apart_by_scope(store: ConversationStore) -> None:
    cid = unique()
    await store.save(rich_state(cid), scope="key-a", fingerprint="f" * 64)
    other = RunState(conversation_id=cid, team="other")
    await store.save(other, scope="key-b")
    assert (await store.load(cid, scope="key-a")) == rich_state(cid)
    assert (await store.load(cid, scope="key-b")) == other
    assert await store.load(cid) is None
    assert await store.find("f" * 64, scope="key-b") is None
    assert await store.delete(cid, scope="key-c") is False
    assert await store.delete(cid, scope="key-b") is True
    assert await store.load(cid, scope="key-a") is not None


@every_store
async def test_only_the_latest_history_finds_the_conversation(store: ConversationStore) -> None:
    cid, scope = unique(), unique("scope")
    first, second = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
    await store.save(rich_state(cid), fingerprint=first, scope=scope)
    assert await store.find(first, scope=scope) == cid
    await store.save(rich_state(cid, extra=1), fingerprint=second, scope=scope)
    assert await store.find(second, scope=scope) == cid
    # A client that resends the earlier history (it edited or cut what followed) starts a
    # new branch instead of continuing a state it no longer has.
    assert await store.find(first, scope=scope) is None


@every_store
async def test_one_request_at_a_time(store: ConversationStore) -> None:
    cid = unique()
    lease = await store.acquire(cid, scope="s")
    with pytest.raises(ConversationBusyError, match="busy"):
        await store.acquire(cid, scope="s")
    other_scope = await store.acquire(cid, scope="t")  # the same id, another key: not busy
    await store.release(lease)
    await store.release(lease)  # twice is harmless
    again = await store.acquire(cid, scope="s")
    assert again.token != lease.token
    await store.release(again)
    await store.release(other_scope)


def run_record(run_id: str, cid: str, scope: str = "s") -> RunRecord:
    return RunRecord(
        id=run_id,
        scope=scope,
        conversation_id=cid,
        team="t",
        background=True,
        input=RunInput(messages=(UserMessage(content="go"),), history=(("user", "go"),)),
        created_at=1700000000.5,
    )


def texts(n: int, first: int = 1) -> list[Event]:
    return [TextDelta(agent="a", message_id="m", text=f"t{i}") for i in range(first, first + n)]


def commit(
    record: RunRecord, lease: Lease, first: int, events: list[Event], **kw: Any
) -> RunCommit:
    return RunCommit(
        run_id=record.id,
        scope=record.scope,
        conversation_id=record.conversation_id,
        lease=lease,
        first_seq=first,
        last_seq=first + len(events) - 1,
        events=encode_events(events),
        **kw,
    )


@every_store
async def test_a_run_log_is_stored_in_batches_and_read_after_any_event(
    store: ConversationStore,
) -> None:
    cid, run_id = unique(), unique("run")
    record = run_record(run_id, cid)
    lease = Lease(cid, uuid.uuid4().hex, "s")
    assert await store.take_conversation(lease, run_id=run_id, owner="o", load=True) is None
    assert (await store.active_run(cid, scope="s")).id == run_id  # type: ignore[union-attr]
    assert await store.commit_runs([commit(record, lease, 1, texts(3), begin=record)]) == [None]
    state = msgspec.structs.replace(rich_state(cid), team="t")
    assert await store.commit_runs([commit(record, lease, 4, texts(2, 4), state=state)]) == [None]
    stored = await store.get_run(run_id, scope="s")
    assert stored is not None and stored.status == "in_progress" and stored.last_event_id == 5
    assert stored.input == record.input and stored.created_at == record.created_at
    assert await store.get_run(run_id, scope="other") is None
    assert await store.load(cid, scope="s") == state
    for after in (0, 2, 3, 5):
        got = decode_events(b"\n".join(await store.run_events(run_id, after=after)))
        assert got == texts(5)[after:]
    end = RunEnd(status="completed", stop_reason="done", usage=Usage(prompt_tokens=3))
    assert await store.commit_runs([commit(record, lease, 6, [], end=end)]) == [None]
    stored = await store.get_run(run_id, scope="s")
    assert stored is not None and (stored.status, stored.stop_reason) == ("completed", "done")
    assert stored.usage == Usage(prompt_tokens=3) and stored.ended_at is not None
    assert await store.active_run(cid, scope="s") is None
    assert [r.id for r in await store.list_runs(scope="s", conversation_id=cid)] == [run_id]
    # The lease went with the run's end: the conversation is free.
    await store.release(await store.acquire(cid, scope="s"))


@every_store
async def test_a_conversation_known_only_by_a_run_that_ended_before_its_first_turn_is_deleted(
    store: ConversationStore,
) -> None:
    """Its run is listed under it (it has no saved state): deleting it deletes the run, and
    says so."""
    cid, run_id = unique(), unique("run")
    record = run_record(run_id, cid)
    lease = Lease(cid, uuid.uuid4().hex, "s")
    end = RunEnd(status="cancelled", stop_reason="cancelled", usage=Usage())
    first = commit(record, lease, 1, texts(1), begin=record, end=end)
    assert await store.commit_runs([first]) == [None]
    assert await store.load(cid, scope="s") is None
    assert [r.id for r in await store.list_runs(scope="s", conversation_id=cid)] == [run_id]
    assert await store.delete(cid, scope="s") is True
    assert await store.list_runs(scope="s", conversation_id=cid) == []
    assert await store.get_run(run_id, scope="s") is None
    assert await store.delete(cid, scope="s") is False


@every_store
async def test_a_cancel_reaches_a_run_before_its_record_is_written(
    store: ConversationStore,
) -> None:
    cid, run_id = unique(), unique("run")
    lease = Lease(cid, uuid.uuid4().hex, "s")
    await store.take_conversation(lease, run_id=run_id, owner="o", load=False)
    found = await store.active_run(cid, scope="s")
    assert found is not None and found.id == run_id
    assert await store.active_run(cid, scope="other") is None
    assert await store.cancel_requests([run_id]) == set()
    await store.request_cancel(run_id)
    record = run_record(run_id, cid)
    assert await store.commit_runs([commit(record, lease, 1, texts(1), begin=record)]) == [None]
    assert await store.cancel_requests([run_id, "run_other"]) == {run_id}


@every_store
async def test_a_run_whose_lease_was_taken_over_writes_nothing(store: ConversationStore) -> None:
    cid, run_id = unique(), unique("run")
    record = run_record(run_id, cid)
    lease = Lease(cid, uuid.uuid4().hex, "s")
    await store.take_conversation(lease, run_id=run_id, owner="o", load=False)
    assert await store.commit_runs([commit(record, lease, 1, texts(2), begin=record)]) == [None]
    await store.release(lease)  # as if it had expired
    newer = Lease(cid, uuid.uuid4().hex, "s")
    await store.take_conversation(newer, run_id="run_newer", owner="o", load=False)
    [problem] = await store.commit_runs([commit(record, lease, 3, texts(1, 3))])
    assert problem is not None and "taken over" in problem
    # Nor does its end: its state, its record's end; the newer run keeps the conversation.
    end = RunEnd(status="completed", stop_reason="done", usage=Usage())
    state = msgspec.structs.replace(rich_state(cid), team="t")
    [problem] = await store.commit_runs(
        [commit(record, lease, 3, texts(1, 3), state=state, end=end)]
    )
    assert problem is not None and "taken over" in problem
    assert len(await store.run_events(run_id)) == 2
    assert await store.load(cid, scope="s") is None
    stored = await store.get_run(run_id, scope="s")
    assert stored is not None and stored.status == "in_progress"
    with pytest.raises(ConversationBusyError):
        await store.acquire(cid, scope="s")


@every_store
async def test_a_run_on_a_conversation_it_minted_saves_each_step(store: ConversationStore) -> None:
    cid, run_id = unique(), unique("run")
    record = run_record(run_id, cid)
    lease = Lease(cid, uuid.uuid4().hex, "s")
    # Its start: nobody else knows the conversation; its lease is taken with the record.
    assert await store.commit_runs([commit(record, lease, 1, texts(1), begin=record)]) == [None]
    with pytest.raises(ConversationBusyError):
        await store.acquire(cid, scope="s")
    first = msgspec.structs.replace(rich_state(cid), team="t")
    assert await store.commit_runs([commit(record, lease, 2, texts(1, 2), state=first)]) == [None]
    assert await store.load(cid, scope="s") == first
    second = msgspec.structs.replace(rich_state(cid, extra=2), team="t")
    end = RunEnd(status="completed", stop_reason="done", usage=Usage())
    done = commit(record, lease, 3, texts(1, 3), state=second, end=end)
    assert await store.commit_runs([done]) == [None]
    assert await store.load(cid, scope="s") == second
    stored = await store.get_run(run_id, scope="s")
    assert stored is not None and (stored.status, stored.last_event_id) == ("completed", 3)
    await store.release(await store.acquire(cid, scope="s"))


@every_store
async def test_live_runs_flushed_together_keep_their_own_logs_and_a_lost_one_is_told(
    store: ConversationStore,
) -> None:
    runs = []
    for _ in range(3):
        cid, run_id = unique(), unique("run")
        record, lease = run_record(run_id, cid), Lease(cid, uuid.uuid4().hex, "s")
        await store.take_conversation(lease, run_id=run_id, owner="o", load=False)
        assert await store.commit_runs([commit(record, lease, 1, texts(1), begin=record)]) == [None]
        runs.append((record, lease))
    # Every lease holds: all three runs' new events in one flush.
    flush = [commit(record, lease, 2, texts(2, 2)) for record, lease in runs]
    assert await store.commit_runs(flush) == [None, None, None]
    # The second run's conversation was taken over meanwhile: only it is refused.
    lost_lease = runs[1][1]
    await store.release(lost_lease)
    newer = Lease(lost_lease.conversation_id, uuid.uuid4().hex, "s")
    await store.take_conversation(newer, run_id="run_newer", owner="o", load=False)
    problems = await store.commit_runs([commit(r, lease, 4, texts(1, 4)) for r, lease in runs])
    assert problems[0] is None and problems[2] is None
    assert problems[1] is not None and "taken over" in problems[1]
    for (record, _), count in zip(runs, (4, 3, 4), strict=True):
        got = decode_events(b"\n".join(await store.run_events(record.id)))
        assert got == texts(count)
        stored = await store.get_run(record.id, scope="s")
        assert stored is not None and stored.last_event_id == count


@every_store
async def test_an_orphaned_run_is_claimed_once(store: ConversationStore) -> None:
    cid, run_id = unique(), unique("run")
    record = run_record(run_id, cid)
    lease = Lease(cid, uuid.uuid4().hex, "s")
    await store.take_conversation(lease, run_id=run_id, owner="host:1:1", load=False)
    await store.commit_runs([commit(record, lease, 1, texts(1), begin=record)])

    def alive(owner: str) -> bool:
        return owner != "host:1:1"

    if not isinstance(store, InMemoryConversationStore):  # one process: its leases are its own
        assert run_id in [r.id for r in await store.orphaned_runs(alive)]
        claim = Lease(cid, uuid.uuid4().hex, "s")
        assert await store.claim_run(record, lease=claim, owner="o2", owner_alive=alive) is None
        again = Lease(cid, uuid.uuid4().hex, "s")
        assert await store.claim_run(record, lease=again, owner="o3", owner_alive=alive) is False
    assert run_id not in [r.id for r in await store.orphaned_runs(lambda _: True)]


@every_store
async def test_a_save_under_a_lost_lease_is_refused(store: ConversationStore) -> None:
    cid = unique()
    lease = await store.acquire(cid)
    await store.save(rich_state(cid), lease=lease)
    await store.release(lease)
    newer = await store.acquire(cid)
    with pytest.raises(ConversationBusyError, match="taken over"):
        await store.save(rich_state(cid, extra=3), lease=lease)
    assert await store.load(cid) == rich_state(cid)
    await store.release(newer)


@every_store
async def test_listing_is_newest_first_paginated_and_scoped(store: ConversationStore) -> None:
    scope = unique("scope")
    ids = [unique() for _ in range(5)]
    for cid in ids:
        await store.save(RunState(conversation_id=cid, team="t"), scope=scope)
    await store.save(RunState(conversation_id=unique(), team="t"), scope=unique("scope"))
    pages, after = [], None
    while True:
        page = await store.list_conversations(scope=scope, limit=2, after=after)
        if not page:
            break
        pages.append([s.id for s in page])
        after = page[-1].id
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[:1]]
    with pytest.raises(KeyError):
        await store.list_conversations(scope=scope, after="no-such-id")
    assert await store.list_conversations(scope=unique("empty")) == []


@sql_url
async def test_each_save_appends_the_runs_items_as_rows(
    database_url: str, open_stores: Callable[..., SQLConversationStore]
) -> None:
    store = open_stores(database_url)
    cid = unique()
    await store.save(rich_state(cid))
    before = await rows(
        database_url,
        "SELECT seq, data FROM troupe_items WHERE conversation_id = :c ORDER BY seq",
        c=cid,
    )
    await store.save(rich_state(cid, extra=2))
    after = await rows(
        database_url,
        "SELECT seq, data FROM troupe_items WHERE conversation_id = :c ORDER BY seq",
        c=cid,
    )
    assert [seq for seq, _ in after] == list(range(len(rich_state(cid, extra=2).transcript)))
    assert after[: len(before)] == before  # the earlier rows are untouched
    assert msgspec.json.decode(after[-1][1]) == {
        "role": "user",
        "content": "more 1",
        "source": "user",
    }
    (size,) = await rows(
        database_url, "SELECT transcript_bytes FROM troupe_conversations WHERE id = :c", c=cid
    )
    assert size[0] == sum(len(data) for _, data in after)


@sql_url
async def test_a_state_that_does_not_extend_the_stored_one_replaces_it(
    database_url: str, open_stores: Callable[..., SQLConversationStore]
) -> None:
    store = open_stores(database_url)
    cid = unique()
    await store.save(rich_state(cid, extra=3))
    shorter = RunState(conversation_id=cid, team="support", transcript=(UserMessage(content="x"),))
    await store.save(shorter)
    assert await store.load(cid) == shorter
    same_length = msgspec.structs.replace(
        rich_state(cid), transcript=tuple(UserMessage(content=str(i)) for i in range(6))
    )
    await store.save(rich_state(cid))
    await store.save(same_length)
    assert await store.load(cid) == same_length


@sql_url
async def test_a_save_that_fails_halfway_leaves_the_last_commit(
    database_url: str,
    open_stores: Callable[..., SQLConversationStore],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_stores(database_url)
    cid = unique()
    await store.save(rich_state(cid))

    class DiesHere:
        """The conversation row has been written in this transaction; now the items fail."""

        def run(self, conn: Any, params: Any) -> int:
            raise RuntimeError("the process dies here")

    monkeypatch.setattr(store._q, "insert_items", DiesHere())
    with pytest.raises(RuntimeError, match="dies"):
        await store.save(rich_state(cid, extra=2), fingerprint="a" * 64)
    monkeypatch.undo()
    assert await store.load(cid) == rich_state(cid)
    assert await store.find("a" * 64) is None
    stored = await store.get(cid)
    assert stored is not None and stored.summary.items == len(rich_state(cid).transcript)


@sql_url
async def test_two_replicas_racing_for_a_conversation_one_wins(
    database_url: str, open_stores: Callable[..., SQLConversationStore]
) -> None:
    replicas = [open_stores(database_url), open_stores(database_url)]
    cid = unique()
    won: list[str] = []
    busy: list[str] = []

    async def take(store: SQLConversationStore) -> None:
        try:
            won.append((await store.acquire(cid)).token)
        except ConversationBusyError:
            busy.append(cid)

    async with anyio.create_task_group() as tg:
        for i in range(12):
            tg.start_soon(take, replicas[i % 2])
    assert len(won) == 1 and len(busy) == 11


@sql_url
async def test_a_dead_replicas_lease_runs_out_and_a_live_ones_is_renewed(
    database_url: str, open_stores: Callable[..., SQLConversationStore]
) -> None:
    dead, live, other = (open_stores(database_url, lease_seconds=30) for _ in range(3))
    dead_cid, live_cid = unique(), unique()
    await dead.acquire(dead_cid)
    await live.acquire(live_cid)
    # Thirty seconds pass (the clock is the database's: move the expiry instead).
    await execute(database_url, "UPDATE troupe_leases SET expires_at = expires_at - 31")
    assert await live.renew() == 1  # what maintain() does every lease_seconds / 3
    taken = await other.acquire(dead_cid)
    assert taken.conversation_id == dead_cid
    with pytest.raises(ConversationBusyError):
        await other.acquire(live_cid)


@sql_url
async def test_maintain_renews_the_leases_of_runs_in_progress(
    database_url: str, open_stores: Callable[..., SQLConversationStore]
) -> None:
    store = open_stores(database_url, lease_seconds=0.6)  # renewed every 0.2 s
    cid = unique()
    lease = await store.acquire(cid)
    query = "SELECT expires_at FROM troupe_leases WHERE token = :t"
    ((first,),) = await rows(database_url, query, t=lease.token)
    renewed = anyio.Event()
    renew = store.renew
    renewals: list[int] = []

    async def watched() -> int:
        renewals.append(await renew())
        if sum(renewals) >= 2:  # at start, then a third of the lease later
            renewed.set()
        return renewals[-1]

    store.renew = watched  # type: ignore[method-assign]
    async with anyio.create_task_group() as tg:
        tg.start_soon(store.maintain)
        with anyio.fail_after(10):
            await renewed.wait()
        tg.cancel_scope.cancel()
    ((later,),) = await rows(database_url, query, t=lease.token)
    assert later > first
    await store.release(lease)
    assert await rows(database_url, query, t=lease.token) == []


@sql_url
async def test_expired_conversations_are_gone_and_purged(
    database_url: str, open_stores: Callable[..., SQLConversationStore]
) -> None:
    store = open_stores(database_url, ttl_seconds=3600)
    old, fresh, scope = unique(), unique(), unique("scope")
    await store.save(rich_state(old), scope=scope, fingerprint="b" * 64)
    await store.save(rich_state(fresh), scope=scope)
    await execute(
        database_url,
        "UPDATE troupe_conversations SET updated_at = updated_at - 3601 WHERE id = :c",
        c=old,
    )
    assert await store.load(old, scope=scope) is None
    assert await store.find("b" * 64, scope=scope) is None
    assert [s.id for s in await store.list_conversations(scope=scope)] == [fresh]
    assert await store.purge_expired() >= 1
    assert (
        await rows(database_url, "SELECT seq FROM troupe_items WHERE conversation_id = :c", c=old)
        == []
    )
    assert await store.load(fresh, scope=scope) is not None


@sql_url
async def test_deleting_a_conversation_deletes_its_items(
    database_url: str, open_stores: Callable[..., SQLConversationStore]
) -> None:
    store = open_stores(database_url)
    cid = unique()
    await store.save(rich_state(cid))
    assert await store.delete(cid) is True
    assert (
        await rows(database_url, "SELECT seq FROM troupe_items WHERE conversation_id = :c", c=cid)
        == []
    )
    assert await store.delete(cid) is False


async def test_an_unreachable_database_is_a_clear_store_error(tmp_path: Any) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    for url in (
        "postgresql://postgres:secret@127.0.0.1:1/nowhere",
        f"sqlite:///{blocked}/troupe.db",
    ):
        store = SQLConversationStore(url)
        with pytest.raises(StoreError, match="cannot open") as caught:
            await store.load("x")
        assert "secret" not in str(caught.value)
        assert caught.value.status_code == 503
        await store.close()


async def test_a_sqlite_file_another_process_keeps_locked_is_a_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer of another process holding the file longer than the busy timeout: the
    run's commit fails as the store's error (503), not as a crash of the run."""
    from troupe.store import _database

    monkeypatch.setattr(_database, "BUSY_TIMEOUT", 0.2)
    path = tmp_path / "locked.db"
    store = SQLConversationStore(f"sqlite:///{path}")
    await store.open()
    cid, run_id = unique(), unique("run")
    record = run_record(run_id, cid)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="unavailable") as caught:
            await store.commit_runs([commit(record, Lease(cid, "t"), 1, texts(1), begin=record)])
        assert caught.value.status_code == 503
    finally:
        other.rollback()
        other.close()
    assert await store.commit_runs(
        [commit(record, Lease(cid, "t"), 1, texts(1), begin=record)]
    ) == [None]
    await store.close()


async def test_a_transaction_postgresql_ended_for_a_deadlock_is_run_again(tmp_path: Path) -> None:
    """PostgreSQL ends one of two deadlocked transactions (SQLSTATE 40P01); nothing of it was
    written, so the store runs it again instead of failing the run."""

    from troupe.store import SQLConversationStore

    class Deadlock(Exception):
        sqlstate = "40P01"

    store = SQLConversationStore(f"sqlite:///{tmp_path / 'd.db'}")
    await store.open()
    assert store._db is not None
    real = store._db.write
    failures = [2]

    async def flaky(work: Any, *, quick: bool = False) -> Any:
        if failures[0]:
            failures[0] -= 1
            raise sa.exc.DBAPIError("UPDATE troupe_runs ...", {}, Deadlock("deadlock detected"))
        return await real(work, quick=quick)

    store._db.write = flaky  # type: ignore[method-assign]
    await store.save(RunState(conversation_id="c1", team="t"))
    assert failures == [0] and await store.load("c1") == RunState(conversation_id="c1", team="t")
    await store.close()
