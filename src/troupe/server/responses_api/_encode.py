"""A run's events as Responses API stream events and ``Response`` objects.

``ResponseEncoder`` is a deterministic function of the run's events: fed the
same log it gives the same stream events with the same ``sequence_number``s
(0, 1, 2, …), so a stream resumed with ``starting_after=n`` is the first
stream's events after ``n``, and ``GET /v1/responses/{id}`` is the object the
stream's last event carried.

What the team does becomes:

- each answering agent's message: a ``message`` output item (the agent in the
  item's ``troupe.agent``), streamed as ``output_text`` deltas;
- the work behind it (server-side tool calls and results, handoffs, other
  agents' messages, the models' thinking): ``reasoning`` items whose summary is
  the readable work — never ``function_call`` items, which a client runs;
- a call of the client's own tools: a ``function_call`` item (the response then
  ends ``completed`` and waits for its ``function_call_output``);
- every troupe event (but text deltas) also as an extension event
  ``troupe:<type>`` with its fields and a ``sequence_number``.
"""

from __future__ import annotations

__all__ = ["ResponseEncoder", "response_id", "run_id_of"]

from typing import Any

import msgspec

from troupe._render import readable
from troupe.events import (
    AgentFinished,
    AgentStarted,
    ClientToolsRequested,
    Event,
    InputRequested,
    ReasoningDelta,
    RunEnded,
    RunFailed,
    RunResumed,
    RunStarted,
    TextDelta,
    UsageReported,
)
from troupe.messages import Usage
from troupe.store import RunRecord

Json = dict[str, Any]
_to_builtins = msgspec.to_builtins


def response_id(run_id: str) -> str:
    """The response that views run ``run_<hex>``: ``resp_<hex>``."""
    return "resp_" + run_id.removeprefix("run_")


def run_id_of(response: str) -> str | None:
    """The run a response id views, or None for an id that is no response's."""
    if not response.startswith("resp_") or len(response) > 100:
        return None
    return "run_" + response.removeprefix("resp_")


def _usage(usage: Usage) -> Json:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _part(text: str) -> Json:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


class _Open:
    """An output item being written: its index and text so far."""

    def __init__(self, index: int, item_id: str) -> None:
        self.index = index
        self.item_id = item_id
        self.pieces: list[str] = []
        self.key: str | None = None  # the message whose work was written last

    @property
    def text(self) -> str:
        return "".join(self.pieces)


