"""Test doubles that ship with troupe: ``ScriptedModel`` and ``FunctionModel``.

Both implement ``ChatModel`` and stream like a real provider (text in pieces,
tool calls as fragments, usage at the end), so agents and teams are tested on
the same code path they use in production.
"""

from __future__ import annotations

__all__ = ["FunctionModel", "ScriptedModel", "block_model_requests", "tool_call"]

import inspect
import itertools
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence

import anyio

from troupe.messages import ToolCall, Usage, text_of
from troupe.models._base import (
    ModelCapabilities,
    ModelRequest,
    ModelResponse,
    ModelStreamItem,
    TextChunk,
    ToolCallChunk,
)
from troupe.models._guard import block_model_requests

_ids = itertools.count(1)
_WORD = re.compile(r"\S+\s*|\s+")


def tool_call(name: str, arguments: str = "{}", id: str | None = None) -> ToolCall:
    """A ``ToolCall`` for scripts; the id is generated when not given."""
    return ToolCall(id=id or f"call_{next(_ids)}", name=name, arguments=arguments)


Reply = str | ToolCall | Sequence[ToolCall] | ModelResponse


def _as_response(reply: Reply) -> ModelResponse:
    if isinstance(reply, ModelResponse):
        return reply
    if isinstance(reply, str):
        return ModelResponse(content=reply)
    calls = (reply,) if isinstance(reply, ToolCall) else tuple(reply)
    return ModelResponse(tool_calls=calls, finish_reason="tool_calls")


def _estimate_usage(request: ModelRequest, response: ModelResponse) -> Usage:
    prompt = sum(len(text_of(m).split()) + 3 for m in request.messages)
    completion = len(response.content.split()) + sum(
        len(c.arguments) // 4 + 1 for c in response.tool_calls
    )
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


async def _stream_response(
    response: ModelResponse, request: ModelRequest, model: str, delay: float
) -> AsyncGenerator[ModelStreamItem, None]:
    for piece in _WORD.findall(response.content):
        if delay:
            await anyio.sleep(delay)
        yield TextChunk(piece)
    for index, call in enumerate(response.tool_calls):
        yield ToolCallChunk(index=index, id=call.id, name=call.name)
        half = len(call.arguments) // 2
        for part in (call.arguments[:half], call.arguments[half:]):
            if part:
                yield ToolCallChunk(index=index, arguments=part)
    usage = response.usage if response.usage.total_tokens else _estimate_usage(request, response)
    finish = "tool_calls" if response.tool_calls else response.finish_reason
    yield ModelResponse(
        content=response.content,
        tool_calls=response.tool_calls,
        reasoning=response.reasoning,
        usage=usage,
        finish_reason=finish,
        model=model,
    )


class ScriptedModel:
    """Replies with the given script, one item per call, streamed word by word.

    Each reply is a string, a ``ToolCall`` or list of them, or a full
    ``ModelResponse``. ``requests`` records what the model was asked. When the
    script runs out the model raises, so a test notices an unexpected call.
    ``capabilities`` defaults to "can do everything"; pass less to test checks.
    """

    provider = "scripted"

    def __init__(
        self,
        replies: Iterable[Reply],
        *,
        name: str = "scripted",
        delay: float = 0.0,
        capabilities: ModelCapabilities | None = None,
    ):
        self._replies = list(replies)
        self.capabilities = capabilities or ModelCapabilities()
        self._next = 0
        self.model_name = name
        self.delay = delay
        self.requests: list[ModelRequest] = []

    @property
    def remaining(self) -> int:
        return len(self._replies) - self._next

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        self.requests.append(request)
        if self._next >= len(self._replies):
            raise RuntimeError(
                f"ScriptedModel '{self.model_name}' has no reply left for call {self._next + 1}"
            )
        reply = self._replies[self._next]
        self._next += 1
        async for item in _stream_response(
            _as_response(reply), request, self.model_name, self.delay
        ):
            yield item


ModelFunction = Callable[[ModelRequest], Reply | Awaitable[Reply]]


class FunctionModel:
    """Replies with whatever ``fn(request)`` returns (sync or async), streamed."""

    provider = "function"

    def __init__(
        self,
        fn: ModelFunction,
        *,
        name: str | None = None,
        delay: float = 0.0,
        capabilities: ModelCapabilities | None = None,
    ):
        self._fn = fn
        self.capabilities = capabilities or ModelCapabilities()
        self.model_name: str = name or getattr(fn, "__name__", None) or "function"
        self.delay = delay

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        result = self._fn(request)
        reply = await result if inspect.isawaitable(result) else result
        async for item in _stream_response(
            _as_response(reply), request, self.model_name, self.delay
        ):
            yield item
