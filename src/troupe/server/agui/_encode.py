"""troupe events -> AG-UI events, built and serialized with the AG-UI SDK's own types.

One ``AguiView`` per stream: it keeps what AG-UI needs to be well nested (the
open text and reasoning messages, the agent whose step is open, the pending
interrupt) and closes all of it before the run's last event.

- ``agent_start`` / ``text`` / ``agent_end``: ``TEXT_MESSAGE_START`` (role
  assistant, ``name`` the agent) on the message's first text, ``_CONTENT``,
  ``_END``.
- ``reasoning``: ``REASONING_START`` / ``REASONING_MESSAGE_*`` / ``REASONING_END``.
- ``tool_call`` / ``tool_result``: ``TOOL_CALL_START`` / ``_ARGS`` / ``_END`` /
  ``_RESULT``.
- ``client_tools`` (calls of the front end's tools): ``TOOL_CALL_START`` /
  ``_ARGS`` / ``_END`` per call, then the run's ``RUN_FINISHED`` (outcome
  ``success`` with their ids as ``pendingToolCallIds``); the front end runs them
  and sends the results in its next run.
- every agent's turn: ``STEP_STARTED`` / ``STEP_FINISHED`` named after the agent.
- handoffs, speaker selections, code execution, usage, input requests, a run
  taken over: ``CUSTOM`` named ``troupe.<type>`` with the event as its value.
- the end: ``RUN_FINISHED`` (outcome ``interrupt`` when the team waits for the
  human, ``cancelled`` when the run was stopped, ``success`` with
  ``pendingToolCallIds`` when it waits for front-end tools), or ``RUN_ERROR``.
"""

from __future__ import annotations

__all__ = ["AguiView"]

import msgspec
from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    Interrupt,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunFinishedOutcome,
    RunFinishedSuccessOutcome,
    RunStartedEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TokenUsage,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from ag_ui.encoder import EventEncoder

from troupe.events import (
    AgentFinished,
    AgentStarted,
    ClientToolsRequested,
    Event,
    InputRequested,
    ReasoningDelta,
    RunEnded,
    RunFailed,
    RunStarted,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)
from troupe.messages import Usage

_encoder = EventEncoder()

# Events that belong to no agent's step: the run's own.
_RUN_LEVEL = (RunStarted, RunEnded, RunFailed)


def interrupt_id(run_id: str) -> str:
    """The id of the interrupt a run ends with when the team waits for the human."""
    return f"{run_id}:input"


