"""Events <-> OpenAI chat-completion JSON, both directions, in one place.

The server encodes a run's events with ``ChunkEncoder`` (stream) or
``CompletionBuilder`` (non-stream); adapters decode them back with
``StreamDecoder`` / ``events_from_completion``. Both directions share
``Renderer``, which decides for each event what a plain client reads
(``content``, ``reasoning_content``), what a rich client reads
(``delta.troupe``), and what Open WebUI shows in its status line. See
``docs/wire-protocol.md`` for the protocol as built.
"""

from __future__ import annotations

__all__ = [
    "DONE",
    "ChunkEncoder",
    "CompletionBuilder",
    "Renderer",
    "StreamDecoder",
    "answer_text",
    "error_body",
    "events_from_completion",
]

from collections.abc import Mapping
from typing import Any

import msgspec

from troupe._render import Renderer, answer_text
from troupe.events import (
    AgentFinished,
    AgentStarted,
    ClientToolsRequested,
    Event,
    ReasoningDelta,
    RunEnded,
    RunFailed,
    RunResumed,
    RunStarted,
    TextDelta,
)
from troupe.messages import Usage

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keepalive\n\n"

_encode = msgspec.json.Encoder().encode
_decode_event = msgspec.json.Decoder(Event).decode


# --- encoding -------------------------------------------------------------------------


class _Delta(msgspec.Struct, omit_defaults=True):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    troupe: Event | None = None


class _Choice(msgspec.Struct):
    index: int
    delta: _Delta
    finish_reason: str | None


