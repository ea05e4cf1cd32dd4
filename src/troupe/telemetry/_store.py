"""The store boundary: the run manager's store, with each operation timed and traced.

Operations made for a request or a run are spans under it; the store's own
background work (log flushes, lease renewals, cancel polls) is timed but not
traced, so it does not start a trace of its own four times a second.
"""

from __future__ import annotations

__all__ = ["measured_store"]

import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from troupe.store import ConversationStore
from troupe.telemetry._state import active

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
    span = None
    if tracing is not None and tracing.has_parent():
        span = tracing.start(f"store {operation}", {"db.operation.name": operation})
    outcome = "error"
    started = time.perf_counter()
    try:
        result = await call(*args, **kwargs)
        outcome = "ok"
        return result
    except Exception as err:
        if span is not None:
            from troupe.telemetry._tracing import fail

            fail(span, getattr(err, "code", None) or type(err).__name__)
        raise
    finally:
        if active.metrics is not None:
            active.metrics.store_duration.labels(operation, outcome).observe(
                time.perf_counter() - started
            )
        if span is not None:
            span.end()


def measured_store(store: ConversationStore) -> ConversationStore:
    """``store``, its operations measured (only call this with metrics or traces on)."""
    return cast(ConversationStore, _MeasuredStore(store))
