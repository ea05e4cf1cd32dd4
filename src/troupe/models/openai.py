"""``OpenAIModel``: OpenAI and every OpenAI-compatible endpoint (vLLM, LM Studio, gateways).

The request goes through the official SDK's client — auth, headers, retries
before the first byte, status-error classes — but not through its typed
``chat.completions.create``: that transforms every message through typed
dicts (about 10 ms of CPU for a 30-message conversation with tools) and builds
a pydantic object per streamed chunk. Instead the body is encoded once with
msgspec and sent with ``client.post(..., stream=True)``, the SDK's documented
way to make requests it does not type, and the SSE frames are decoded with a
module-level msgspec decoder. With aiohttp installed, the SDK's
``DefaultAioHttpClient`` carries the bytes; httpx costs about 2x its CPU per
chunk. ``bench/provider_parsing.md`` has the measurements.
"""

from __future__ import annotations

__all__ = ["OpenAIModel"]

import contextlib
import os
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, Final

import anyio
import httpx2
import msgspec
import openai
import sniffio

from troupe.errors import (
    ConfigError,
    ConfigIssue,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
)
from troupe.messages import (
    AssistantMessage,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    ToolMessage,
    Usage,
    UserMessage,
)
from troupe.models._base import (
    FinishReason,
    ModelRequest,
    ModelStreamItem,
    ReasoningChunk,
    ResponseBuilder,
    TextChunk,
    ToolCallChunk,
    ToolSpec,
)
from troupe.models._guard import check_model_request

try:
    import aiohttp
except ImportError:  # pragma: no cover - aiohttp is optional
    aiohttp = None  # type: ignore[assignment]

_OPENAI_URL: Final = "https://api.openai.com/v1"
# The body keys troupe sets itself; settings may not override them.
_RESERVED: Final = frozenset(
    {"model", "messages", "stream", "stream_options", "tools", "tool_choice"}
)
_FINISH: Final[Mapping[str, FinishReason]] = {
    "stop": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
}
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (httpx2.RequestError, OSError)
if aiohttp is not None:
    _TRANSPORT_ERRORS += (aiohttp.ClientError,)


# --- the streamed chunk, as far as troupe reads it; unknown fields are skipped ---


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolCallDelta(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: _Function | None = None


class _Delta(msgspec.Struct):
    content: str | None = None
    # Not in OpenAI's schema: vLLM and DeepSeek send reasoning_content,
    # OpenRouter and Ollama reasoning. Typed loosely: a few send objects.
    reasoning_content: Any = None
    reasoning: Any = None
    tool_calls: list[_ToolCallDelta] | None = None
    function_call: _Function | None = None


class _Choice(msgspec.Struct):
    index: int = 0
    delta: _Delta | None = None
    finish_reason: str | None = None


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class _CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None
    prompt_cache_hit_tokens: int | None = None  # DeepSeek's name for cached tokens


class _Chunk(msgspec.Struct):
    model: str | None = None
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    # A failure reported inside a 200 stream: OpenAI sends {"error": {...}},
    # some servers {"object": "error", "message": ...}.
    error: Any = None
    object: str | None = None
    message: Any = None


_decode_chunk = msgspec.json.Decoder(_Chunk).decode
_encode = msgspec.json.Encoder().encode


class _SSEParser:
    """Splits a byte stream into the ``data`` payloads of its server-sent events."""

    __slots__ = ("_data", "_tail")

    def __init__(self) -> None:
        self._tail = b""
        self._data: list[bytes] = []

    def feed(self, block: bytes) -> list[bytes]:
        lines = (self._tail + block).split(b"\n") if self._tail else block.split(b"\n")
        self._tail = lines.pop()
        events: list[bytes] = []
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    events.append(self._data[0] if len(self._data) == 1 else b"\n".join(self._data))
                    self._data = []
            elif line.startswith(b"data:"):
                self._data.append(line[6:] if line.startswith(b"data: ") else line[5:])
            # event:, id:, retry: and ": comment" lines carry nothing troupe uses.
        return events

    def end(self) -> list[bytes]:
        """Payloads of an unterminated last event, for servers that skip the blank line."""
        return self.feed(b"\n\n") if self._tail or self._data else []


# --- troupe messages and tools -> OpenAI request JSON ---


def _message(message: Message) -> dict[str, Any]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.content}
    if isinstance(message, UserMessage):
        content = message.content
        if isinstance(content, str):
            return {"role": "user", "content": content}
        return {"role": "user", "content": [_part(part) for part in content]}
    if isinstance(message, AssistantMessage):
        out: dict[str, Any] = {"role": "assistant", "content": message.content}
        if message.tool_calls:
            # OpenAI's own transcripts carry null, not "", next to tool calls.
            out["content"] = message.content or None
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in message.tool_calls
            ]
        return out
    assert isinstance(message, ToolMessage)
    return {"role": "tool", "tool_call_id": message.call_id, "content": message.content}


