"""The ``ChatModel`` protocol every provider implements.

A model call is ``model.stream(request)``: an async iterator of deltas (text,
reasoning, tool-call fragments) that ends with exactly one ``ModelResponse``,
the complete answer with assembled tool calls, usage and finish reason.
Providers build that last item with ``ResponseBuilder`` so they all assemble
fragments the same way.
"""

from __future__ import annotations

__all__ = [
    "ChatModel",
    "FinishReason",
    "ModelCapabilities",
    "ModelRequest",
    "ModelResponse",
    "ModelStreamItem",
    "OutputSchema",
    "ReasoningChunk",
    "ResponseBuilder",
    "TextChunk",
    "ToolCallChunk",
    "ToolSpec",
    "complete",
    "joined",
    "read_deltas",
]

from collections.abc import AsyncGenerator, Iterable
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from troupe.errors import UpstreamError
from troupe.messages import Message, ToolCall, Usage
from troupe.telemetry import model_stream

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


class ToolSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What a model is told about a tool: name, description, JSON schema of its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = msgspec.field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    strict: bool = False


class OutputSchema(msgspec.Struct, frozen=True, kw_only=True):
    """Structured output: the JSON schema the model's answer must match.

    ``name`` names the format for providers that want one (OpenAI's
    ``json_schema.name``: letters, digits, ``_`` and ``-``). ``strict`` asks
    for exact adherence where the provider offers it; OpenAI then requires
    every property listed in ``required`` and ``additionalProperties: false``.
    """

    schema: dict[str, Any]
    name: str = "output"
    description: str = ""
    strict: bool = True


class ModelRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One call of a model: the messages it sees, the tools it may call, the answer's shape."""

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: Literal["auto", "none", "required"] = "auto"
    output_schema: OutputSchema | None = None


class ModelCapabilities(msgspec.Struct, frozen=True, kw_only=True):
    """What a model can do. The defaults are permissive: unknown means "allowed".

    ``context_window`` is in tokens; ``None`` when unknown.
    """

    tools: bool = True
    vision: bool = True
    structured_output: bool = True
    context_window: int | None = None


class TextChunk(msgspec.Struct, frozen=True):
    text: str


class ReasoningChunk(msgspec.Struct, frozen=True):
    text: str


class ToolCallChunk(msgspec.Struct, frozen=True, kw_only=True):
    """A fragment of a tool call as it streams; ``index`` says which call it extends."""

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


class ModelResponse(msgspec.Struct, frozen=True, kw_only=True):
    """The complete result of one model call."""

    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str = ""
    # The provider's proof of its thinking (Anthropic's signature), which it wants back
    # with that thinking when the conversation continues after a tool call.
    reasoning_signature: str = ""
    usage: Usage = Usage()
    finish_reason: FinishReason = "stop"
    model: str = ""


ModelStreamItem = TextChunk | ReasoningChunk | ToolCallChunk | ModelResponse
Delta = TextChunk | ReasoningChunk | ToolCallChunk


def joined(items: list[Delta]) -> list[Delta]:
    """Deltas that one read from the network brought, consecutive text (and thinking)
    joined into one: what arrived together goes on together, as a relay forwards what it
    read in one write. A run then logs, encodes and sends one event per read, not one per
    token (a model that streams faster than the server reads gives it 4 to 40 at once)."""
    if len(items) < 2:
        return items
    out: list[Delta] = []
    pieces: list[str] = []
    for item in items:
        if isinstance(item, ToolCallChunk):
            _close(out, pieces)
            pieces = []
        elif out and type(out[-1]) is type(item):
            pieces.append(item.text)
            continue
        else:
            _close(out, pieces)
            pieces = [item.text]
        out.append(item)
    _close(out, pieces)
    return out


def read_deltas(parts: Iterable[list[Delta]]) -> tuple[list[Delta], UpstreamError | None]:
    """The deltas of what one read brought (``parts``: each event's), joined, and the
    error that cut the read short, if one did: the caller sends the deltas, then raises
    it (an answer that started going out is never replayed)."""
    items: list[Delta] = []
    try:
        for part in parts:
            items += part
    except UpstreamError as err:
        return joined(items), err
    return joined(items), None


def _close(out: list[Delta], pieces: list[str]) -> None:
    """The last of ``out`` with the text of its run of ``pieces``."""
    if len(pieces) > 1:
        last = out[-1]
        out[-1] = (
            TextChunk("".join(pieces))
            if type(last) is TextChunk
            else ReasoningChunk("".join(pieces))
        )


@runtime_checkable
class ChatModel(Protocol):
    """A model troupe can call. Implementations must be safe to call concurrently."""

    @property
    def provider(self) -> str:
        """Provider name for messages and errors, e.g. ``"openai"``."""
        ...

    @property
    def model_name(self) -> str:
        """The model's own name, e.g. ``"gpt-4o-mini"``."""
        ...

    @property
    def capabilities(self) -> ModelCapabilities:
        """What the model can do: tools, images, structured output, context window."""
        ...

    def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        """Stream deltas, then exactly one final ``ModelResponse``.

        An async generator, so a caller that stops early can close it (and the
        upstream request under it) at once with ``aclose()``.
        """
        ...


class _PendingCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []


class ResponseBuilder:
    """Accumulates streamed pieces into a ``ModelResponse``.

    Tool-call fragments are joined by ``index``: the first fragment of a call
    usually carries its id and name, later ones pieces of the arguments.
    """

    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, _PendingCall] = {}
        self.usage = Usage()
        self.finish_reason: FinishReason | None = None

    @property
    def call_count(self) -> int:
        """How many tool calls have begun."""
        return len(self._calls)

    def text(self, text: str) -> TextChunk:
        """A piece of the answer's text, added: its delta."""
        self._text.append(text)
        return TextChunk(text)

    def add(self, item: TextChunk | ReasoningChunk | ToolCallChunk) -> None:
        if isinstance(item, TextChunk):
            self._text.append(item.text)
        elif isinstance(item, ReasoningChunk):
            self._reasoning.append(item.text)
        else:
            call = self._calls.get(item.index)
            if call is None:
                call = self._calls[item.index] = _PendingCall()
            if item.id:
                call.id = item.id
            if item.name and not call.name:
                call.name = item.name
            if item.arguments:
                call.arguments.append(item.arguments)

    def build(self, model: str = "") -> ModelResponse:
        calls = tuple(
            ToolCall(
                id=call.id or f"call_{index}",
                name=call.name,
                arguments="".join(call.arguments) or "{}",
            )
            for index, call in sorted(self._calls.items())
        )
        finish = self.finish_reason or ("tool_calls" if calls else "stop")
        if calls and finish == "stop":
            finish = "tool_calls"
        return ModelResponse(
            content="".join(self._text),
            tool_calls=calls,
            reasoning="".join(self._reasoning),
            usage=self.usage,
            finish_reason=finish,
            model=model,
        )


async def complete(model: ChatModel, request: ModelRequest) -> ModelResponse:
    """Call ``model`` and return only its final response."""
    final: ModelResponse | None = None
    async for item in model_stream(model, request):
        if isinstance(item, ModelResponse):
            final = item
    if final is None:
        raise RuntimeError(f"{model.provider} model '{model.model_name}' ended without a response")
    return final
