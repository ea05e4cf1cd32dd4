"""The run's event vocabulary: what agents and teams say while they work.

One tagged union, ``Event``, shared by agents, teams, the server and the
adapters. ``troupe.wire`` encodes these to chat-completion chunks and decodes
them back; the ``type`` tags below are the wire's ``delta.troupe.type`` values.
Every event names the ``agent`` it concerns (for ``run_end`` and ``error``
raised by the team itself, the team's name).

Adding an event type means: the Struct here, its line in ``Event``, its
encoding in ``troupe.wire``, its rendering in each adapter, a test.
"""

from __future__ import annotations

__all__ = [
    "AgentFinished",
    "AgentStarted",
    "ClientToolsRequested",
    "CodeExecuted",
    "CodeExecutionStarted",
    "Event",
    "HandoffOccurred",
    "InputRequested",
    "MemoryQueried",
    "MemoryRecalled",
    "ReasoningDelta",
    "RunEnded",
    "RunFailed",
    "RunResumed",
    "RunStarted",
    "SpeakerSelected",
    "TextDelta",
    "ToolCalled",
    "ToolResultReturned",
    "UsageReported",
]

import msgspec

from troupe.messages import ToolCall, Usage


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    # ``gc=False``: an event holds only text, numbers and frozen structs of them, so it can
    # never be in a reference cycle; untracked, the hundreds a run keeps (for its views, a
    # while after it ends) cost the garbage collector nothing.
    # Every field is always on the wire, defaults included (``tool_result.is_error: false``):
    # the wire contract lists them as fields of every event of the type.
    agent: str


class RunStarted(_Event, tag="run_start", frozen=True):
    """A run began (the first event of every run log); ``agent`` is the team."""

    run_id: str
    conversation_id: str


class RunResumed(_Event, tag="run_resumed", frozen=True):
    """A replica took over a run whose process died; the turn in progress then starts over.

    Messages started before this event and not finished never will be."""

    reason: str


class AgentStarted(_Event, tag="agent_start", frozen=True):
    """An agent starts a message; the text deltas that follow belong to it."""

    message_id: str


class AgentFinished(_Event, tag="agent_end", frozen=True):
    """The agent's message is complete."""

    message_id: str


class TextDelta(_Event, tag="text", frozen=True):
    """A piece of an agent's message text."""

    message_id: str
    text: str = ""


class ReasoningDelta(_Event, tag="reasoning", frozen=True):
    """A piece of the model's own thinking text, where the provider gives it."""

    message_id: str
    text: str = ""


class ToolCalled(_Event, tag="tool_call", frozen=True):
    """An agent calls a server-side tool; ``arguments`` is complete JSON text."""

    call_id: str
    name: str
    arguments: str


class ToolResultReturned(_Event, tag="tool_result", frozen=True):
    call_id: str
    name: str
    content: str
    is_error: bool = False


class HandoffOccurred(_Event, tag="handoff", frozen=True):
    """Control passes from ``agent`` to ``target``."""

    target: str
    message: str = ""


class CodeExecutionStarted(_Event, tag="code_execution", frozen=True):
    """``agent`` runs code: its language and text (before it runs)."""

    execution_id: str
    language: str
    code: str


class CodeExecuted(_Event, tag="code_result", frozen=True):
    """The result of a code execution; ``output`` is truncated to the configured size."""

    execution_id: str
    exit_code: int
    output: str = ""
    truncated: bool = False
    timed_out: bool = False


class SpeakerSelected(_Event, tag="speaker_selected", frozen=True):
    """The team chose ``agent`` to speak next (a selector team's choice)."""

    team: str = ""
    reason: str = ""


class InputRequested(_Event, tag="input_requested", frozen=True):
    """The team waits for the human; the next user message answers ``prompt``.

    ``kind`` says what waits: ``proxy`` (a user proxy agent's question),
    ``handoff`` (an agent handed the conversation to the user) or ``approval``
    (code waits to run: ``approve`` runs it, ``reject: <reason>`` does not).
    """

    prompt: str
    kind: str = "proxy"


class ClientToolsRequested(_Event, tag="client_tools", frozen=True):
    """``agent`` calls tools that the client passed in its request: the run pauses until
    the client's next request brings their results (``role: tool`` messages,
    ``function_call_output`` items). Each call is ``{id, name, arguments}``."""

    calls: tuple[ToolCall, ...]


class MemoryQueried(_Event, tag="memory_query", frozen=True):
    """``agent`` asks its memory ``memory`` what it recalls for ``query`` (before its turn)."""

    memory: str
    query: str


class MemoryRecalled(_Event, tag="memory_result", frozen=True):
    """What ``memory`` recalled for ``agent``: ``contents``, most relevant first, with their
    similarity ``scores`` (empty for a memory that does not rank, like a list memory)."""

    memory: str
    contents: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()


class UsageReported(_Event, tag="usage", frozen=True):
    """Token usage of one model call made for ``agent``."""

    usage: Usage


class RunEnded(_Event, tag="run_end", frozen=True):
    """The run stopped; ``stop_reason`` says why."""

    stop_reason: str
    conversation_id: str = ""
    run_id: str = ""
    usage: Usage = Usage()
    turns: int = 0
    duration_ms: int = 0


class RunFailed(_Event, tag="error", frozen=True):
    """The run failed; a clean end of the stream follows."""

    code: str
    message: str


Event = (
    RunStarted
    | RunResumed
    | AgentStarted
    | AgentFinished
    | TextDelta
    | ReasoningDelta
    | ToolCalled
    | ToolResultReturned
    | HandoffOccurred
    | SpeakerSelected
    | CodeExecutionStarted
    | CodeExecuted
    | InputRequested
    | ClientToolsRequested
    | UsageReported
    | MemoryQueried
    | MemoryRecalled
    | RunEnded
    | RunFailed
)
