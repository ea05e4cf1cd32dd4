"""The store boundary: the run manager's store, with each operation timed and traced.

Operations made for a request or a run are spans under it. The run log
writer stores many runs' steps in one ``commit_runs`` from a task of its own:
that transaction is a span under each run whose start, step or end it stored.
The rest of the store's background work (event flushes, lease renewals,
cancel polls) is timed but not traced, so it does not start a trace of its own
four times a second.
"""

from __future__ import annotations

__all__ = ["measured_store"]

import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from troupe.store import ConversationStore, RunCommit
from troupe.telemetry._state import active

if TYPE_CHECKING:
    from opentelemetry.trace import Span

# Long-lived or once-per-process calls: not operations worth a latency series.
_UNTIMED = frozenset({"open", "close", "maintain"})


class _MeasuredStore:
    def __init__(self, store: ConversationStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if name.startswith("_") or name in _UNTIMED or not inspect.iscoroutinefunction(attribute):
            return attribute
        return functools.partial(_measured, name, attribute)


async def _measured(
    operation: str, call: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
) -> Any:
    tracing = active.tracing
    spans: list[Span] = []
    if tracing is not None:
        name, attributes = f"store {operation}", {"db.operation.name": operation}
        if tracing.has_parent():
            spans.append(tracing.start(name, attributes))
        elif operation == "commit_runs" and args:
            for run in _runs_stored(args[0], tracing.runs):
                spans.append(tracing.start(name, attributes, parent=run))
    outcome = "error"
    started = time.perf_counter()
    try:
        result = await call(*args, **kwargs)
        outcome = "ok"
        return result
    except Exception as err:
        if spans:
            from troupe.telemetry._tracing import fail

            for span in spans:
                fail(span, getattr(err, "code", None) or type(err).__name__)
        raise
    finally:
        if active.metrics is not None:
            active.metrics.store_duration.labels(operation, outcome).observe(
                time.perf_counter() - started
            )
        for span in spans:
            span.end()


def _runs_stored(commits: Sequence[RunCommit], runs: Mapping[str, Span]) -> list[Span]:
    """The spans of the runs whose start, step or end ``commits`` store (not mere events)."""
    return [
        runs[c.run_id]
        for c in commits
        if (c.begin is not None or c.state is not None or c.end is not None) and c.run_id in runs
    ]


def measured_store(store: ConversationStore) -> ConversationStore:
    """``store``, its operations measured (only call this with metrics or traces on)."""
    return cast(ConversationStore, _MeasuredStore(store))
