"""What every agent is: an immutable definition with one async ``run`` per turn."""

from __future__ import annotations

__all__ = [
    "Agent",
    "AgentOutcome",
    "AgentTurn",
    "Answered",
    "AwaitingInput",
    "Emit",
    "HandedOff",
    "Stopped",
    "ToolsRequested",
    "TurnEnd",
    "new_message_id",
]

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

import msgspec

from troupe._ids import unique_hex
from troupe.events import Event
from troupe.messages import Message, ToolCall, Usage
from troupe.models import OutputSchema, ToolSpec

Emit = Callable[[Event], Awaitable[None]]


def new_message_id() -> str:
    return f"msg_{unique_hex(20)}"


class AgentTurn(msgspec.Struct, frozen=True, kw_only=True):
    """What an agent is given for one turn: the team's transcript so far."""

    transcript: tuple[Message, ...]
    conversation_id: str = ""
    # Who owns the conversation (a hash of the API key): per-tenant resources such as
    # code sandboxes are kept apart by it.
    scope: str = ""
    # What this agent kept from its previous turn (``AgentOutcome.state``).
    state: Any = None
    # The client's own tools (passed in its request) the agent may call; calling one
    # ends the turn with ``ToolsRequested``. ``tool_choice`` applies to its first model call.
    client_tools: tuple[ToolSpec, ...] = ()
    tool_choice: str = "auto"
    # The shape the client asked the answer to have (``response_format``, ``text.format``).
    output_schema: OutputSchema | None = None
    # The client's instructions for this run, added to the agent's system message.
    instructions: str = ""


class Answered(msgspec.Struct, frozen=True, tag="answered"):
    """The agent said its piece; the team's policy decides what comes next."""


class HandedOff(msgspec.Struct, frozen=True, kw_only=True, tag="handed_off"):
    """The agent passed control to ``target`` (another agent, or ``"user"``)."""

    target: str
    message: str = ""


class AwaitingInput(msgspec.Struct, frozen=True, kw_only=True, tag="awaiting_input"):
    """The agent waits for the human: ``prompt`` is what to show. With ``approval`` the
    answer goes back to this agent (it asked leave to do something); so it does with
    ``inner`` (a nested team's agent asked)."""

    prompt: str
    approval: bool = False
    # Asked inside this agent (a user proxy in a nested team), which announced it and
    # takes the answer: the run resumes inside it, not in the outer team's policy.
    inner: bool = False


class Stopped(msgspec.Struct, frozen=True, kw_only=True, tag="stopped"):
    """The agent asked to end the run, for ``reason``."""

    reason: str


class ToolsRequested(msgspec.Struct, frozen=True, kw_only=True, tag="tools_requested"):
    """The agent called tools of the client's: the run waits for their results."""

    calls: tuple[ToolCall, ...]


TurnEnd = Answered | HandedOff | AwaitingInput | Stopped | ToolsRequested
"""How a turn ended: a small tagged type that the team loop dispatches with ``match``."""


class AgentOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What a turn produced: messages to append to the transcript, their cost, how it ended.

    ``state``: the agent's own state to keep for its next turn (nested teams, code
    executors waiting for approval).
    """

    messages: tuple[Message, ...]
    usage: Usage = Usage()
    end: TurnEnd = Answered()
    state: Any = None


@runtime_checkable
class Agent(Protocol):
    """An agent in a team. ``run`` must not mutate the agent: all state is in the turn."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    async def run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome: ...
