"""Runs: the durable unit of work. The run manager owns them; every API is a view of their logs."""

from troupe.runs._live import LiveRun, Sink
from troupe.runs._manager import RunManager
from troupe.runs._observe import RunObserver
from troupe.runs._types import (
    RunNotFoundError,
    RunSettings,
    RunStart,
    ServerShuttingDownError,
    new_conversation_id,
    new_run_id,
)
from troupe.runs._writer import RunLostError

__all__ = [
    "LiveRun",
    "RunLostError",
    "RunManager",
    "RunNotFoundError",
    "RunObserver",
    "RunSettings",
    "RunStart",
    "ServerShuttingDownError",
    "Sink",
    "new_conversation_id",
    "new_run_id",
]
