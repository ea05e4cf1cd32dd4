"""The SQL store's CPU per run, in-process: the commits a run's log writer makes.

    uv run python -m bench.store_commits [--url sqlite:///...|memory] [--runs 640] [--count]

Two patterns, each run with a 200-token answer (about 200 events) on a
conversation it minted, as ``bench.run``'s requests are:

``c=1``   one commit per run: its start, events, state and end together.
``c=64``  runs in groups of 16 sharing transactions, as the writer gathers them at
          concurrency 64: the group's starts (with their first events), a flush of
          their events, their ends (events, state, lease released).
``turn``  the next turn of a stored conversation, as a chat client sending the whole
          history makes it: the conversation found by its fingerprint, its lease
          taken and its state loaded, then one commit (start, events, state, end).

CPU is ``time.process_time`` (the event loop and the worker threads) around the
store calls, per run. ``--count`` also counts what SQLite executes per run
(``set_trace_callback``; each row of an ``executemany`` counts, BEGIN and COMMIT too).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import msgspec

from troupe.events import AgentFinished, AgentStarted, RunStarted, TextDelta
from troupe.messages import AssistantMessage, Usage, UserMessage
from troupe.store import (
    ConversationStore,
    InMemoryConversationStore,
    RunCommit,
    RunEnd,
    RunInput,
    RunRecord,
    encode_events,
)
from troupe.store._base import Lease
from troupe.store._sql import SQLConversationStore
from troupe.teams import RunState

_n = 0


def _run(events: int = 200) -> dict[str, Any]:
    global _n
    _n += 1
    run_id, conv = f"run_{_n:08d}", f"conv_{_n:08d}"
    log = [RunStarted(agent="team", run_id=run_id, conversation_id=conv)]
    log.append(AgentStarted(agent="assistant", message_id="m1"))
    log += [TextDelta(agent="assistant", message_id="m1", text=" token") for _ in range(events)]
    log.append(AgentFinished(agent="assistant", message_id="m1"))
    question = UserMessage(content="Tell me a story.")
    state = RunState(
        conversation_id=conv,
        team="team",
        transcript=(question, AssistantMessage(content=" token" * events, source="assistant")),
    )
    record = RunRecord(
        id=run_id,
        conversation_id=conv,
        team="team",
        input=RunInput(messages=(question,), history=(("user", "Tell me a story."),)),
        created_at=time.time(),
    )
    return {
        "run_id": run_id,
        "scope": "",
        "conversation_id": conv,
        "lease": Lease(conv, f"tok{_n:029d}"),
        "owner": "host:1:1",
        "record": record,
        "log": log,
        "state": state,
        "end": RunEnd(status="completed", stop_reason="stop", usage=Usage(completion_tokens=200)),
    }


def _commit(run: dict[str, Any], first: int, last: int, **kw: Any) -> RunCommit:
    return RunCommit(
        run_id=run["run_id"],
        scope="",
        conversation_id=run["conversation_id"],
        lease=run["lease"],
        owner=run["owner"],
        first_seq=first,
        last_seq=last,
        events=encode_events(run["log"][first - 1 : last]),
        times=msgspec.json.encode(list(range(first, last + 1))),
        **kw,
    )


async def _c1(store: ConversationStore, runs: int) -> float:
    commits = []
    for _ in range(runs):
        run = _run()
        n = len(run["log"])
        commits.append(_commit(run, 1, n, begin=run["record"], state=run["state"], end=run["end"]))
    start = time.process_time()
    for commit in commits:
        assert await store.commit_runs([commit]) == [None]
    return (time.process_time() - start) / runs


async def _c64(store: ConversationStore, runs: int, group: int = 16) -> float:
    rounds = []
    for _ in range(runs // group):
        batch = [_run() for _ in range(group)]
        n = len(batch[0]["log"])
        rounds.append(
            (
                [_commit(r, 1, 3, begin=r["record"]) for r in batch],
                [_commit(r, 4, n // 2) for r in batch],
                [_commit(r, n // 2 + 1, n, state=r["state"], end=r["end"]) for r in batch],
            )
        )
    start = time.process_time()
    for transactions in rounds:
        for commits in transactions:
            assert await store.commit_runs(commits) == [None] * len(commits)
    return (time.process_time() - start) / (len(rounds) * group)


async def _turns(store: ConversationStore, runs: int) -> float:
    turns = []
    for _ in range(runs):
        first = _run()
        n = len(first["log"])
        await store.commit_runs(
            [_commit(first, 1, n, begin=first["record"], state=first["state"], end=first["end"])]
        )
        next_run = _run()
        conv = first["conversation_id"]
        lease = Lease(conv, next_run["lease"].token)
        state = msgspec.structs.replace(first["state"], transcript=first["state"].transcript * 2)
        record = msgspec.structs.replace(next_run["record"], conversation_id=conv)
        next_run.update(conversation_id=conv, lease=lease, record=record, state=state)
        await store.save(first["state"], fingerprint=f"f{conv}")
        turns.append((f"f{conv}", next_run))
    start = time.process_time()
    for fingerprint, run in turns:
        assert await store.find(fingerprint) == run["conversation_id"]
        await store.take_conversation(run["lease"], run_id=run["run_id"], owner="o", load=True)
        n = len(run["log"])
        commit = _commit(run, 1, n, begin=run["record"], state=run["state"], end=run["end"])
        assert await store.commit_runs([commit]) == [None]
    return (time.process_time() - start) / runs


def _counting(store: SQLConversationStore) -> list[int]:
    """Count the statements SQLite executes on the store's connections from now on."""
    counter = [0]

    def count(_: str) -> None:
        counter[0] += 1

    engine = store._db.engine  # type: ignore[union-attr]
    pool = engine.pool
    for record in list(pool._pool.queue):  # type: ignore[attr-defined]
        connection = record.dbapi_connection
        if isinstance(connection, sqlite3.Connection):
            connection.set_trace_callback(count)
    return counter


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--runs", type=int, default=640)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--count", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        store: Any = InMemoryConversationStore() if url == "memory" else SQLConversationStore(url)
        await store.open()
        try:
            await _c1(store, 32)  # warm up: statements compiled, connections opened
            await _c64(store, 32)
            await _turns(store, 32)
            for _ in range(args.repeat):
                c1 = await _c1(store, args.runs)
                c64 = await _c64(store, args.runs)
                turn = await _turns(store, args.runs // 4)
                print(
                    f"CPU per run: c=1 {c1 * 1e6:7.1f} µs   c=64 {c64 * 1e6:7.1f} µs   "
                    f"turn {turn * 1e6:7.1f} µs"
                )
            if args.count and url.startswith("sqlite"):
                counter = _counting(store)
                await _c1(store, 64)
                c1_count, counter[0] = counter[0], 0
                await _c64(store, 64)
                c64_count, counter[0] = counter[0], 0
                await _turns(store, 64)
                print(
                    f"SQLite statements per run: c=1 {c1_count / 64:.1f}, c=64 {c64_count / 64:.1f}, "
                    f"turn {counter[0] / 64:.1f} (the first run and a save before it included)"
                )
        finally:
            await store.close()


if __name__ == "__main__":
    anyio.run(main)
