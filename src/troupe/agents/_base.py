"""What every agent is: an immutable definition with one async ``run`` per turn."""

from __future__ import annotations

__all__ = ["Agent", "AgentOutcome", "AgentTurn", "Emit", "new_message_id"]

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

import msgspec

from troupe.events import Event
from troupe.messages import Message, Usage

Emit = Callable[[Event], Awaitable[None]]


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:20]}"


class AgentTurn(msgspec.Struct, frozen=True, kw_only=True):
    """What an agent is given for one turn: the team's transcript so far."""

    transcript: tuple[Message, ...]
    conversation_id: str = ""
    # What this agent kept from its previous turn (``AgentOutcome.state``).
    state: Any = None


class AgentOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What a turn produced: messages to append to the transcript, and their cost.

    ``handoff``: the agent passes control to that agent (or ``"user"``).
    ``input_request``: the agent waits for the human; the prompt to show.
    ``stop``: the agent asked to end the run, for this reason.
    ``state``: the agent's own state to keep for its next turn (nested teams).
    """

    messages: tuple[Message, ...]
    usage: Usage = Usage()
    handoff: str | None = None
    handoff_message: str = ""
    input_request: str | None = None
    # The request is for approval: the human's answer goes back to this agent.
    approval: bool = False
    stop: str | None = None
    state: Any = None


@runtime_checkable
class Agent(Protocol):
    """An agent in a team. ``run`` must not mutate the agent: all state is in the turn."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    async def run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome: ...
