"""Run state as data: everything a run changes, loaded before and saved after it."""

from __future__ import annotations

__all__ = [
    "GraphProgress",
    "PendingInput",
    "RunInFlight",
    "RunOptions",
    "RunProgress",
    "RunResult",
    "RunState",
    "RunStatus",
    "StepEnd",
    "settle",
]

from typing import Any, Literal

import msgspec

from troupe.agents import TurnEnd
from troupe.errors import TroupeError
from troupe.messages import Message, ToolCall, Usage
from troupe.models import OutputSchema, ToolSpec

RunStatus = Literal["completed", "requires_input", "failed", "cancelled"]


class PendingInput(msgspec.Struct, frozen=True, kw_only=True):
    """The run waits for the human: ``agent`` asked ``prompt``.

    ``proxy``: a user proxy agent asked; the answer is that agent's message.
    ``handoff``: an agent handed off to the user; the answer goes back to it.
    ``client_tools``: the agent called tools of the client's (``calls``); the client's
    next request brings their results and the agent goes on from them.
    """

    agent: str
    prompt: str
    kind: Literal["proxy", "handoff", "approval", "client_tools"] = "proxy"
    calls: tuple[ToolCall, ...] = ()
    # Asked inside ``agent`` (a nested team): the answer goes to it, it speaks first.
    inner: bool = False


class RunOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What the client's request asks of a run beside its messages.

    ``client_tools``: the client's own function tools, offered to every agent that
    takes them. ``tool_choice`` (``auto``, ``none``, ``required`` or a client tool's
    name) holds for the first turn. ``output_schema``: the shape of the answering
    agents' answers.
    """

    client_tools: tuple[ToolSpec, ...] = ()
    tool_choice: str = "auto"
    output_schema: OutputSchema | None = None
    # Instructions for this run only (Responses ``instructions``), after each agent's own.
    instructions: str = ""


class GraphProgress(msgspec.Struct, frozen=True, kw_only=True):
    """Where a graph run is: the nodes to run next, and what each join has heard."""

    ready: tuple[str, ...] = ()
    # join node -> the parents whose edge into it has fired since it last ran
    arrived: dict[str, tuple[str, ...]] = {}
    visits: dict[str, int] = {}


class StepEnd(msgspec.Struct, frozen=True, kw_only=True):
    """How one speaker's turn in the last step ended."""

    agent: str
    end: TurnEnd


class RunInFlight(msgspec.Struct, frozen=True, kw_only=True):
    """A run in progress, as data: everything the run loop keeps between steps, so that
    any replica can continue a run from its last committed step after a crash."""

    id: str = ""
    # Where the run's items begin in the transcript (its first new message).
    start: int = 0
    # Transcript indexes of the run's chat messages: the new user messages, then each
    # turn's final message (what ``max_messages`` and ``text_mention`` read).
    finals: tuple[int, ...] = ()
    handoffs: tuple[tuple[str, str], ...] = ()
    turns: int = 0
    usage: Usage = Usage()
    # Seconds the run has been running, summed over the processes that ran it.
    elapsed: float = 0.0
    last: tuple[StepEnd, ...] = ()
    # The run answered a question the team had asked (a pending input).
    resumed: bool = False


class RunState(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation's state inside a team. Any replica can continue from it."""

    conversation_id: str
    team: str
    transcript: tuple[Message, ...] = ()
    # Round-robin position: the index of the agent that speaks next.
    next_speaker: int = 0
    # Swarm: who has the floor; selector: who spoke last.
    current_speaker: str | None = None
    pending_input: PendingInput | None = None
    # The agent that asked for approval speaks first when the human answers.
    resume_with: str | None = None
    graph: GraphProgress | None = None
    # Agents that keep state between turns (nested teams, code executors waiting for
    # approval) keep it here, by agent name, as plain data each agent decodes itself.
    inner: dict[str, Any] = {}
    usage: Usage = Usage()
    turns: int = 0
    runs: int = 0
    # Set while a run is in progress (saved with each committed step), None between runs.
    run: RunInFlight | None = None
    # The client's key-value notes on the conversation (OpenAI's conversation metadata).
    metadata: dict[str, str] = {}


class RunProgress(msgspec.Struct, frozen=True, kw_only=True):
    """What termination conditions look at: the run so far."""

    messages: tuple[Message, ...]
    """The run's chat messages: the new user messages, then each turn's final message."""
    items: tuple[Message, ...] = ()
    """Everything the run added, tool calls and results included."""
    handoffs: tuple[tuple[str, str], ...] = ()
    """(from, to) for each handoff in the run."""
    usage: Usage = Usage()
    turns: int = 0
    elapsed: float = 0.0
    stop_requested: bool = False
    """Set from outside (the API's stop request)."""


class RunResult(msgspec.Struct, frozen=True, kw_only=True):
    """How a run ended. ``state`` is what to save: the completed turns are kept whatever
    happened to the turn in progress (an error, a stop); with none, the state before."""

    state: RunState
    status: RunStatus
    stop_reason: str
    usage: Usage
    turns: int
    duration_ms: int
    error: TroupeError | None = None


def settle(state: RunState) -> RunState:
    """``state`` with its run in progress closed: the run's completed turns and usage
    added to the conversation's totals. A state with no run in progress is returned as is."""
    flight = state.run
    if flight is None:
        return state
    return msgspec.structs.replace(
        state,
        usage=state.usage + flight.usage,
        turns=state.turns + flight.turns,
        runs=state.runs + 1,
        run=None,
    )
