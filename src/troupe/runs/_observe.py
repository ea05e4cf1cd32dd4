"""Observers of runs: what metrics, traces and the studio hook into.

An observer hears of each run of this process when it starts and when it ends
(then ``run.events``, ``run.times``, ``run.status`` and ``run.usage`` tell what
happened), and may wrap the run's task in a context of its own (a trace span,
so that the spans of model and tool calls made by the run are its children).
Observers are called on the run's path: keep them quick, never raise.
"""

from __future__ import annotations

__all__ = ["RunObserver"]

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from troupe.runs._live import LiveRun


class RunObserver(Protocol):
    def run_started(self, run: LiveRun) -> None: ...

    def run_context(self, run: LiveRun) -> AbstractContextManager[None] | None:
        """A context the run's work happens in (None: none)."""
        ...

    def run_ended(self, run: LiveRun) -> None: ...