def _part(part: TextPart | ImagePart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    image: dict[str, str] = {"url": part.url}
    if part.detail != "auto":  # the default; some compatible servers reject the field
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _tool(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        function["description"] = tool.description
    if tool.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def _usage(usage: _Usage) -> Usage:
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return Usage(
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        cached_tokens=(prompt.cached_tokens if prompt else None)
        or usage.prompt_cache_hit_tokens
        or 0,
        reasoning_tokens=(completion.reasoning_tokens if completion else None) or 0,
    )


def _root_cause(exc: BaseException) -> BaseException:
    # Explicit causes only: an implicit __context__ is often a CancelledError
    # that a timeout was raised while handling.
    for _ in range(16):
        if exc.__cause__ is None:
            break
        exc = exc.__cause__
    return exc


def _is_timeout(exc: BaseException) -> bool:
    # Decided by the root cause, because the SDK's aiohttp adapter reports a
    # refused or dropped connection as httpx's ConnectTimeout. By name as well,
    # to cover httpcore's timeouts without importing it.
    root = _root_cause(exc)
    return (
        isinstance(root, TimeoutError | httpx2.TimeoutException) or "Timeout" in type(root).__name__
    )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _provider_said(exc: openai.APIStatusError) -> str:
    body = exc.body  # the SDK's parse of the error body: its "error" object when there is one
    if isinstance(body, Mapping):
        for key in ("message", "detail"):  # OpenAI's field, then FastAPI-style servers'
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
        return _encode(body).decode()[:500]
    if isinstance(body, str) and body:
        return body[:500]
    return exc.response.reason_phrase or "no details"


def _rejects_stream_options(exc: openai.APIStatusError) -> bool:
    # Servers that validate strictly answer 400 (or 422) naming the field.
    return exc.status_code in (400, 422) and "stream_options" in f"{exc.message} {exc.body}"


class OpenAIModel:
    """A chat model behind the OpenAI chat-completions API.

    ``model`` is the provider's model name. ``base_url`` selects any
    OpenAI-compatible server (default: ``OPENAI_BASE_URL``, else OpenAI);
    ``api_key`` defaults to ``OPENAI_API_KEY``, and ``"none"`` or ``""`` works
    for local servers that need no key. ``settings`` (``temperature``,
    ``max_tokens``, ``top_p``, ``seed``, ``stop``, or any field a server
    accepts) go into every request body as given. ``timeout`` bounds the
    connect and every read, so a stream that stalls that long fails;
    ``max_retries`` retries connection failures, 408/409/429 and 5xx before
    the first byte.

    The SDK client is created on the first call and bound to that event loop;
    ``aclose()`` releases it.
    """

    provider = "openai"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        settings: Mapping[str, Any] | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.model_name = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or _OPENAI_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self._key_missing = not key and self.base_url == _OPENAI_URL
        # The SDK insists on a key; local servers ignore the placeholder.
        self._api_key = key or "none"
        self.settings = dict(settings or {})
        reserved = sorted(_RESERVED.intersection(self.settings))
        if reserved:
            raise ConfigError(
                [
                    ConfigIssue(f"settings.{k}", "is set by troupe and cannot be overridden")
                    for k in reserved
                ]
            )
        self.timeout = timeout
        self.max_retries = max_retries
        self.default_headers = dict(default_headers or {})
        self._http_client = http_client
        self._client: openai.AsyncOpenAI | None = None
        # Cleared when the server rejects stream_options, so later calls skip the failed attempt.
        self._stream_options = True
        self._where = f"openai model {model!r} at {self.base_url}"

    def __repr__(self) -> str:
        return f"OpenAIModel({self.model_name!r}, base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the HTTP connections (an ``http_client`` passed in stays open)."""
        client, self._client = self._client, None
        if client is not None and self._http_client is None:
            await client.close()

    def _sdk(self) -> openai.AsyncOpenAI:
        if self._client is None:
            http_client = self._http_client
            if (
                http_client is None
                and aiohttp is not None
                and sniffio.current_async_library() == "asyncio"
            ):
                http_client = openai.DefaultAioHttpClient()
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                default_headers=self.default_headers or None,
                http_client=http_client,
            )
        return self._client

    def _body(self, request: ModelRequest, *, stream_options: bool) -> bytes:
        body: dict[str, Any] = {
            **self.settings,
            "model": self.model_name,
            "messages": [_message(m) for m in request.messages],
            "stream": True,
        }
        if stream_options:
            body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = [_tool(t) for t in request.tools]
            body["tool_choice"] = request.tool_choice
        return _encode(body)

    async def _post(self, body: bytes) -> httpx2.Response:
        return await self._sdk().post(
            "/chat/completions", cast_to=httpx2.Response, content=body, stream=True
        )

    async def _open(self, request: ModelRequest) -> httpx2.Response:
        if self._stream_options:
            try:
                return await self._post(self._body(request, stream_options=True))
            except openai.APIStatusError as exc:
                if not _rejects_stream_options(exc):
                    raise
                self._stream_options = False
        return await self._post(self._body(request, stream_options=False))

    @contextlib.asynccontextmanager
    async def _response(self, request: ModelRequest) -> AsyncIterator[httpx2.Response]:
        check_model_request(self.base_url)
        if self._key_missing:
            raise UpstreamError(
                f"{self._where}: no API key: pass api_key or set OPENAI_API_KEY",
                provider=self.provider,
                model=self.model_name,
                code="missing_api_key",
            )
        try:
            response = await self._open(request)
        except openai.APIError as exc:
            raise self._request_error(exc) from exc
        try:
            yield response
        finally:
            # Shielded: a cancelled consumer must still close the connection upstream.
            with anyio.CancelScope(shield=True):
                await response.aclose()

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        """Stream the answer: text, reasoning and tool-call deltas, then one ``ModelResponse``."""
        builder = ResponseBuilder()
        model = self.model_name
        parser = _SSEParser()
        received = 0
        done = False
        async with self._response(request) as response:
            try:
                async for block in response.aiter_bytes():
                    for payload in parser.feed(block):
                        if done or payload == b"[DONE]":
                            # Keep reading to the end of the body so the connection is reused.
                            done = True
                            continue
                        chunk = self._chunk(payload)
                        received += 1
                        if chunk.model:
                            model = chunk.model
                        for item in self._items(chunk, builder):
                            yield item
            except _TRANSPORT_ERRORS as exc:
                if not done:  # after [DONE] the answer is whole; a lost body end does not matter
                    raise self._broken_stream(exc, received) from exc
            for payload in parser.end():
                if payload != b"[DONE]":
                    for item in self._items(self._chunk(payload), builder):
                        yield item
        if builder.finish_reason is None and not done:
            kind = response.headers.get("content-type", "no content-type")
            raise self._error(
                f"the stream ended after {received} chunks without finishing the answer ({kind})"
            )
        yield builder.build(model)

    def _chunk(self, payload: bytes) -> _Chunk:
        try:
            chunk = _decode_chunk(payload)
        except msgspec.DecodeError as exc:
            raise self._error(f"unreadable chunk ({exc}): {payload[:200]!r}") from exc
        if chunk.error is not None or chunk.object == "error":
            error = chunk.error if chunk.error is not None else {"message": chunk.message}
            said = error.get("message") if isinstance(error, dict) else error
            raise self._error(f"failed mid-stream: {said or repr(payload[:200])}")
        return chunk

    @staticmethod
    def _items(
        chunk: _Chunk, builder: ResponseBuilder
    ) -> list[TextChunk | ReasoningChunk | ToolCallChunk]:
        if chunk.usage is not None:
            builder.usage = _usage(chunk.usage)
        items: list[TextChunk | ReasoningChunk | ToolCallChunk] = []
        for choice in chunk.choices or ():
            if choice.index != 0:  # troupe asks for one choice; ignore extras
                continue
            if choice.finish_reason:
                builder.finish_reason = _FINISH.get(choice.finish_reason.lower(), "stop")
            delta = choice.delta
            if delta is None:
                continue
            reasoning = delta.reasoning_content or delta.reasoning
            if reasoning and isinstance(reasoning, str):
                items.append(ReasoningChunk(reasoning))
            if delta.content:
                items.append(TextChunk(delta.content))
            for call in delta.tool_calls or ():
                fn = call.function
                items.append(
                    ToolCallChunk(
                        index=call.index,
                        id=call.id or "",
                        name=(fn.name or "") if fn else "",
                        arguments=(fn.arguments or "") if fn else "",
                    )
                )
            if delta.function_call is not None:  # the deprecated single-call form
                fc = delta.function_call
                items.append(
                    ToolCallChunk(index=0, name=fc.name or "", arguments=fc.arguments or "")
                )
        for item in items:
            builder.add(item)
        return items

    # --- errors ---

    def _error(self, text: str, cls: type[UpstreamError] = UpstreamError) -> UpstreamError:
        return cls(f"{self._where}: {text}", provider=self.provider, model=self.model_name)

    def _request_error(self, exc: openai.APIError) -> UpstreamError:
        if isinstance(exc, openai.APIStatusError):
            status, said = exc.status_code, _provider_said(exc)
            if status == 429:
                return self._error(f"rate limited (HTTP 429): {said}", UpstreamRateLimitError)
            hint = {401: " (check the API key)", 403: " (check the API key's permissions)",
                    404: " (check the model name and base URL)"}.get(status, "")  # fmt: skip
            return self._error(f"HTTP {status}: {said}{hint}")
        if isinstance(exc, openai.APIConnectionError) and _is_timeout(exc):
            return self._error(f"no response within {self.timeout:g}s", UpstreamTimeoutError)
        if isinstance(exc, openai.APIConnectionError):
            return self._error(f"cannot connect ({_describe(_root_cause(exc))})")
        return self._error(_describe(exc))

    def _broken_stream(self, exc: BaseException, received: int) -> UpstreamError:
        if _is_timeout(exc):
            return self._error(
                f"the stream stalled: no data for {self.timeout:g}s after {received} chunks",
                UpstreamTimeoutError,
            )
        cause = _root_cause(exc)
        return self._error(
            f"the stream broke off after {received} chunks: {cause or type(cause).__name__}"
        )