class ResponseEncoder:
    """Encodes one run's events; ``response()`` is the ``Response`` as they leave it."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        agents = record.input.answer_agents
        self.answer_agents = frozenset(agents) if agents is not None else None
        self.output: list[Json] = []
        self.usage = Usage()
        self.status = "in_progress"
        self.error: Json | None = None
        self.completed_at: int | None = None
        self._messages: dict[str, _Open] = {}
        self._reasoning: _Open | None = None
        self._said = ""  # the last answer text, to not repeat a question the agent asked
        self._seq = -1

    # --- the Response object ---------------------------------------------------------

    def response(self) -> Json:
        record, options = self.record, self.record.input.options
        view = record.input.view
        text = "".join(
            part["text"]
            for item in self.output
            if item["type"] == "message"
            for part in item["content"]
        )
        fmt: Json = {"type": "text"}
        if options.output_schema is not None:
            schema = options.output_schema
            fmt = {
                "type": "json_schema",
                "name": schema.name,
                "schema": schema.schema,
                "strict": schema.strict,
            }
            if schema.description:
                fmt["description"] = schema.description
        choice: str | Json = options.tool_choice
        if choice not in ("auto", "none", "required"):
            choice = {"type": "function", "name": choice}
        return {
            "id": response_id(record.id),
            "object": "response",
            "created_at": int(record.created_at),
            "status": self.status,
            "completed_at": self.completed_at,
            "error": self.error,
            "incomplete_details": None,
            "instructions": options.instructions or None,
            "model": record.team,
            "output": [dict(item) for item in self.output],
            "output_text": text,
            "parallel_tool_calls": True,
            "previous_response_id": view.get("previous_response_id"),
            "conversation": {"id": record.conversation_id} if view.get("conversation") else None,
            "background": record.background,
            "metadata": dict(record.input.metadata),
            "tool_choice": choice,
            "tools": [
                {
                    "type": "function",
                    "name": spec.name,
                    "description": spec.description or None,
                    "parameters": spec.parameters,
                    "strict": spec.strict,
                }
                for spec in options.client_tools
            ],
            "text": {"format": fmt},
            "temperature": None,
            "top_p": None,
            "max_output_tokens": None,
            "reasoning": None,
            "store": record.input.keep,
            "truncation": "disabled",
            "usage": _usage(self.usage),
            "troupe": {"run_id": record.id, "conversation_id": record.conversation_id},
        }

    # --- stream events ---------------------------------------------------------------

    def error_event(self, code: str, message: str) -> Json:
        """An ``error`` stream event, numbered on from the others."""
        return self._event("error", code=code, message=message, param=None)

    def _event(self, kind: str, /, **fields: Any) -> Json:
        # Positional only: an event's own fields (``kind`` of ``input_requested``) may be any.
        self._seq += 1
        return {**fields, "type": kind, "sequence_number": self._seq}

    def encode(self, event: Event) -> list[Json]:
        """The stream events of one run event, numbered on from the previous ones."""
        out: list[Json] = []
        if isinstance(event, TextDelta):
            if self._answers(event.agent):
                self._write(out, event.agent, event.message_id, event.text)
            elif event.text:
                self._work(out, event.message_id, event.agent, event.text)
            return out
        if isinstance(event, ReasoningDelta):
            if event.text:
                self._work(out, event.message_id, event.agent, event.text, label=False)
            return out
        if isinstance(event, RunStarted):
            out.append(self._event("response.created", response=self.response()))
            out.append(self._event("response.in_progress", response=self.response()))
        elif isinstance(event, AgentFinished):
            self._close_message(out, event.message_id)
        elif isinstance(event, RunResumed):
            for message_id in list(self._messages):
                self._close_message(out, message_id, status="incomplete")
        elif isinstance(event, UsageReported):
            self.usage += event.usage
        elif isinstance(event, ClientToolsRequested):
            self._close_reasoning(out)
            for call in event.calls:
                self._function_call(out, call.id, call.name, call.arguments)
        elif isinstance(event, InputRequested):
            if event.prompt.strip() and not self._said.rstrip().endswith(event.prompt.strip()):
                message_id = f"msg_{self.record.id.removeprefix('run_')}_q{len(self.output)}"
                self._write(out, event.agent, message_id, event.prompt)
                self._close_message(out, message_id)
        elif isinstance(event, RunFailed):
            self.error = {"code": "server_error", "message": event.message}
        elif not isinstance(event, AgentStarted | RunEnded):
            line, _ = readable(event)
            if line:
                self._work(out, None, event.agent, line, label=False)
        out.append(self._extension(event))
        if isinstance(event, RunEnded):
            out.extend(self._end(event))
        return out

    def _extension(self, event: Event) -> Json:
        fields = _to_builtins(event)
        kind = fields.pop("type")
        return self._event(f"troupe:{kind}", **fields)

    def _add(self, out: list[Json], item: Json) -> None:
        self.output.append(item)
        index = len(self.output) - 1
        out.append(self._event("response.output_item.added", output_index=index, item=dict(item)))

    def _done(self, out: list[Json], index: int) -> None:
        item = dict(self.output[index])
        out.append(self._event("response.output_item.done", output_index=index, item=item))

    def _answers(self, agent: str) -> bool:
        return self.answer_agents is None or agent in self.answer_agents

    def _write(self, out: list[Json], agent: str, message_id: str, text: str) -> None:
        if not text:
            return
        opened = self._messages.get(message_id)
        if opened is None:
            self._close_reasoning(out)
            opened = self._messages[message_id] = _Open(len(self.output), message_id)
            item: Json = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
                "troupe": {"agent": agent},
            }
            self._add(out, item)
            out.append(
                self._event(
                    "response.content_part.added",
                    item_id=message_id,
                    output_index=opened.index,
                    content_index=0,
                    part=_part(""),
                )
            )
            item["content"] = [_part("")]
        opened.pieces.append(text)
        self.output[opened.index]["content"] = [_part(opened.text)]
        out.append(
            self._event(
                "response.output_text.delta",
                item_id=message_id,
                output_index=opened.index,
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )

    def _close_message(self, out: list[Json], message_id: str, status: str = "completed") -> None:
        opened = self._messages.pop(message_id, None)
        if opened is None:
            return
        text = opened.text
        self._said = text
        where = {"item_id": message_id, "output_index": opened.index, "content_index": 0}
        out.append(self._event("response.output_text.done", **where, text=text, logprobs=[]))
        out.append(self._event("response.content_part.done", **where, part=_part(text)))
        item = self.output[opened.index]
        item["status"] = status
        self._done(out, opened.index)

    def _work(
        self, out: list[Json], key: str | None, agent: str, text: str, *, label: bool = True
    ) -> None:
        """Readable work goes to the open reasoning item's summary (opened if need be)."""
        opened = self._reasoning
        if opened is None:
            item_id = f"rs_{self.record.id.removeprefix('run_')}_{len(self.output)}"
            opened = self._reasoning = _Open(len(self.output), item_id)
            item: Json = {
                "id": item_id,
                "type": "reasoning",
                "summary": [],
                "status": "in_progress",
            }
            self._add(out, item)
            out.append(
                self._event(
                    "response.reasoning_summary_part.added",
                    item_id=item_id,
                    output_index=opened.index,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                )
            )
        if label and key != opened.key:
            text = f"\n\n**{agent}:** {text}"
        opened.key = key
        if not opened.pieces:
            text = text.lstrip()
        opened.pieces.append(text)
        self.output[opened.index]["summary"] = [{"type": "summary_text", "text": opened.text}]
        out.append(
            self._event(
                "response.reasoning_summary_text.delta",
                item_id=opened.item_id,
                output_index=opened.index,
                summary_index=0,
                delta=text,
            )
        )

    def _close_reasoning(self, out: list[Json]) -> None:
        opened, self._reasoning = self._reasoning, None
        if opened is None:
            return
        where = {"item_id": opened.item_id, "output_index": opened.index, "summary_index": 0}
        text = opened.text
        out.append(self._event("response.reasoning_summary_text.done", **where, text=text))
        part = {"type": "summary_text", "text": text}
        out.append(self._event("response.reasoning_summary_part.done", **where, part=part))
        item = self.output[opened.index]
        item["status"] = "completed"
        self._done(out, opened.index)

    def _function_call(self, out: list[Json], call_id: str, name: str, arguments: str) -> None:
        index = len(self.output)
        item_id = f"fc_{call_id}"
        item: Json = {
            "id": item_id,
            "type": "function_call",
            "call_id": call_id,
            "name": name,
            "arguments": "",
            "status": "in_progress",
        }
        self._add(out, item)
        where = {"item_id": item_id, "output_index": index}
        out.append(self._event("response.function_call_arguments.delta", **where, delta=arguments))
        out.append(
            self._event(
                "response.function_call_arguments.done", **where, name=name, arguments=arguments
            )
        )
        item.update(arguments=arguments, status="completed")
        self._done(out, index)

    def _end(self, event: RunEnded) -> list[Json]:
        out: list[Json] = []
        for message_id in list(self._messages):
            self._close_message(out, message_id, status="incomplete")
        self._close_reasoning(out)
        self.usage = event.usage
        if self.error is not None:
            self.status = "failed"
        elif event.stop_reason.startswith("cancelled"):
            self.status = "cancelled"
        else:
            self.status = "completed"
            self.completed_at = int(self.record.created_at + event.duration_ms / 1000)
        kind = "response.completed" if self.status == "completed" else "response.failed"
        out.append(self._event(kind, response=self.response()))
        return out
