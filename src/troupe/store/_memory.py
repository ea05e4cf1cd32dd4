"""The in-memory store: one process, nothing kept across restarts. For tests and embedding.

Runs and their event logs are kept like conversations: while their conversation
lives, and at most ``run_retention_seconds`` after they end.
"""

from __future__ import annotations

__all__ = ["InMemoryConversationStore"]

import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Literal

import anyio
import msgspec

from troupe.errors import ConversationBusyError
from troupe.store._base import ConversationSummary, Lease, StoredConversation
from troupe.store._keys import MemoryKeys
from troupe.store._runs import ACTIVE, RunCommit, RunRecord
from troupe.store._titles import title_of
from troupe.teams import RunState

_Key = tuple[str, str]  # (scope, conversation id)


class _Entry:
    __slots__ = ("created_at", "fingerprint", "state", "title", "updated_at")

    def __init__(self, state: RunState, fingerprint: str | None, created_at: float) -> None:
        self.state = state
        self.fingerprint = fingerprint
        self.created_at = created_at
        self.updated_at = created_at
        self.title = title_of(state.transcript)


class InMemoryConversationStore(MemoryKeys):
    """Keeps up to ``max_conversations`` conversations, least recently used dropped first.

    A lease left behind (a request that never finished) expires after
    ``lease_seconds``; conversations unused for ``ttl_seconds`` are gone.
    """

    def __init__(
        self,
        *,
        max_conversations: int = 10_000,
        lease_seconds: float = 600.0,
        ttl_seconds: float | None = None,
        run_retention_seconds: float | None = 7 * 24 * 3600.0,
    ) -> None:
        self.max_conversations = max_conversations
        self.lease_seconds = lease_seconds
        self.ttl_seconds = ttl_seconds
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._fingerprints: dict[str, _Key] = {}
        self._leases: dict[_Key, tuple[str, float]] = {}
        self.run_retention_seconds = run_retention_seconds
        self._runs: dict[str, RunRecord] = {}
        # run id -> its event log: batches of (first seq, last seq, encoded events, times)
        self._events: dict[str, list[tuple[int, int, bytes, bytes]]] = {}
        # lease token -> the run that holds it
        self._lease_runs: dict[str, str] = {}
        self._cancels: set[str] = set()

    def __len__(self) -> int:
        return len(self._entries)

    async def open(self) -> None:
        return None

    async def maintain(self) -> None:
        """Renew the leases of runs in progress; drop runs past their retention."""
        while True:
            await anyio.sleep(self.lease_seconds / 3)
            until = time.monotonic() + self.lease_seconds
            for key, (token, _) in list(self._leases.items()):
                if token in self._lease_runs:
                    self._leases[key] = (token, until)
            self._purge_runs()

    def _purge_runs(self) -> None:
        if self.run_retention_seconds is None:
            return
        cutoff = time.time() - self.run_retention_seconds
        for run_id, run in list(self._runs.items()):
            if run.ended_at is not None and run.ended_at < cutoff:
                self._drop_run(run_id)

    async def delete_run(self, run_id: str, *, scope: str = "") -> bool:
        run = self._runs.get(run_id)
        if run is None or run.scope != scope or run.status in ACTIVE:
            return False
        self._drop_run(run_id)
        return True

    def _drop_run(self, run_id: str) -> None:
        self._cancels.discard(run_id)
        self._runs.pop(run_id, None)
        self._events.pop(run_id, None)

    def _live(self, key: _Key) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.ttl_seconds is not None and entry.updated_at < time.time() - self.ttl_seconds:
            self._drop(key)
            return None
        return entry

    def _drop(self, key: _Key) -> None:
        for run_id in [r.id for r in self._runs.values() if (r.scope, r.conversation_id) == key]:
            self._drop_run(run_id)
        entry = self._entries.pop(key, None)
        if (
            entry is not None
            and entry.fingerprint is not None
            and self._fingerprints.get(entry.fingerprint) == key
        ):
            del self._fingerprints[entry.fingerprint]

    async def load(self, conversation_id: str, *, scope: str = "") -> RunState | None:
        key = (scope, conversation_id)
        entry = self._live(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry.state

    async def get(self, conversation_id: str, *, scope: str = "") -> StoredConversation | None:
        entry = self._live((scope, conversation_id))
        if entry is None:
            return None
        return StoredConversation(summary=_summary(conversation_id, entry), state=entry.state)

    async def list_conversations(
        self, *, scope: str = "", limit: int = 20, after: str | None = None
    ) -> list[ConversationSummary]:
        mine = [
            (key[1], entry)
            for key in list(self._entries)
            if key[0] == scope and (entry := self._live(key)) is not None
        ]
        mine.sort(key=lambda item: (item[1].created_at, item[0]), reverse=True)
        start = 0
        if after is not None:
            ids = [conversation_id for conversation_id, _ in mine]
            if after not in ids:
                raise KeyError(after)
            start = ids.index(after) + 1
        return [_summary(cid, entry) for cid, entry in mine[start : start + limit]]

    async def save(
        self,
        state: RunState,
        *,
        fingerprint: str | None = None,
        scope: str = "",
        lease: Lease | None = None,
        keep_fingerprint: bool = False,
    ) -> None:
        key = (scope, state.conversation_id)
        if lease is not None:
            held = self._leases.get(key)
            if held is None or held[0] != lease.token:
                raise ConversationBusyError(
                    f"conversation {state.conversation_id!r} was taken over by another request "
                    "while this run was in progress; its result is not saved"
                )
        now = time.time()
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(state, None, now)
        else:
            entry.state = state
            entry.updated_at = now
            if not entry.title:
                entry.title = title_of(state.transcript)
        self._entries.move_to_end(key)
        if not keep_fingerprint:
            if entry.fingerprint is not None and self._fingerprints.get(entry.fingerprint) == key:
                del self._fingerprints[entry.fingerprint]
            entry.fingerprint = fingerprint
            if fingerprint is not None:
                self._fingerprints[fingerprint] = key
        while len(self._entries) > self.max_conversations:
            self._drop(next(iter(self._entries)))

    async def find(self, fingerprint: str, *, scope: str = "") -> str | None:
        key = self._fingerprints.get(fingerprint)
        if key is None or key[0] != scope:
            return None
        entry = self._live(key)
        # Only a conversation's latest history continues it: an earlier point is a new branch.
        return key[1] if entry is not None and entry.fingerprint == fingerprint else None

    async def acquire(self, conversation_id: str, *, scope: str = "") -> Lease:
        key = (scope, conversation_id)
        now = time.monotonic()
        held = self._leases.get(key)
        if held is not None and held[1] > now:
            raise ConversationBusyError(
                f"conversation {conversation_id!r} is busy with another request; retry when it ends"
            )
        lease = Lease(conversation_id, uuid.uuid4().hex, scope)
        self._leases[key] = (lease.token, now + self.lease_seconds)
        return lease

    async def release(self, lease: Lease) -> None:
        key = (lease.scope, lease.conversation_id)
        held = self._leases.get(key)
        if held is not None and held[0] == lease.token:
            del self._leases[key]
        self._lease_runs.pop(lease.token, None)

    # --- runs ---------------------------------------------------------------------------

    def _holds(self, lease: Lease) -> bool:
        held = self._leases.get((lease.scope, lease.conversation_id))
        return held is not None and held[0] == lease.token

    def _take(self, lease: Lease, run_id: str) -> None:
        key = (lease.scope, lease.conversation_id)
        held = self._leases.get(key)
        if held is not None and held[1] > time.monotonic() and held[0] != lease.token:
            raise ConversationBusyError(
                f"conversation {lease.conversation_id!r} is busy with another request; "
                "retry when it ends"
            )
        if held is not None:
            self._lease_runs.pop(held[0], None)
        self._leases[key] = (lease.token, time.monotonic() + self.lease_seconds)
        self._lease_runs[lease.token] = run_id

    async def take_conversation(
        self, lease: Lease, *, run_id: str, owner: str, load: bool
    ) -> RunState | None:
        self._take(lease, run_id)
        return await self.load(lease.conversation_id, scope=lease.scope) if load else None

    async def commit_runs(self, commits: Sequence[RunCommit]) -> list[str | None]:
        problems: list[str | None] = []
        for commit in commits:
            if commit.begin is not None:
                try:
                    self._take(commit.lease, commit.run_id)
                except ConversationBusyError as err:
                    problems.append(err.message)
                    continue
                now = time.time()
                self._runs[commit.run_id] = msgspec.structs.replace(
                    commit.begin, created_at=commit.begin.created_at or now, updated_at=now
                )
            if not self._holds(commit.lease) or commit.run_id not in self._runs:
                problems.append("the run's lease was taken over by another run")
                continue
            problems.append(None)
            run = self._runs[commit.run_id]
            if commit.last_seq >= commit.first_seq:
                self._events.setdefault(commit.run_id, []).append(
                    (commit.first_seq, commit.last_seq, commit.events, commit.times)
                )
                run = msgspec.structs.replace(run, last_event_id=commit.last_seq)
            if commit.state is not None:
                await self.save(
                    commit.state,
                    fingerprint=commit.fingerprint,
                    scope=commit.scope,
                    keep_fingerprint=commit.fingerprint is None,
                )
            now = time.time()
            run = msgspec.structs.replace(run, updated_at=now)
            if commit.end is not None:
                run = msgspec.structs.replace(
                    run,
                    status=commit.end.status,
                    stop_reason=commit.end.stop_reason,
                    usage=commit.end.usage,
                    ended_at=now,
                )
                if commit.release:
                    await self.release(commit.lease)
            self._runs[commit.run_id] = run
        return problems

    async def get_run(self, run_id: str, *, scope: str | None = "") -> RunRecord | None:
        run = self._runs.get(run_id)
        return run if run is not None and scope in (None, run.scope) else None

    async def run_events(self, run_id: str, *, after: int = 0) -> list[bytes]:
        out: list[bytes] = []
        for first, last, data, _ in self._events.get(run_id, ()):
            if last > after:
                out.extend(data.split(b"\n")[max(0, after + 1 - first) :])
        return out

    async def run_event_times(self, run_id: str) -> list[int]:
        decode = msgspec.json.Decoder(list[int]).decode
        return [t for *_, times in self._events.get(run_id, ()) for t in decode(times or b"[]")]

    async def list_runs(
        self, *, scope: str = "", conversation_id: str | None = None, limit: int = 20
    ) -> list[RunRecord]:
        mine = [
            r
            for r in self._runs.values()
            if r.scope == scope and conversation_id in (None, r.conversation_id)
        ]
        mine.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return mine[:limit]

    async def active_run(self, conversation_id: str, *, scope: str = "") -> RunRecord | None:
        key = (scope, conversation_id)
        found = [
            r
            for r in self._runs.values()
            if (r.scope, r.conversation_id) == key and r.status in ACTIVE
        ]
        if found:
            return max(found, key=lambda r: r.created_at)
        held = self._leases.get(key)
        run_id = self._lease_runs.get(held[0]) if held and held[1] > time.monotonic() else None
        if run_id is None:
            return None
        return RunRecord(id=run_id, scope=scope, conversation_id=conversation_id, team="")

    async def runs_holding_leases(self, *, scope: str) -> set[str]:
        now = time.monotonic()
        return {
            run_id
            for (lease_scope, _), (token, until) in self._leases.items()
            if lease_scope == scope and until > now
            for run_id in (self._lease_runs.get(token),)
            if run_id is not None
        }

    async def request_cancel(self, run_id: str) -> None:
        run = self._runs.get(run_id)
        if run is not None:
            self._runs[run_id] = msgspec.structs.replace(run, cancel_requested=True)
        self._cancels.add(run_id)

    async def cancel_requests(self, run_ids: Sequence[str]) -> set[str]:
        return {i for i in run_ids if i in self._cancels}

    async def orphaned_runs(self, owner_alive: Callable[[str], bool]) -> list[RunRecord]:
        now = time.monotonic()
        orphans = []
        for run in self._runs.values():
            held = self._leases.get((run.scope, run.conversation_id))
            if run.status in ACTIVE and (held is None or held[1] <= now):
                orphans.append(run)
        return orphans

    async def claim_run(
        self, run: RunRecord, *, lease: Lease, owner: str, owner_alive: Callable[[str], bool]
    ) -> RunState | Literal[False] | None:
        current = self._runs.get(run.id)
        if current is None or current.status not in ACTIVE:
            return False
        try:
            self._take(lease, run.id)
        except ConversationBusyError:
            return False
        return await self.load(run.conversation_id, scope=run.scope)

    def run_notifications(
        self,
    ) -> AbstractAsyncContextManager[AsyncIterator[tuple[str, str]]] | None:
        return None  # one process: the run manager sees everything itself

    async def delete(self, conversation_id: str, *, scope: str = "") -> bool:
        key = (scope, conversation_id)
        # A conversation whose only run ended before its first turn has runs, no entry.
        found = self._live(key) is not None or any(
            (r.scope, r.conversation_id) == key for r in self._runs.values()
        )
        self._drop(key)
        return found

    async def close(self) -> None:
        """Nothing to release: what is stored stays for as long as the store object lives."""
        self._leases.clear()
        self._lease_runs.clear()


def _summary(conversation_id: str, entry: _Entry) -> ConversationSummary:
    pending = entry.state.pending_input
    return ConversationSummary(
        id=conversation_id,
        team=entry.state.team,
        title=entry.title,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        items=len(entry.state.transcript),
        waiting_for=pending.agent if pending is not None else None,
    )
