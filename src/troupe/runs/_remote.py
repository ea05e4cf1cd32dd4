"""What other replicas do to runs: their events written, cancels asked of ours.

With PostgreSQL, replicas notify each other (LISTEN/NOTIFY); with stores that
cannot notify, a follower polls and cancels are polled for.
"""

from __future__ import annotations

__all__ = ["RemoteRuns"]

import logging
from collections.abc import Callable, Mapping

import anyio

from troupe.runs._live import LiveRun
from troupe.store import ACTIVE, ConversationStore, RunRecord, StoreError

logger = logging.getLogger("troupe.runs")


class RemoteRuns:
    def __init__(self, store: ConversationStore, poll_seconds: float) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._news: dict[str, anyio.Event] = {}

    async def wait(self, run_id: str) -> None:
        """Until another replica wrote events of ``run_id`` (or a poll period passed)."""
        news = self._news.setdefault(run_id, anyio.Event())
        with anyio.move_on_after(self.poll_seconds):
            await news.wait()
        if self._news.get(run_id) is news and news.is_set():
            del self._news[run_id]

    async def stop(self, record: RunRecord, wait: float) -> RunRecord:
        """Ask the replica running ``record`` to stop it, and wait (a while) for its end."""
        await self.store.request_cancel(record.id)
        with anyio.move_on_after(wait):
            while True:
                found = await self.store.get_run(record.id, scope=record.scope)
                if found is not None:
                    record = found
                    if record.status not in ACTIVE:
                        break
                await anyio.sleep(0.05)
        return record

    async def poll_cancels(self, running: Callable[[], list[LiveRun]]) -> None:
        """Cancels asked on other replicas, for stores that cannot notify."""
        while True:
            await anyio.sleep(self.poll_seconds)
            mine = {run.id: run for run in running() if run.begun}
            if not mine:
                continue
            try:
                asked = await self.store.cancel_requests(list(mine))
            except StoreError as err:
                logger.warning("cannot read cancel requests: %s", err.message)
                continue
            for run_id in asked:
                if run_id in mine:
                    mine[run_id].control.stop("cancelled")

    async def listen(self, runs: Mapping[str, LiveRun]) -> None:
        """Notifications from other replicas: events written, cancels asked."""
        while True:
            listener = self.store.run_notifications()
            if listener is None:
                return
            try:
                async with listener as notifications:
                    async for kind, run_id in notifications:
                        self._notified(runs, kind, run_id)
            except Exception as err:  # the database went away: listen again soon
                logger.warning("listening for run notifications failed: %s", err)
            await anyio.sleep(1.0)

    def _notified(self, runs: Mapping[str, LiveRun], kind: str, run_id: str) -> None:
        if kind == "events":
            news = self._news.pop(run_id, None)
            if news is not None:
                news.set()
        elif kind == "cancel":
            run = runs.get(run_id)
            if run is not None:
                run.control.stop("cancelled")
