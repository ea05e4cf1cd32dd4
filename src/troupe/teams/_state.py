"""Run state as data: everything a run changes, loaded before and saved after it."""

from __future__ import annotations

__all__ = ["RunProgress", "RunResult", "RunState"]

import msgspec

from troupe.errors import TroupeError
from troupe.messages import Message, Usage


class RunState(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation's state inside a team. Any replica can continue from it."""

    conversation_id: str
    team: str
    transcript: tuple[Message, ...] = ()
    # Round-robin position: the index of the agent that speaks next.
    next_speaker: int = 0
    usage: Usage = Usage()
    turns: int = 0
    runs: int = 0


class RunProgress(msgspec.Struct, frozen=True, kw_only=True):
    """What termination conditions look at: the run so far."""

    messages: tuple[Message, ...]
    """The run's chat messages: the new user messages, then each turn's final message."""
    usage: Usage
    turns: int
    elapsed: float


class RunResult(msgspec.Struct, frozen=True, kw_only=True):
    """How a run ended. ``state`` is what to save; on error it is the state before the run."""

    state: RunState
    stop_reason: str
    usage: Usage
    turns: int
    duration_ms: int
    error: TroupeError | None = None
