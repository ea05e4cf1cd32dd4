"""``AnthropicModel``: Claude through the Messages API, on the official ``anthropic`` SDK.

As for OpenAI, the request goes through the SDK's client (auth, version and
default headers, status-error classes) with ``client.post(..., stream=True)``
and a body encoded once by msgspec, and the server-sent events are decoded
by a module-level msgspec decoder rather than into the SDK's pydantic event
models. ``docs/providers.md`` has the measurements behind that choice.
"""

from __future__ import annotations

__all__ = ["AnthropicModel"]

import contextlib
import os
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from typing import Any, Final

import anthropic
import anyio
import httpx2
import msgspec
import sniffio

from troupe.errors import ConfigError, ConfigIssue, UpstreamError, UpstreamRateLimitError
from troupe.messages import Usage
from troupe.models._anthropic_wire import (
    Event,
    EventUsage,
    decode_event,
    ends_with_unsigned_tool_use,
    messages_body,
    tool_param,
)
from troupe.models._base import (
    Delta,
    FinishReason,
    ModelCapabilities,
    ModelRequest,
    ModelStreamItem,
    ReasoningChunk,
    ResponseBuilder,
    TextChunk,
    ToolCallChunk,
    read_deltas,
)
from troupe.models._capabilities import capabilities_for
from troupe.models._guard import check_model_request
from troupe.models._retry import RetryPolicy, retrying
from troupe.models._sse import SSEParser
from troupe.models._upstream import Upstream, check_base_url, is_timeout

try:
    import aiohttp
except ImportError:  # pragma: no cover - aiohttp is optional
    aiohttp = None  # type: ignore[assignment]

_ANTHROPIC_URL: Final = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS: Final = 4096
_RESERVED: Final = frozenset(
    {"model", "messages", "system", "stream", "tools", "tool_choice", "thinking", "output_config"}
)
_FINISH: Final[Mapping[str, FinishReason]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_TOOL_CHOICE: Final = {
    "auto": {"type": "auto"},
    "required": {"type": "any"},
    "none": {"type": "none"},
}
# Error types in a stream's ``error`` event that a retry may cure.
_TRANSIENT_TYPES: Final = frozenset(
    {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
)
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (httpx2.RequestError, OSError)
if aiohttp is not None:
    _TRANSPORT_ERRORS += (aiohttp.ClientError,)
_encode = msgspec.json.Encoder().encode


def _settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """troupe's common settings in Anthropic's terms; a setting it lacks is a config error."""
    out = dict(settings)
    issues = [
        ConfigIssue(f"$.{key}", "is set by troupe and cannot be overridden")
        for key in sorted(_RESERVED.intersection(out))
    ]
    if "seed" in out:
        issues.append(ConfigIssue("$.seed", "Anthropic's API has no seed; remove it"))
    if issues:
        raise ConfigError(issues)
    if "stop" in out:
        stop = out.pop("stop")
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    return out


def _said(exc: anthropic.APIStatusError) -> str:
    body = exc.body  # Anthropic's {"type": "error", "error": {"type", "message"}}
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping) and error.get("message"):
        kind = f" ({error['type']})" if error.get("type") else ""
        return f"{error['message']}{kind}"
    if isinstance(body, str) and body:
        return body[:500]
    return exc.response.reason_phrase or "no details"


class _State:
    """What one streamed answer has said so far."""

    __slots__ = ("builder", "cache_read", "cache_write", "calls", "done", "input", "model",
                 "output", "signature", "thinking_tokens")  # fmt: skip

    def __init__(self, model: str) -> None:
        self.builder = ResponseBuilder()
        self.calls: dict[int, int] = {}  # content block index -> tool call index
        self.model = model
        self.input = self.output = self.cache_read = self.cache_write = self.thinking_tokens = 0
        self.signature = ""
        self.done = False

    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.input + self.cache_write + self.cache_read,
            completion_tokens=self.output,
            cached_tokens=self.cache_read,
            reasoning_tokens=self.thinking_tokens,
        )


