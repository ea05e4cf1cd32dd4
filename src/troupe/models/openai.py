"""``OpenAIModel``: OpenAI and every OpenAI-compatible endpoint (vLLM, LM Studio, gateways).

troupe sends the request itself rather than through the official SDK: the
SDK's typed ``chat.completions.create`` transforms every message through typed
dicts (about 10 ms of CPU for a 30-message conversation with tools) and builds
a pydantic object per streamed chunk, its untyped ``post`` still costs about
0.5 ms of CPU per request above a bare aiohttp request, and importing it takes
a third of a second and 18 MiB that a replica pays at every start. The body is
encoded once with msgspec, sent over aiohttp (an httpx client on trio, or the
one passed in), and the SSE frames are decoded with a module-level msgspec
decoder; what the SDK adds on the wire is kept: ``Authorization: Bearer`` (or
Azure's ``api-key`` with the deployment in the path and ``api-version`` in the
query), ``OpenAI-Organization``/``OpenAI-Project`` from ``OPENAI_ORG_ID`` and
``OPENAI_PROJECT_ID``, the error body's ``error.message``, HTTP proxies from the
environment. ``bench/provider_parsing.md`` has the measurements. Retries are
troupe's own (``troupe.models._retry``), the same for every provider.
"""

from __future__ import annotations

__all__ = ["OpenAIModel"]

import os
from collections.abc import AsyncGenerator, Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import quote

import anyio
import msgspec

import troupe
from troupe.errors import ConfigError, ConfigIssue, UpstreamError
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
    joined,
)
from troupe.models._capabilities import capabilities_for
from troupe.models._guard import check_model_request
from troupe.models._http import HttpResponse, Transport, TransportError, transport_errors
from troupe.models._openai_wire import Chunk, message_json, response_format, tool_json, usage_of

# bench/provider_parsing.py measures these two under these names.
from troupe.models._openai_wire import decode_chunk as _decode_chunk
from troupe.models._openai_wire import decode_chunks as _decode_chunks
from troupe.models._retry import RetryPolicy, retrying
from troupe.models._sse import SSEParser as _SSEParser
from troupe.models._upstream import Upstream, check_base_url

if TYPE_CHECKING:
    import httpx2

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
_encode = msgspec.json.Encoder().encode
_decode_json = msgspec.json.Decoder().decode


class _StatusError(Exception):
    """An HTTP error status, with what the provider said (its ``error.message``)."""

    def __init__(self, status: int, said: str, headers: Mapping[str, str], text: str) -> None:
        super().__init__(said)
        self.status = status
        self.said = said
        self.headers = headers
        self.text = text


def _provider_said(text: str, reason: str) -> str:
    """The message of an error body: OpenAI's ``{"error": {"message"}}``, FastAPI's
    ``{"detail"}``, else the body itself (500 characters at most)."""
    try:
        body = _decode_json(text) if text else None
    except msgspec.DecodeError:
        body = text
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        body = body["error"]
    if isinstance(body, Mapping):
        for key in ("message", "detail"):  # OpenAI's field, then FastAPI-style servers'
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
        return _encode(body).decode()[:500]
    if isinstance(body, str) and body:
        return body[:500]
    return reason or "no details"


