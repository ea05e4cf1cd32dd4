"""Finished runs kept in memory a while, for late views of this process.

A stream that attaches just after a short run ended, or a client reconnecting at
once, reads the run from memory: every run for ``RECENT_SECONDS`` after its end,
then the newest ``RECENT_RUNS`` of them up to ``KEPT_SECONDS``. Older ones are
read from the store, which has every event a run made. (Every run for 30 s was
120 MB of memory at 250 requests a second, and the garbage collector's work.)
"""

from __future__ import annotations

__all__ = ["KEPT_SECONDS", "RECENT_RUNS", "RECENT_SECONDS", "FinishedRuns"]

import time
from collections import deque

from troupe.runs._live import LiveRun

RECENT_SECONDS = 2.0
RECENT_RUNS = 256
KEPT_SECONDS = 30.0


class FinishedRuns:
    """The finished ones among ``runs`` (a process's runs by id), dropped from it in time."""

    def __init__(self, runs: dict[str, LiveRun]) -> None:
        self._runs = runs
        self._ended: deque[LiveRun] = deque()  # oldest first

    def add(self, run: LiveRun) -> None:
        self._ended.append(run)
        self.drop()

    def drop(self) -> None:
        """Drop, beyond the newest ``RECENT_RUNS``, the runs that ended over
        ``RECENT_SECONDS`` ago, and all that ended over ``KEPT_SECONDS`` ago."""
        ended = self._ended
        now = time.time()
        while ended:
            age = now - (ended[0].ended_at or now)
            if age <= RECENT_SECONDS or (len(ended) <= RECENT_RUNS and age <= KEPT_SECONDS):
                break
            run = ended.popleft()
            if self._runs.get(run.id) is run:
                del self._runs[run.id]
