"""``OpenAIModel``: OpenAI and every OpenAI-compatible endpoint (vLLM, LM Studio, gateways).

The request goes through the official SDK's client — auth, headers,
status-error classes — but not through its typed
``chat.completions.create``: that transforms every message through typed
dicts (about 10 ms of CPU for a 30-message conversation with tools) and builds
a pydantic object per streamed chunk. Instead the body is encoded once with
msgspec and sent with ``client.post(..., stream=True)``, the SDK's documented
way to make requests it does not type, and the SSE frames are decoded with a
module-level msgspec decoder. With aiohttp installed, the SDK's
``DefaultAioHttpClient`` carries the bytes; httpx costs about 2x its CPU per
chunk. ``bench/provider_parsing.md`` has the measurements. Retries are
troupe's own (``troupe.models._retry``), the same for every provider.
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

from troupe.errors import ConfigError, ConfigIssue, UpstreamError
from troupe.models._base import (
    FinishReason,
    ModelCapabilities,
    ModelRequest,
    ModelStreamItem,
    ReasoningChunk,
    ResponseBuilder,
    TextChunk,
    ToolCallChunk,
)
from troupe.models._capabilities import capabilities_for
from troupe.models._guard import check_model_request
from troupe.models._openai_wire import Chunk, message_json, response_format, tool_json, usage_of

# bench/provider_parsing.py measures these two under these names.
from troupe.models._openai_wire import decode_chunk as _decode_chunk
from troupe.models._retry import RetryPolicy, retrying
from troupe.models._sse import SSEParser as _SSEParser
from troupe.models._upstream import Upstream, check_base_url, is_timeout

try:
    import aiohttp
except ImportError:  # pragma: no cover - aiohttp is optional
    aiohttp = None  # type: ignore[assignment]

_OPENAI_URL: Final = "https://api.openai.com/v1"
# The body keys troupe sets itself; settings may not override them.
_RESERVED: Final = frozenset(
    {"model", "messages", "stream", "stream_options", "tools", "tool_choice"}
)
_AZURE_KEY_ENV: Final = "AZURE_OPENAI_API_KEY"
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
_encode = msgspec.json.Encoder().encode


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
    connect and every read, so a slow first byte or a stream that stalls that
    long fails; ``max_retries`` (or a whole ``retry`` policy) retries
    connection failures, timeouts, 408/409/429 and 5xx before the first
    streamed item, honouring ``Retry-After``.

    Azure OpenAI: give ``api_version`` and the resource endpoint as
    ``base_url`` (``https://NAME.openai.azure.com``); ``azure_deployment``
    defaults to ``model``, ``api_key`` to ``AZURE_OPENAI_API_KEY``.

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
        retry: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx2.AsyncClient | None = None,
        capabilities: ModelCapabilities | None = None,
        api_version: str | None = None,
        azure_deployment: str | None = None,
    ) -> None:
        self.model_name = model
        self.api_version = api_version
        self.azure_deployment = (azure_deployment or model) if api_version else None
        if api_version:
            self.provider = "azure"
            if not base_url:
                raise ConfigError(
                    ConfigIssue("$.base_url", "Azure OpenAI needs the resource endpoint")
                )
        self.base_url = check_base_url(
            (base_url or os.environ.get("OPENAI_BASE_URL") or _OPENAI_URL).rstrip("/")
        )
        env = _AZURE_KEY_ENV if api_version else "OPENAI_API_KEY"
        key = api_key if api_key is not None else os.environ.get(env, "")
        # The provider's own endpoint without a key: config reports it before any call.
        self.needs_api_key = not key and (self.base_url == _OPENAI_URL or bool(api_version))
        self._key_env = env
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
        self.retry = retry or RetryPolicy(max_retries=max_retries)
        self.default_headers = dict(default_headers or {})
        self.capabilities = capabilities or capabilities_for(self.provider, model)
        self._http_client = http_client
        self._client: openai.AsyncOpenAI | None = None
        # Cleared when the server rejects stream_options, so later calls skip the failed attempt.
        self._stream_options = True
        self._upstream = Upstream(self.provider, model, self.base_url, secret=key)

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
            # Retries are troupe's (``retrying``), so that they follow one policy for all providers.
            common: dict[str, Any] = {
                "api_key": self._api_key,
                "timeout": self.timeout,
                "max_retries": 0,
                "default_headers": self.default_headers or None,
                "http_client": http_client,
            }
            if self.api_version:
                self._client = openai.AsyncAzureOpenAI(
                    azure_endpoint=self.base_url,
                    azure_deployment=self.azure_deployment,
                    api_version=self.api_version,
                    **common,
                )
            else:
                self._client = openai.AsyncOpenAI(base_url=self.base_url, **common)
        return self._client

    def _body(self, request: ModelRequest, *, stream_options: bool) -> bytes:
        body: dict[str, Any] = {
            **self.settings,
            "model": self.model_name,
            "messages": [message_json(m) for m in request.messages],
            "stream": True,
        }
        if stream_options:
            body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = [tool_json(t) for t in request.tools]
            body["tool_choice"] = request.tool_choice
        if request.output_schema is not None:
            body["response_format"] = response_format(request.output_schema)
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
        if self.needs_api_key:
            raise self._upstream.error(
                f"no API key: pass api_key or set {self._key_env}", code="missing_api_key"
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

    def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        """Stream the answer: text, reasoning and tool-call deltas, then one ``ModelResponse``."""
        return retrying(lambda: self._attempt(request), self.retry)

    async def _attempt(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
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
                    raise self._upstream.broken_stream(exc, received, self.timeout) from exc
            for payload in parser.end():
                if payload != b"[DONE]":
                    for item in self._items(self._chunk(payload), builder):
                        yield item
        if builder.finish_reason is None and not done:
            kind = response.headers.get("content-type", "no content-type")
            raise self._upstream.error(
                f"the stream ended after {received} chunks without finishing the answer ({kind})"
            )
        yield builder.build(model)

    def _chunk(self, payload: bytes) -> Chunk:
        try:
            chunk = _decode_chunk(payload)
        except msgspec.DecodeError as exc:
            raise self._upstream.error(f"unreadable chunk ({exc}): {payload[:200]!r}") from exc
        if chunk.error is not None or chunk.object == "error":
            error = chunk.error if chunk.error is not None else {"message": chunk.message}
            said = error.get("message") if isinstance(error, dict) else error
            raise self._upstream.error(
                f"failed mid-stream: {said or repr(payload[:200])}", transient=True
            )
        return chunk

    @staticmethod
    def _items(
        chunk: Chunk, builder: ResponseBuilder
    ) -> list[TextChunk | ReasoningChunk | ToolCallChunk]:
        if chunk.usage is not None:
            builder.usage = usage_of(chunk.usage)
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

    def _request_error(self, exc: openai.APIError) -> UpstreamError:
        upstream = self._upstream
        if isinstance(exc, openai.APIStatusError):
            return upstream.status_error(exc.status_code, _provider_said(exc), exc.response.headers)
        if isinstance(exc, openai.APIConnectionError) and is_timeout(exc):
            return upstream.no_response(self.timeout)
        if isinstance(exc, openai.APIConnectionError):
            return upstream.cannot_connect(exc)
        return upstream.error(f"{type(exc).__name__}: {exc}")