def _rejects_stream_options(exc: _StatusError) -> bool:
    # Servers that validate strictly answer 400 (or 422) naming the field.
    return exc.status in (400, 422) and "stream_options" in exc.text


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
        self._transport = Transport(timeout, http_client)
        self._url, self._headers = self._endpoint(key)
        # Cleared when the server rejects stream_options, so later calls skip the failed attempt.
        self._stream_options = True
        self._upstream = Upstream(self.provider, model, self.base_url, secret=key)

    def __repr__(self) -> str:
        return f"OpenAIModel({self.model_name!r}, base_url={self.base_url!r})"

    def _endpoint(self, key: str) -> tuple[str, dict[str, str]]:
        """The URL and headers of a chat-completions request, as the SDK would send them."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers["User-Agent"] = f"troupe/{troupe.__version__}"
        if self.api_version:
            deployment = quote(self.azure_deployment or self.model_name, safe="")
            url = f"{self.base_url}/openai/deployments/{deployment}/chat/completions"
            url += f"?api-version={quote(self.api_version, safe='')}"
            headers["api-key"] = self._api_key
        else:
            url = f"{self.base_url}/chat/completions"
            headers["Authorization"] = f"Bearer {self._api_key}"
            for env, header in (("OPENAI_ORG_ID", "OpenAI-Organization"),
                                ("OPENAI_PROJECT_ID", "OpenAI-Project")):  # fmt: skip
                if os.environ.get(env):
                    headers[header] = os.environ[env]
        headers.update(self.default_headers)
        return url, headers

    async def aclose(self) -> None:
        """Close the HTTP connections (an ``http_client`` passed in stays open)."""
        await self._transport.aclose()

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

    async def _post(self, body: bytes) -> HttpResponse:
        response = await self._transport.post(self._url, body, self._headers)
        if response.status < 400:
            return response
        try:
            text = await response.text()
        finally:
            await response.aclose()
        said = _provider_said(text, response.reason)
        raise _StatusError(response.status, said, response.headers, text)

    async def _open(self, request: ModelRequest) -> HttpResponse:
        if self._stream_options:
            try:
                return await self._post(self._body(request, stream_options=True))
            except _StatusError as exc:
                if not _rejects_stream_options(exc):
                    raise
                self._stream_options = False
        return await self._post(self._body(request, stream_options=False))

    async def _send(self, request: ModelRequest) -> HttpResponse:
        check_model_request(self.base_url)
        if self.needs_api_key:
            raise self._upstream.error(
                f"no API key: pass api_key or set {self._key_env}", code="missing_api_key"
            )
        try:
            return await self._open(request)
        except _StatusError as exc:
            raise self._upstream.status_error(exc.status, exc.said, exc.headers) from exc
        except TransportError as exc:
            if exc.timed_out:
                raise self._upstream.no_response(self.timeout) from exc
            raise self._upstream.cannot_connect(exc) from exc

    def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        """Stream the answer: text, reasoning and tool-call deltas, then one ``ModelResponse``."""
        return retrying(lambda: self._attempt(request), self.retry)

    async def _attempt(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        builder = ResponseBuilder()
        model = self.model_name
        parser = _SSEParser()
        received = 0
        done = False
        whole = False

        # The bytes around a chunk's text, learnt from one: the chunks of text that follow
        # (most of a stream) are read by their text alone, the rest of them not decoded.
        template: tuple[bytes, bytes] | None = None
        learning = 4  # chunks decoded one by one to learn it (then all at once, as before)
        # A read of one whole event of text (a model's pace: most reads): the template's
        # bytes with the SSE line around them, and their lengths.
        head = tail = b""
        cut = 0

        def read(block: bytes) -> tuple[list[Delta], UpstreamError | None]:
            """The deltas of one read, and the error that cut it short (after them)."""
            nonlocal done, received, model, template, learning, head, tail, cut
            if (
                cut
                and block.startswith(head)
                and block.endswith(tail)
                and block.find(b"\n") == len(block) - 2  # one event (found early if not)
                and parser.idle
            ):
                try:
                    text = _decode_text(block[len(head) : len(block) - len(tail)])
                except msgspec.DecodeError:  # not one string: read as any other
                    pass
                else:
                    received += 1
                    return ([builder.text(text)] if text else []), None
            payloads = parser.feed(block)
            if done or not payloads:  # after [DONE]: read on to the end, to reuse the connection
                return [], None
            if b"[DONE]" in payloads:
                payloads = payloads[: payloads.index(b"[DONE]")]
                done = True
                cut = 0
            items: list[Delta] = []
            texts: list[str] = []
            failure: UpstreamError | None = None
            while payloads and failure is None:
                if template is not None:
                    found, count = _texts_like(template, payloads)
                    if count:
                        texts += found
                        received += count
                        payloads = payloads[count:]
                        if not payloads:
                            break
                batch = payloads[:1] if template is None and learning else payloads
                payloads = payloads[len(batch) :]
                chunks, failure = self._decoded(batch)
                received += len(chunks)
                for index, chunk in enumerate(chunks):
                    if chunk.model:
                        model = chunk.model
                    if template is None and learning:
                        learning -= 1
                    # Most of a stream: a chunk of text only.
                    choices = chunk.choices
                    if choices is not None and len(choices) == 1 and chunk.usage is None:
                        choice = choices[0]
                        delta = choice.delta
                        if (
                            delta is not None
                            and choice.index == 0
                            and choice.finish_reason is None
                            and delta.tool_calls is None
                            and delta.function_call is None
                            and delta.reasoning_content is None
                            and delta.reasoning is None
                            and chunk.error is None
                            and chunk.object != "error"
                        ):
                            if delta.content:
                                texts.append(delta.content)
                                if template is None and learning:
                                    template = _template(batch[index], delta.content)
                                    if template is not None and not done:
                                        head, tail = b"data: " + template[0], template[1] + b"\n\n"
                                        cut = len(head) + len(tail)
                            continue
                    if chunk.error is not None or chunk.object == "error":
                        failure = self._failed(chunk, batch[index])
                        break
                    if texts:
                        items.append(builder.text("".join(texts)))
                        texts = []
                    items += self._items(chunk, builder)
            if texts:
                items.append(builder.text(texts[0] if len(texts) == 1 else "".join(texts)))
            return (joined(items) if len(items) > 1 else items), failure

        response = await self._send(request)
        try:
            try:
                async for block in response.body:
                    deltas, failure = read(block)
                    for item in deltas:
                        yield item
                    if failure is not None:
                        raise failure
                whole = True
            except transport_errors() as exc:
                if not done:  # after [DONE] the answer is whole; a lost body end does not matter
                    raise self._upstream.broken_stream(exc, received, self.timeout) from exc
            for payload in parser.end():
                if payload != b"[DONE]":
                    for item in self._items(self._chunk(payload), builder):
                        yield item
        finally:
            if not response.close_now(whole=whole):
                # Shielded: a cancelled consumer must still close the connection upstream.
                with anyio.CancelScope(shield=True):
                    await response.aclose(whole=whole)
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
            raise self._unreadable(payload, exc) from exc
        if chunk.error is not None or chunk.object == "error":
            raise self._failed(chunk, payload)
        return chunk

    def _decoded(self, payloads: list[bytes]) -> tuple[list[Chunk], UpstreamError | None]:
        """The chunks of one read, decoded at once; when one is unreadable, those before it
        and its error."""
        try:
            if len(payloads) == 1:
                return [_decode_chunk(payloads[0])], None
            chunks = _decode_chunks(b"[" + b",".join(payloads) + b"]")
            if len(chunks) == len(payloads):
                return chunks, None
        except msgspec.DecodeError:
            pass
        chunks = []
        for payload in payloads:
            try:
                chunks.append(_decode_chunk(payload))
            except msgspec.DecodeError as exc:
                return chunks, self._unreadable(payload, exc)
        return chunks, None

    def _unreadable(self, payload: bytes, exc: msgspec.DecodeError) -> UpstreamError:
        return self._upstream.error(f"unreadable chunk ({exc}): {payload[:200]!r}")

    def _failed(self, chunk: Chunk, payload: bytes) -> UpstreamError:
        """The error a chunk reports (OpenAI's ``{"error": ...}`` inside a 200 stream)."""
        error = chunk.error if chunk.error is not None else {"message": chunk.message}
        said = error.get("message") if isinstance(error, dict) else error
        return self._upstream.error(
            f"failed mid-stream: {said or repr(payload[:200])}", transient=True
        )

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


_decode_text = msgspec.json.Decoder(str).decode
_CONTENT = b'"content":'


def _template(payload: bytes, text: str) -> tuple[bytes, bytes] | None:
    """The bytes before and after the text of ``payload``, a chunk of text only. A chunk
    with the same bytes around one JSON string is a chunk of text only too, that string its
    text. None when the text's place is not certain (found twice, or written otherwise)."""
    needle = _CONTENT + msgspec.json.encode(text)
    at = payload.find(needle)
    if at < 0 or payload.find(needle, at + 1) >= 0:
        return None
    return payload[: at + len(_CONTENT)], payload[at + len(needle) :]


def _texts_like(template: tuple[bytes, bytes], payloads: list[bytes]) -> tuple[list[str], int]:
    """The texts of the leading ``payloads`` that are ``template`` around one JSON string
    (empty ones left out), and how many such payloads lead."""
    prefix, suffix = template
    start, end = len(prefix), -len(suffix) or None
    # Most reads are chunks of text only; a stream's last read may end with its last chunks
    # (finish reason, usage), set apart first. The others' texts are cut out, their bytes
    # around them compared all at once, the texts decoded, with no Python loop over them.
    count = len(payloads)
    while count and len(payloads) - count < 2:
        last = payloads[count - 1]
        if last.startswith(prefix) and last.endswith(suffix):
            break
        count -= 1
    first = payloads[:count] if count < len(payloads) else payloads
    cut = list(map(itemgetter(slice(start, end)), first)) if count else []
    middles: list[bytes] | list[bytes | None] = cut
    # All of them are the template around their middles when their bytes are the
    # template's around the middles: one comparison. (A payload too short for the template
    # makes the right side the longer; else each payload lines up with its own part.)
    if not count or b"".join(first) != prefix + (suffix + prefix).join(cut) + suffix:
        # The texts of those that lead (None from the first that is not like them).
        middles = [
            p[start:end] if p.startswith(prefix) and p.endswith(suffix) else None for p in payloads
        ]
        if None in middles:
            del middles[middles.index(None) :]
    leading = cast("list[bytes]", middles)
    try:
        texts = list(map(_decode_text, leading))
    except msgspec.DecodeError:  # one is not one string: those before it lead
        texts = []
        for middle in leading:
            try:
                texts.append(_decode_text(middle))
            except msgspec.DecodeError:
                break
    return list(filter(None, texts)), len(texts)
