"""Runs as A2A tasks, built with the A2A SDK's own (v1.0) types.

A task is a run: its id is the id of the run that started it, its context the
run's conversation. A task waiting for the human (``input-required``) goes on
in the run that the next message in the task starts; that run carries the
task's id in its metadata (``a2a_task``), and the task's state is its newest
run's. The stream carries the work, not just the answer: a status update per
agent message (the agent in ``metadata.agent``) and per tool call, tool result
or handoff (a data part with the troupe event), then one artifact with the
run's answer, then the final status.
"""

from __future__ import annotations

__all__ = ["TASK_KEY", "TaskView", "task_of", "task_state"]

import time
from collections.abc import Callable, Sequence

import msgspec
from a2a.types import a2a_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from troupe.events import (
    AgentFinished,
    AgentStarted,
    Event,
    InputRequested,
    ReasoningDelta,
    RunEnded,
    RunFailed,
    RunResumed,
    RunStarted,
    SpeakerSelected,
    TextDelta,
    UsageReported,
)
from troupe.messages import UserMessage, text_of
from troupe.store import RunRecord
from troupe.wire import answer_text

# The run metadata key naming the task a run continues.
TASK_KEY = "a2a_task"

_STATES = {
    "queued": pb.TASK_STATE_SUBMITTED,
    "in_progress": pb.TASK_STATE_WORKING,
    "requires_input": pb.TASK_STATE_INPUT_REQUIRED,
    "completed": pb.TASK_STATE_COMPLETED,
    "failed": pb.TASK_STATE_FAILED,
    "cancelled": pb.TASK_STATE_CANCELED,
}
# Events a client of the task sees only through others (or not at all).
_QUIET = (
    RunStarted,
    RunResumed,
    AgentStarted,
    TextDelta,
    ReasoningDelta,
    UsageReported,
    SpeakerSelected,
)

Encode = Callable[[pb.StreamResponse], bytes]


def task_state(status: str) -> pb.TaskState:
    return _STATES.get(status, pb.TASK_STATE_UNSPECIFIED)


def _timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def _agent_message(
    task_id: str, context_id: str, message_id: str, agent: str, text: str
) -> pb.Message:
    message = pb.Message(
        message_id=message_id,
        task_id=task_id,
        context_id=context_id,
        role=pb.ROLE_AGENT,
        parts=[pb.Part(text=text)],
    )
    message.metadata.update({"agent": agent})
    return message


def _event_message(task_id: str, context_id: str, seq: int, event: Event) -> pb.Message:
    """A troupe event (tool call, result, handoff, …) as an agent message with a data part."""
    value = msgspec.to_builtins(event)
    part = pb.Part()
    part.data.struct_value.update(value)
    part.metadata.update({"troupe_type": value["type"]})
    message = pb.Message(
        message_id=f"{task_id}:{seq}",
        task_id=task_id,
        context_id=context_id,
        role=pb.ROLE_AGENT,
        parts=[part],
    )
    message.metadata.update({"agent": event.agent, "troupe_type": value["type"]})
    return message


class _Reader:
    """What a task shows of a run's events, in order: the agents' messages, the answer, the
    pending question, the error."""

    def __init__(self, record: RunRecord, task_id: str) -> None:
        self.record = record
        self.task_id = task_id
        self.events: list[Event] = []
        self.texts: dict[str, list[str]] = {}
        self.messages: list[pb.Message] = []
        self.pending: InputRequested | None = None
        self.error: RunFailed | None = None

    def read(self, event: Event) -> pb.Message | None:
        """Take one event; returns the message it completes, if any."""
        self.events.append(event)
        context = self.record.conversation_id
        message: pb.Message | None = None
        match event:
            case TextDelta():
                self.texts.setdefault(event.message_id, []).append(event.text)
            case AgentFinished():
                text = "".join(self.texts.pop(event.message_id, []))
                if text:
                    message = _agent_message(
                        self.task_id, context, event.message_id, event.agent, text
                    )
            case InputRequested():
                self.pending = event
            case RunFailed():
                self.error = event
            case _ if not isinstance(event, (*_QUIET, RunEnded)):
                message = _event_message(self.task_id, context, len(self.events), event)
        if message is not None:
            self.messages.append(message)
        return message

    def answer(self) -> pb.Artifact | None:
        agents = self.record.input.answer_agents
        text = answer_text(
            self.events,
            frozenset(agents) if agents is not None else None,
            self.record.input.speaker_lines,
        )
        if not text or self.error is not None:
            return None
        return pb.Artifact(
            artifact_id=f"{self.record.id}:answer", name="answer", parts=[pb.Part(text=text)]
        )

    def status(self, status: str, at: float) -> pb.TaskStatus:
        state = task_state(status)
        if self.pending is not None and status in ("requires_input", "in_progress"):
            state = pb.TASK_STATE_INPUT_REQUIRED
        note = None
        if state == pb.TASK_STATE_INPUT_REQUIRED and self.pending is not None:
            note = self.pending.prompt or "the team waits for your answer"
            agent = self.pending.agent
        elif self.error is not None:
            note, agent = self.error.message, self.error.agent
        result = pb.TaskStatus(state=state, timestamp=_timestamp(at))
        if note is not None:
            result.message.CopyFrom(
                _agent_message(self.task_id, self.record.conversation_id, "", agent, note)
            )
            result.message.message_id = f"{self.record.id}:status"
        return result

    def user_messages(self) -> list[pb.Message]:
        return [
            pb.Message(
                message_id=f"{self.record.id}:in:{i}",
                task_id=self.task_id,
                context_id=self.record.conversation_id,
                role=pb.ROLE_USER,
                parts=[pb.Part(text=text_of(m))],
            )
            for i, m in enumerate(self.record.input.messages)
            if isinstance(m, UserMessage)
        ]