class AnthropicModel:
    """A Claude model behind Anthropic's Messages API.

    ``api_key`` defaults to ``ANTHROPIC_API_KEY``, ``base_url`` to
    ``ANTHROPIC_BASE_URL``, else Anthropic's. ``settings`` take troupe's names
    (``temperature``, ``max_tokens``, ``top_p``, ``stop``) plus any field the
    API accepts (``top_k``, ``metadata``); ``max_tokens`` is required by the
    API and defaults to 4096. ``thinking`` is the API's thinking config, e.g.
    ``{"type": "enabled", "budget_tokens": 2048}`` or ``{"type": "adaptive"}``.
    ``timeout``, ``max_retries``/``retry`` and ``capabilities`` are as for
    ``OpenAIModel``.
    """

    provider = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        settings: Mapping[str, Any] | None = None,
        thinking: Mapping[str, Any] | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        retry: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx2.AsyncClient | None = None,
        capabilities: ModelCapabilities | None = None,
    ) -> None:
        self.model_name = model
        url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or _ANTHROPIC_URL
        self.base_url = check_base_url(url.rstrip("/"))
        key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY", "")
        # The provider's own endpoint without a key: config reports it before any call.
        self.needs_api_key = not key and self.base_url == _ANTHROPIC_URL
        self._api_key = key or "none"
        self.settings = _settings(settings or {})
        self.thinking = dict(thinking) if thinking else None
        budget = int((self.thinking or {}).get("budget_tokens") or 0)
        self.max_tokens = int(
            self.settings.pop("max_tokens", 0)
            or max(DEFAULT_MAX_TOKENS, budget + DEFAULT_MAX_TOKENS // 2)
        )
        if budget and budget >= self.max_tokens:
            raise ConfigError(
                ConfigIssue(
                    "$.thinking.budget_tokens",
                    f"must be less than max_tokens ({self.max_tokens}), got {budget}",
                )
            )
        self.timeout = timeout
        self.retry = retry or RetryPolicy(max_retries=max_retries)
        self.default_headers = dict(default_headers or {})
        self.capabilities = capabilities or capabilities_for(self.provider, model)
        self._http_client = http_client
        self._client: anthropic.AsyncAnthropic | None = None
        self._upstream = Upstream(self.provider, model, self.base_url, secret=key)

    def __repr__(self) -> str:
        return f"AnthropicModel({self.model_name!r}, base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the HTTP connections (an ``http_client`` passed in stays open)."""
        client, self._client = self._client, None
        if client is not None and self._http_client is None:
            await client.close()

    def _sdk(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            http_client = self._http_client
            if (
                http_client is None
                and aiohttp is not None
                and sniffio.current_async_library() == "asyncio"
            ):
                http_client = anthropic.DefaultAioHttpClient()
            self._client = anthropic.AsyncAnthropic(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=0,  # troupe's retries (``retrying``) instead
                default_headers=self.default_headers or None,
                http_client=http_client,
            )
        return self._client

    def _body(self, request: ModelRequest) -> bytes:
        system, turns = messages_body(request.messages)
        body: dict[str, Any] = {
            **self.settings,
            "model": self.model_name,
            "max_tokens": self.max_tokens,
            "messages": turns,
            "stream": True,
        }
        if system:
            body["system"] = system
        if request.tools:
            strict = self.capabilities.structured_output
            body["tools"] = [tool_param(t, strict=strict) for t in request.tools]
            body["tool_choice"] = _TOOL_CHOICE[request.tool_choice]
        if request.output_schema is not None:
            body["output_config"] = {
                "format": {"type": "json_schema", "schema": request.output_schema.schema}
            }
        # The API refuses thinking with a forced tool call, and wants a tool-using turn's
        # signed thinking block back, which troupe's transcript does not keep.
        if (
            self.thinking
            and request.tool_choice != "required"
            and not ends_with_unsigned_tool_use(turns)
        ):
            body["thinking"] = self.thinking
        return _encode(body)

    @contextlib.asynccontextmanager
    async def _response(self, request: ModelRequest) -> AsyncIterator[httpx2.Response]:
        check_model_request(self.base_url)
        if self.needs_api_key:
            raise self._upstream.error(
                "no API key: pass api_key or set ANTHROPIC_API_KEY", code="missing_api_key"
            )
        body = self._body(request)
        try:
            response = await self._sdk().post(
                "/v1/messages", cast_to=httpx2.Response, content=body, stream=True
            )
        except anthropic.APIError as exc:
            raise self._request_error(exc) from exc
        try:
            yield response
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()

    def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        """Stream the answer: text, thinking and tool-call deltas, then one ``ModelResponse``."""
        return retrying(lambda: self._attempt(request), self.retry)

    async def _attempt(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        state = _State(self.model_name)
        parser = SSEParser()
        received = 0

        def parts(block: bytes) -> Iterator[list[Delta]]:
            nonlocal received
            for payload in parser.feed(block):
                received += 1
                yield self._items(self._event(payload), state)

        async with self._response(request) as response:
            try:
                async for block in response.aiter_bytes():
                    deltas, failure = read_deltas(parts(block))
                    for item in deltas:
                        yield item
                    if failure is not None:
                        raise failure
            except _TRANSPORT_ERRORS as exc:
                if not state.done:
                    raise self._upstream.broken_stream(
                        exc, received, self.timeout, "events"
                    ) from exc
            for payload in parser.end():
                for item in self._items(self._event(payload), state):
                    yield item
        if not state.done:
            kind = response.headers.get("content-type", "no content-type")
            raise self._upstream.error(
                f"the stream ended after {received} events without finishing the answer ({kind})",
                transient=True,
            )
        state.builder.usage = state.usage()
        final = state.builder.build(state.model)
        yield msgspec.structs.replace(final, reasoning_signature=state.signature)

    def _event(self, payload: bytes) -> Event:
        try:
            event = decode_event(payload)
        except msgspec.DecodeError as exc:
            raise self._upstream.error(f"unreadable event ({exc}): {payload[:200]!r}") from exc
        if event.type == "error":
            info = event.error
            kind, said = (info.type, info.message) if info else ("", repr(payload[:200]))
            cls = UpstreamRateLimitError if kind == "rate_limit_error" else UpstreamError
            raise self._upstream.error(
                f"failed mid-stream: {said} ({kind or 'error'})",
                cls,
                transient=kind in _TRANSIENT_TYPES,
            )
        return event

    @staticmethod
    def _items(event: Event, state: _State) -> list[TextChunk | ReasoningChunk | ToolCallChunk]:
        items: list[TextChunk | ReasoningChunk | ToolCallChunk] = []
        kind = event.type
        if kind == "content_block_delta" and event.delta is not None:
            delta = event.delta
            if delta.type == "text_delta" and delta.text:
                items.append(TextChunk(delta.text))
            elif delta.type == "input_json_delta" and delta.partial_json:
                index = state.calls.get(event.index, 0)
                items.append(ToolCallChunk(index=index, arguments=delta.partial_json))
            elif delta.type == "thinking_delta" and delta.thinking:
                items.append(ReasoningChunk(delta.thinking))
            elif delta.type == "signature_delta":
                state.signature += delta.signature
        elif kind == "content_block_start" and event.content_block is not None:
            block = event.content_block
            if block.type == "tool_use":
                index = state.calls[event.index] = len(state.calls)
                items.append(ToolCallChunk(index=index, id=block.id, name=block.name))
            elif block.type == "text" and block.text:
                items.append(TextChunk(block.text))
            elif block.type == "thinking" and block.thinking:
                items.append(ReasoningChunk(block.thinking))
        elif kind == "message_start" and event.message is not None:
            state.model = event.message.model or state.model
            _add_usage(state, event.message.usage)
        elif kind == "message_delta":
            if event.delta is not None and event.delta.stop_reason:
                state.builder.finish_reason = _FINISH.get(event.delta.stop_reason, "stop")
            _add_usage(state, event.usage)
        elif kind == "message_stop":
            state.done = True
        for item in items:
            state.builder.add(item)
        return items

    def _request_error(self, exc: anthropic.APIError) -> UpstreamError:
        upstream = self._upstream
        if isinstance(exc, anthropic.APIStatusError):
            return upstream.status_error(exc.status_code, _said(exc), exc.response.headers)
        if isinstance(exc, anthropic.APIConnectionError) and is_timeout(exc):
            return upstream.no_response(self.timeout)
        if isinstance(exc, anthropic.APIConnectionError):
            return upstream.cannot_connect(exc)
        return upstream.error(f"{type(exc).__name__}: {exc}")


def _add_usage(state: _State, usage: EventUsage | None) -> None:
    # message_delta's counts are cumulative, so the latest value of each wins.
    if usage is None:
        return
    if usage.input_tokens is not None:
        state.input = usage.input_tokens
    if usage.output_tokens is not None:
        state.output = usage.output_tokens
    if usage.cache_creation_input_tokens is not None:
        state.cache_write = usage.cache_creation_input_tokens
    if usage.cache_read_input_tokens is not None:
        state.cache_read = usage.cache_read_input_tokens
    if usage.output_tokens_details is not None and usage.output_tokens_details.thinking_tokens:
        state.thinking_tokens = usage.output_tokens_details.thinking_tokens
