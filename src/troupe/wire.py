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
    "error_body",
    "events_from_completion",
]

from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec

from troupe.events import (
    AgentFinished,
    AgentStarted,
    CodeExecuted,
    CodeExecutionStarted,
    Event,
    HandoffOccurred,
    InputRequested,
    ReasoningDelta,
    RunEnded,
    RunFailed,
    RunStarted,
    SpeakerSelected,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)
from troupe.messages import Usage

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keepalive\n\n"
_RESULT_PREVIEW = 500

_encode = msgspec.json.Encoder().encode
_decode_event = msgspec.json.Decoder(Event).decode


class Rendered(NamedTuple):
    """What one event becomes on the wire: any of these may be None."""

    content: str | None
    reasoning: str | None
    troupe: Event | None
    status: str | None


class Renderer:
    """Turns events into what clients read; one per run, it tracks open messages.

    ``answer_agents`` names the agents whose text is the team's answer
    (``content``); the others' text goes to ``reasoning_content``. With
    ``speaker_lines`` each answer message starts with a ``**agent:**`` line.
    """

    def __init__(self, answer_agents: frozenset[str] | None = None, speaker_lines: bool = False):
        self.answer_agents = answer_agents
        self.speaker_lines = speaker_lines
        # message_id -> (to content?, the text-tag event sent when messages interleave)
        self.open: dict[str, tuple[bool, TextDelta]] = {}
        self.wrote_content = False
        # Everything written to ``content``: the answer a client will send back as history.
        self.content: list[str] = []

    @property
    def answer(self) -> str:
        return "".join(self.content)

    def answers(self, agent: str) -> bool:
        return self.answer_agents is None or agent in self.answer_agents

    def render(self, event: Event) -> Rendered:
        rendered = self._render(event)
        if rendered.content:
            self.content.append(rendered.content)
        return rendered

    def _render(self, event: Event) -> Rendered:
        if isinstance(event, TextDelta):
            to_content, tag = self.open.get(event.message_id, (self.answers(event.agent), None))
            troupe = tag if len(self.open) > 1 else None
            if to_content:
                self.wrote_content = True
                return Rendered(event.text, None, troupe, None)
            return Rendered(None, event.text, troupe, None)
        if isinstance(event, AgentStarted):
            to_content = self.answers(event.agent)
            self.open[event.message_id] = (
                to_content,
                TextDelta(agent=event.agent, message_id=event.message_id),
            )
            status = f"{event.agent} is working"
            if to_content:
                if not self.speaker_lines:
                    return Rendered(None, None, event, status)
                line = ("\n\n" if self.wrote_content else "") + f"**{event.agent}:** "
                self.wrote_content = True
                return Rendered(line, None, event, status)
            return Rendered(None, f"\n\n**{event.agent}:** ", event, status)
        if isinstance(event, AgentFinished):
            self.open.pop(event.message_id, None)
            return Rendered(None, None, event, None)
        if isinstance(event, ReasoningDelta):
            return Rendered(
                None,
                event.text,
                ReasoningDelta(agent=event.agent, message_id=event.message_id),
                None,
            )
        if isinstance(event, ToolCalled):
            readable = f"\n\n`{event.agent}` calls `{event.name}({event.arguments})`\n"
            return Rendered(None, readable, event, f"{event.agent} calls {event.name}")
        if isinstance(event, ToolResultReturned):
            verb = "failed" if event.is_error else "returned"
            preview = event.content[:_RESULT_PREVIEW]
            if len(event.content) > _RESULT_PREVIEW:
                preview += "…"
            return Rendered(None, f"`{event.name}` {verb}: {preview}\n", event, None)
        if isinstance(event, HandoffOccurred):
            readable = f"\n\n`{event.agent}` hands off to `{event.target}`\n"
            return Rendered(None, readable, event, f"{event.agent} hands off to {event.target}")
        if isinstance(event, CodeExecutionStarted):
            readable = f"\n\n`{event.agent}` runs {event.language}:\n```{event.language}\n{event.code}\n```\n"
            return Rendered(None, readable, event, f"{event.agent} runs {event.language} code")
        if isinstance(event, CodeExecuted):
            status = "timed out" if event.timed_out else f"exit code {event.exit_code}"
            readable = f"{status}:\n```\n{event.output[:_RESULT_PREVIEW]}\n```\n"
            return Rendered(None, readable, event, None)
        if isinstance(event, SpeakerSelected):
            readable = f"\n\n`{event.team or 'team'}` chooses `{event.agent}`\n"
            return Rendered(None, readable, event, f"{event.agent} speaks next")
        if isinstance(event, InputRequested):
            if self.answer.rstrip().endswith(event.prompt.strip()):
                # A handoff to the user: the question is the agent's own last words.
                return Rendered(None, None, event, "waiting for your answer")
            text = ("\n\n" if self.wrote_content else "") + event.prompt
            self.wrote_content = True
            return Rendered(text, None, event, "waiting for your answer")
        if isinstance(event, RunEnded):
            return Rendered(None, None, event, None)
        return Rendered(None, None, event, None)