def _final_status(event: RunEnded, reader: _Reader) -> str:
    if reader.pending is not None:
        return "requires_input"
    if reader.error is not None:
        return "failed"
    return "cancelled" if event.stop_reason.startswith("cancelled") else "completed"


def task_of(
    record: RunRecord, events: Sequence[Event], task_id: str, *, history_length: int | None = None
) -> pb.Task:
    """The task as its newest run stands (``record``, with its events so far)."""
    reader = _Reader(record, task_id)
    for event in events:
        reader.read(event)
    history = [*reader.user_messages(), *reader.messages]
    if history_length is not None:
        history = history[len(history) - history_length :] if history_length else []
    task = pb.Task(
        id=task_id,
        context_id=record.conversation_id,
        status=reader.status(
            record.status, record.ended_at or record.updated_at or record.created_at
        ),
        history=history,
    )
    artifact = reader.answer() if record.status in ("completed", "requires_input") else None
    if artifact is not None:
        task.artifacts.append(artifact)
    task.metadata.update({"troupe_run_id": record.id, "team": record.team})
    return task


class TaskView:
    """A run's log as the task's stream: the task, then status and artifact updates.

    ``encode`` writes one ``StreamResponse`` in the client's dialect (1.0 or 0.3), inside
    its JSON-RPC frame."""

    def __init__(
        self, record: RunRecord, task_id: str, encode: Encode, stream_error: Callable[[], bytes]
    ) -> None:
        self.record = record
        self.task_id = task_id
        self._encode = encode
        self._stream_error = stream_error
        self._reader = _Reader(record, task_id)
        self._ended = False

    def _update(self, status: pb.TaskStatus) -> bytes:
        update = pb.TaskStatusUpdateEvent(
            task_id=self.task_id, context_id=self.record.conversation_id, status=status
        )
        return self._encode(pb.StreamResponse(status_update=update))

    def encode(self, event: Event) -> bytes:
        if self._ended:
            return b""
        reader = self._reader
        message = reader.read(event)
        now = self.record.created_at
        if isinstance(event, RunStarted):
            task = pb.Task(
                id=self.task_id,
                context_id=self.record.conversation_id,
                status=pb.TaskStatus(state=pb.TASK_STATE_WORKING, timestamp=_timestamp(now)),
                history=reader.user_messages(),
            )
            task.metadata.update({"troupe_run_id": self.record.id, "team": self.record.team})
            return self._encode(pb.StreamResponse(task=task))
        if message is not None:
            status = pb.TaskStatus(state=pb.TASK_STATE_WORKING, message=message)
            return self._update(status)
        if isinstance(event, RunEnded):
            self._ended = True
            status_name = _final_status(event, reader)
            frames = b""
            artifact = reader.answer() if status_name in ("completed", "requires_input") else None
            if artifact is not None:
                update = pb.TaskArtifactUpdateEvent(
                    task_id=self.task_id,
                    context_id=self.record.conversation_id,
                    artifact=artifact,
                    last_chunk=True,
                )
                frames += self._encode(pb.StreamResponse(artifact_update=update))
            return frames + self._update(reader.status(status_name, time.time()))
        return b""

    def end(self, *, over: bool) -> bytes:
        if over and self._ended:
            return b""
        return self._stream_error()