class AguiView:
    """The AG-UI frames of one run, for the thread ``thread_id`` and the client's ``run_id``."""

    def __init__(self, thread_id: str, run_id: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self._troupe_run = ""
        self._text: set[str] = set()
        self._reasoning: set[str] = set()
        self._step: str | None = None
        self._pending: InputRequested | None = None
        # The calls of the front end's tools the run ended waiting for.
        self._client_calls: list[str] = []
        self._ended = False

    def encode(self, event: Event) -> bytes:
        return b"".join(_encoder.encode(out).encode() for out in self.events(event))

    def end(self, *, over: bool) -> bytes:
        if over and self._ended:
            return b""
        message = (
            "the run ended without its last event"
            if over
            else "the server stopped following this run; it goes on (GET /v1/runs/{id}/stream)"
        )
        closing = [*self._close_all(), RunErrorEvent(message=message, code="stream_interrupted")]
        self._ended = True
        return b"".join(_encoder.encode(out).encode() for out in closing)

    def events(self, event: Event) -> list[BaseEvent]:
        """The AG-UI events for one troupe event."""
        if self._ended:
            return []
        out: list[BaseEvent] = []
        if not isinstance(event, _RUN_LEVEL) and event.agent != self._step:
            out += self._close_step()
            self._step = event.agent
            out.append(StepStartedEvent(step_name=event.agent))
        match event:
            case RunStarted():
                self._troupe_run = event.run_id
                meta = {"troupe_run_id": event.run_id, "conversation_id": event.conversation_id}
                out.append(
                    RunStartedEvent(thread_id=self.thread_id, run_id=self.run_id, metadata=meta)
                )
            case AgentStarted():
                pass  # the message starts with its first text (a turn of tool calls has none)
            case TextDelta():
                out += self._close_reasoning(event.message_id)
                if event.message_id not in self._text:
                    self._text.add(event.message_id)
                    out.append(
                        TextMessageStartEvent(
                            message_id=event.message_id, role="assistant", name=event.agent
                        )
                    )
                if event.text:
                    out.append(
                        TextMessageContentEvent(message_id=event.message_id, delta=event.text)
                    )
            case ReasoningDelta():
                out += self._reasoning_delta(event)
            case AgentFinished():
                out += self._close_reasoning(event.message_id)
                out += self._close_text(event.message_id)
            case ToolCalled():
                out += _tool_call(event.call_id, event.name, event.arguments)
            case ClientToolsRequested():
                # The front end runs these; its next run on the thread brings the results.
                for call in event.calls:
                    out += _tool_call(call.id, call.name, call.arguments)
                    self._client_calls.append(call.id)
            case ToolResultReturned():
                out.append(
                    ToolCallResultEvent(
                        message_id=f"{event.call_id}:result",
                        tool_call_id=event.call_id,
                        content=event.content,
                        role="tool",
                    )
                )
            case RunFailed():
                out += self._close_all()
                out.append(RunErrorEvent(message=event.message, code=event.code))
                self._ended = True
            case RunEnded():
                out += self._close_all()
                out.append(self._finished(event))
                self._ended = True
            case _:
                if isinstance(event, InputRequested):
                    self._pending = event
                out.append(_custom(event))
        return out

    def _finished(self, event: RunEnded) -> RunFinishedEvent:
        outcome: RunFinishedOutcome | None = None
        if self._pending is not None:
            pending = self._pending
            interrupt = Interrupt(
                id=interrupt_id(self._troupe_run or event.run_id),
                reason=pending.kind,
                message=pending.prompt,
                metadata={"agent": pending.agent, "kind": pending.kind},
            )
            outcome = RunFinishedInterruptOutcome(interrupts=[interrupt])
        elif event.stop_reason.startswith("cancelled"):
            outcome = RunFinishedCancelledOutcome()
        elif self._client_calls:
            outcome = RunFinishedSuccessOutcome(pending_tool_call_ids=self._client_calls)
        return RunFinishedEvent(
            thread_id=self.thread_id,
            run_id=self.run_id,
            outcome=outcome,
            usage=_usage(event.usage),
            result={"stop_reason": event.stop_reason, "turns": event.turns},
        )

    def _reasoning_delta(self, event: ReasoningDelta) -> list[BaseEvent]:
        out: list[BaseEvent] = []
        key = _reasoning_id(event.message_id)
        if event.message_id not in self._reasoning:
            self._reasoning.add(event.message_id)
            out += [ReasoningStartEvent(message_id=key), ReasoningMessageStartEvent(message_id=key)]
        if event.text:
            out.append(ReasoningMessageContentEvent(message_id=key, delta=event.text))
        return out

    def _close_reasoning(self, message_id: str) -> list[BaseEvent]:
        if message_id not in self._reasoning:
            return []
        self._reasoning.discard(message_id)
        key = _reasoning_id(message_id)
        return [ReasoningMessageEndEvent(message_id=key), ReasoningEndEvent(message_id=key)]

    def _close_text(self, message_id: str) -> list[BaseEvent]:
        if message_id not in self._text:
            return []
        self._text.discard(message_id)
        return [TextMessageEndEvent(message_id=message_id)]

    def _close_step(self) -> list[BaseEvent]:
        if self._step is None:
            return []
        step, self._step = self._step, None
        return [StepFinishedEvent(step_name=step)]

    def _close_all(self) -> list[BaseEvent]:
        out: list[BaseEvent] = []
        for message_id in sorted(self._reasoning):
            out += self._close_reasoning(message_id)
        for message_id in sorted(self._text):
            out += self._close_text(message_id)
        return out + self._close_step()


def _tool_call(call_id: str, name: str, arguments: str) -> list[BaseEvent]:
    out: list[BaseEvent] = [ToolCallStartEvent(tool_call_id=call_id, tool_call_name=name)]
    if arguments:
        out.append(ToolCallArgsEvent(tool_call_id=call_id, delta=arguments))
    return [*out, ToolCallEndEvent(tool_call_id=call_id)]


def _reasoning_id(message_id: str) -> str:
    return f"{message_id}:reasoning"


def _custom(event: Event) -> CustomEvent:
    value = msgspec.to_builtins(event)
    return CustomEvent(name=f"troupe.{value['type']}", value=value)


def _usage(usage: Usage) -> list[TokenUsage] | None:
    if not usage.total_tokens:
        return None
    return [
        TokenUsage(
            input_tokens=usage.prompt_tokens,
            output_tokens=usage.completion_tokens,
            total_tokens=usage.prompt_tokens + usage.completion_tokens,
        )
    ]