# --- encoding -------------------------------------------------------------------------


class _Delta(msgspec.Struct, omit_defaults=True):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
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
        if type(event) is TextDelta and len(renderer.open) <= 1:
            to_content = renderer.open.get(event.message_id, (renderer.answers(event.agent),))[0]
            if to_content:
                renderer.wrote_content = True
                renderer.content.append(event.text)
                return self._content_prefix + _encode(event.text) + self._suffix
            return self._reasoning_prefix + _encode(event.text) + self._suffix
        if type(event) is RunStarted:
            return self.start(event)
        if type(event) is RunEnded:
            renderer.render(event)
            done = self._chunk(_Delta(troupe=event), "stop", event=_status("done", done=True))
            return self._frame(done)
        content, reasoning, troupe, status = renderer.render(event)
        delta = _Delta(content=content, reasoning_content=reasoning, troupe=troupe)
        if isinstance(event, RunFailed):
            body = error_body(event.message, type="server_error", code=event.code)
            return self._frame(self._chunk(delta, error=body))
        return self._frame(self._chunk(delta, event=_status(status) if status else None))

    def usage(self, usage: Usage) -> bytes:
        """The frame after the run's end with the run's total usage (``include_usage``)."""
        final = _Chunk(
            self.id, "chat.completion.chunk", self.created, self.model, [], _usage_out(usage)
        )
        return self._frame(final)

    def finish(self, run_end: RunEnded | None, usage: Usage | None) -> bytes:
        """The closing frames: finish reason (with ``run_end``), usage if asked, ``[DONE]``."""
        if run_end is not None:
            self.renderer.render(run_end)
        last = self._chunk(_Delta(troupe=run_end), "stop", event=_status("done", done=True))
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
        self._text: dict[str, list[str]] = {}

    def add(self, event: Event) -> None:
        _, reasoning, _, _ = self.renderer.render(event)
        if reasoning:
            self.reasoning.append(reasoning)
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
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        body = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
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

    Text without a ``troupe`` tag belongs to the message started last, so the
    decoder keeps that much state; use one per stream.
    """

    def __init__(self) -> None:
        self._current: TextDelta | None = None
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
            self._current = TextDelta(agent=event.agent, message_id=event.message_id)
            return [event]
        if isinstance(event, ReasoningDelta):
            return [msgspec.structs.replace(event, text=delta.get("reasoning_content") or "")]
        if event is not None and not isinstance(event, TextDelta):
            if (
                isinstance(event, AgentFinished)
                and self._current
                and (self._current.message_id == event.message_id)
            ):
                self._current = None
            return [event]
        text = delta.get("content") or delta.get("reasoning_content") or ""
        if not text:
            return [_error_event(error)] if error else []
        base = event or self._current or TextDelta(agent="assistant", message_id="")
        return [msgspec.structs.replace(base, text=text)]


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