class _UsageOut(msgspec.Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class _Chunk(msgspec.Struct, omit_defaults=True):
    id: str
    object: str
    created: int
    model: str
    choices: list[_Choice]
    usage: _UsageOut | None = None
    event: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def _usage_out(usage: Usage) -> _UsageOut:
    return _UsageOut(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)


def error_body(
    message: str, *, type: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    """The OpenAI error object: ``{"message", "type", "param", "code"}``."""
    return {"message": message, "type": type, "param": param, "code": code}


def tool_calls_out(event: ClientToolsRequested, first: int = 0) -> list[dict[str, Any]]:
    """The client tool calls of ``event`` as chat completions' ``tool_calls``."""
    return [
        {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for index, call in enumerate(event.calls, first)
    ]


def _status(description: str, done: bool = False) -> dict[str, Any]:
    return {"type": "status", "data": {"description": description, "done": done}}


class ChunkEncoder:
    """Encodes one run's events as SSE frames of ``chat.completion.chunk`` JSON.

    Plain text deltas of a single open message are the hot path: their frame is
    a pre-encoded prefix, the JSON string, and a pre-encoded suffix.
    """

    def __init__(self, completion_id: str, created: int, model: str, renderer: Renderer):
        self.id = completion_id
        self.created = created
        self.model = model
        self.renderer = renderer
        head = _encode(_Chunk(completion_id, "chat.completion.chunk", created, model, []))
        head = head[: head.rindex(b"[]")]  # everything up to the choices list
        self._content_prefix = b"data: " + head + b'[{"index":0,"delta":{"content":'
        self._reasoning_prefix = b"data: " + head + b'[{"index":0,"delta":{"reasoning_content":'
        self._suffix = b'},"finish_reason":null}]}\n\n'
        # Client tool calls so far: the run then ends with ``finish_reason: "tool_calls"``.
        self.tool_calls = 0

    def _frame(self, chunk: _Chunk) -> bytes:
        return b"data: " + _encode(chunk) + b"\n\n"

    def _chunk(self, delta: _Delta, finish: str | None = None, **extra: Any) -> _Chunk:
        choice = _Choice(0, delta, finish)
        return _Chunk(self.id, "chat.completion.chunk", self.created, self.model, [choice], **extra)

    def start(self, run_start: RunStarted | None = None) -> bytes:
        """The first frame: the assistant role, as OpenAI sends it (with ``run_start``)."""
        return self._frame(self._chunk(_Delta(role="assistant", content="", troupe=run_start)))

    def encode(self, event: Event) -> bytes:
        """One event's frame (``data: …\n\n``). ``run_start`` is the role frame, ``run_end``
        the frame with the finish reason; ``usage`` and ``DONE`` follow the run's end.
        A deterministic function of the events so far: a stored run's events replayed
        through a new encoder give the same bytes."""
        renderer = self.renderer
        if type(event) is TextDelta:
            to_content = renderer.fast_text(event)
            if to_content is not None:
                prefix = self._content_prefix if to_content else self._reasoning_prefix
                return prefix + _encode(event.text) + self._suffix
        if type(event) is RunStarted:
            return self.start(event)
        if type(event) is RunEnded:
            # Text still held (messages a failure or a stop left open) goes out with the end.
            held, thinking, _, _ = renderer.render(event)
            delta = _Delta(content=held, reasoning_content=thinking, troupe=event)
            finish = "tool_calls" if self.tool_calls else "stop"
            return self._frame(self._chunk(delta, finish, event=_status("done", done=True)))
        if type(event) is ClientToolsRequested:
            return self._tool_calls(event)
        content, reasoning, troupe, status = renderer.render(event)
        delta = _Delta(content=content, reasoning_content=reasoning, troupe=troupe)
        if isinstance(event, RunFailed):
            body = error_body(event.message, type="server_error", code=event.code)
            return self._frame(self._chunk(delta, error=body))
        return self._frame(self._chunk(delta, event=_status(status) if status else None))

    def _tool_calls(self, event: ClientToolsRequested) -> bytes:
        """Client tool calls as ``delta.tool_calls``: one frame (one event, one SSE id) with
        every call whole (index, id, name, arguments), which the SDKs accumulate as usual."""
        _, reasoning, troupe, status = self.renderer.render(event)
        calls = tool_calls_out(event, self.tool_calls)
        self.tool_calls += len(calls)
        delta = _Delta(reasoning_content=reasoning, tool_calls=calls, troupe=troupe)
        return self._frame(self._chunk(delta, event=_status(status) if status else None))

    def usage(self, usage: Usage) -> bytes:
        """The frame after the run's end with the run's total usage (``include_usage``)."""
        final = _Chunk(
            self.id, "chat.completion.chunk", self.created, self.model, [], _usage_out(usage)
        )
        return self._frame(final)

    def finish(self, run_end: RunEnded | None, usage: Usage | None) -> bytes:
        """The closing frames: finish reason (with ``run_end``), usage if asked, ``[DONE]``."""
        content = reasoning = None
        if run_end is not None:
            # Text still held (messages a failure or a stop left open) goes out with the end.
            content, reasoning, _, _ = self.renderer.render(run_end)
        delta = _Delta(content=content, reasoning_content=reasoning, troupe=run_end)
        last = self._chunk(delta, "stop", event=_status("done", done=True))
        out = self._frame(last)
        if usage is not None:
            out += self.usage(usage)
        return out + DONE


class CompletionBuilder:
    """Collects one run's events into a ``chat.completion`` body (non-stream).

    Uses the same ``Renderer`` as the stream, so both carry the same answer.
    ``message.troupe`` lists the events in order, consecutive text deltas of a
    message merged into one ``text`` event.
    """

    def __init__(self, completion_id: str, created: int, model: str, renderer: Renderer):
        self.id = completion_id
        self.created = created
        self.model = model
        self.renderer = renderer
        self.reasoning: list[str] = []
        self.events: list[Event] = []
        self.tool_calls: list[dict[str, Any]] = []
        self._text: dict[str, list[str]] = {}

    def add(self, event: Event) -> None:
        _, reasoning, _, _ = self.renderer.render(event)
        if reasoning:
            self.reasoning.append(reasoning)
        if isinstance(event, ClientToolsRequested):
            for call in tool_calls_out(event, len(self.tool_calls)):
                del call["index"]
                self.tool_calls.append(call)
        if isinstance(event, TextDelta):
            pieces = self._text.get(event.message_id)
            if pieces is None:
                pieces = self._text[event.message_id] = []
                self.events.append(event)  # placeholder, replaced by the merged text in build()
            pieces.append(event.text)
        elif not isinstance(event, ReasoningDelta):
            self.events.append(event)

    def build(self, usage: Usage) -> bytes:
        events = [
            msgspec.structs.replace(e, text="".join(self._text[e.message_id]))
            if isinstance(e, TextDelta)
            else e
            for e in self.events
        ]
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.renderer.answer,
            "refusal": None,
            "troupe": events,
        }
        finish = "stop"
        if self.tool_calls:
            message["content"] = self.renderer.answer or None
            message["tool_calls"] = self.tool_calls
            finish = "tool_calls"
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        body = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
            "usage": _usage_out(usage),
        }
        return _encode(body)


# --- decoding -------------------------------------------------------------------------


def _as_dict(obj: Any) -> Mapping[str, Any]:
    if isinstance(obj, Mapping):
        return obj
    to_dict = getattr(obj, "to_dict", None) or getattr(obj, "model_dump", None)
    if to_dict is None:
        raise TypeError(f"expected a chunk dict or an openai object, got {type(obj).__name__}")
    result: Mapping[str, Any] = to_dict()
    return result


def _event_of(raw: Any) -> Event | None:
    """A ``delta.troupe`` object as an Event; None for types this version does not know."""
    if not isinstance(raw, Mapping):
        return None
    try:
        event: Event = msgspec.convert(raw, Event)
        return event
    except msgspec.ValidationError:
        return None


class StreamDecoder:
    """Turns streamed chunks (dicts or ``openai`` chunk objects) back into events.

    A message's text is the ``text`` of its ``delta.troupe`` tag when that is
    not empty (text held for ``content``, or written after a speaker line),
    else the chunk's ``content`` or ``reasoning_content``. Text without a tag
    belongs to the open message started last, so the decoder keeps that much
    state; use one per stream.
    """

    def __init__(self) -> None:
        self._open: dict[str, TextDelta] = {}  # open messages, in start order
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def feed(self, chunk: Any) -> list[Event]:
        data = _as_dict(chunk)
        if data.get("usage"):
            u = data["usage"]
            self.usage = Usage(
                prompt_tokens=u.get("prompt_tokens") or 0,
                completion_tokens=u.get("completion_tokens") or 0,
            )
        error = data.get("error")
        choices = data.get("choices") or []
        if not choices:
            return [_error_event(error)] if error else []
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        delta = choice.get("delta") or {}
        raw = delta.get("troupe")
        event = _event_of(raw) if raw is not None else None
        if raw is not None and event is None:
            return []  # an event type this client does not know: ignore it
        if isinstance(event, AgentStarted):
            self._open[event.message_id] = TextDelta(agent=event.agent, message_id=event.message_id)
        elif isinstance(event, AgentFinished):
            self._open.pop(event.message_id, None)
        elif isinstance(event, RunResumed | RunEnded | RunFailed):
            self._open.clear()
        if isinstance(event, ReasoningDelta):
            text = event.text or delta.get("reasoning_content") or ""
            return [msgspec.structs.replace(event, text=text)]
        if event is not None and not isinstance(event, TextDelta):
            return [event]  # text beside an event is text released for plain clients
        if event is not None and event.text:
            return [event]
        text = delta.get("content") or delta.get("reasoning_content") or ""
        if not text:
            return [_error_event(error)] if error else []
        if event is None:
            last = next(reversed(self._open.values()), None)
            event = last or TextDelta(agent="assistant", message_id="")
        return [msgspec.structs.replace(event, text=text)]


def _error_event(error: Mapping[str, Any]) -> RunFailed:
    return RunFailed(
        agent="", code=str(error.get("code") or "error"), message=str(error.get("message") or "")
    )


def events_from_completion(completion: Any) -> list[Event]:
    """The events of a non-stream ``chat.completion`` (``message.troupe``)."""
    data = _as_dict(completion)
    choices = data.get("choices") or []
    if not choices:
        return []
    raw_events = (choices[0].get("message") or {}).get("troupe") or []
    return [e for e in (_event_of(raw) for raw in raw_events) if e is not None]


def decode_event_json(data: bytes | str) -> Event:
    """One event from its JSON text (as stored or logged)."""
    event: Event = _decode_event(data)
    return event
