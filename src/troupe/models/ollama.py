"""``OllamaModel``: local models through Ollama's ``/api/chat``, on the official ``ollama`` SDK.

The SDK's ``AsyncClient`` provides the connection: host parsing, its default
headers (``User-Agent``, ``OLLAMA_API_KEY`` as a bearer token) and its httpx
client. The request does not go through ``AsyncClient.chat()``, because that
re-validates tools through pydantic models that keep only the ``type``,
``items``, ``description`` and ``enum`` of each property: nested objects lose
their properties, and ``anyOf`` and ``additionalProperties`` disappear (ollama
0.6.3). troupe encodes the body itself and reads the NDJSON stream with a
msgspec decoder; the error status's headers (``Retry-After``) stay readable.
"""

from __future__ import annotations

__all__ = ["OllamaModel"]

import binascii
import contextlib
import os
import uuid
from base64 import b64decode
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from typing import Any, Final, Literal

import anyio
import httpx
import msgspec
import ollama

from troupe.errors import RequestError
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
    Delta,
    FinishReason,
    ModelCapabilities,
    ModelRequest,
    ModelStreamItem,
    ReasoningChunk,
    ResponseBuilder,
    TextChunk,
    ToolCallChunk,
    ToolSpec,
    read_deltas,
)
from troupe.models._capabilities import capabilities_for
from troupe.models._guard import check_model_request
from troupe.models._retry import RetryPolicy, retrying
from troupe.models._upstream import Upstream, check_base_url

_DEFAULT_HOST: Final = "127.0.0.1:11434"
# troupe's setting names -> Ollama's option names.
_OPTIONS: Final = {"max_tokens": "num_predict", "temperature": "temperature", "top_p": "top_p",
                   "seed": "seed", "stop": "stop"}  # fmt: skip
_FINISH: Final[Mapping[str, FinishReason]] = {"stop": "stop", "length": "length"}
_encode = msgspec.json.Encoder().encode
_decode_json = msgspec.json.Decoder().decode

Think = bool | Literal["low", "medium", "high"]


class _Function(msgspec.Struct):
    name: str = ""
    arguments: Any = None


class _Call(msgspec.Struct):
    id: str = ""
    function: _Function | None = None


class _Message(msgspec.Struct):
    content: str = ""
    thinking: str = ""
    tool_calls: list[_Call] | None = None


class _Line(msgspec.Struct):
    model: str = ""
    message: _Message | None = None
    done: bool = False
    done_reason: str = ""
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    error: Any = None


_decode_line = msgspec.json.Decoder(_Line).decode


def _host(base_url: str | None) -> str:
    url = (base_url or os.environ.get("OLLAMA_HOST") or _DEFAULT_HOST).strip().rstrip("/")
    if "://" not in url:
        host, slash, path = url.partition("/")
        if ":" not in host.rsplit("]", 1)[-1]:
            host += ":11434"
        url = f"http://{host}{slash}{path}"
    return url


def _image(part: ImagePart) -> str:
    header, _, data = part.url.partition(",")
    if not (header.startswith("data:") and header.endswith(";base64")):
        raise RequestError(
            f"ollama takes images only as base64 data: URIs; got {part.url[:40]!r}",
            param="messages",
        )
    try:
        b64decode(data[:4096], validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(
            f"invalid base64 in image data URI {part.url[:40]!r}", param="messages"
        ) from None
    return data


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = _decode_json(text or "{}")
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _message(message: Message) -> dict[str, Any]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.content}
    if isinstance(message, UserMessage):
        if isinstance(message.content, str):
            return {"role": "user", "content": message.content}
        text = "".join(p.text for p in message.content if isinstance(p, TextPart))
        images = [_image(p) for p in message.content if isinstance(p, ImagePart)]
        return {"role": "user", "content": text, "images": images} if images else {
            "role": "user", "content": text}  # fmt: skip
    if isinstance(message, AssistantMessage):
        out: dict[str, Any] = {"role": "assistant", "content": message.content}
        if message.tool_calls:
            out["tool_calls"] = [
                {"function": {"name": c.name, "arguments": _arguments(c.arguments)}}
                for c in message.tool_calls
            ]
        return out
    assert isinstance(message, ToolMessage)
    return {"role": "tool", "content": message.content, "tool_name": message.name}


def _tool(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _said(response: httpx.Response) -> str:
    text = response.text.strip()
    try:
        body = _decode_json(text)
    except msgspec.DecodeError:
        return text[:500] or response.reason_phrase or "no details"
    error = body.get("error") if isinstance(body, dict) else None
    return str(error) if error else text[:500]


class OllamaModel:
    """A model served by Ollama (``ollama serve``, or Ollama's cloud with an ``api_key``).

    ``base_url`` is the Ollama host (default ``OLLAMA_HOST``, else
    ``127.0.0.1:11434``). ``settings`` (``temperature``, ``max_tokens``,
    ``top_p``, ``seed``, ``stop``) become Ollama ``options``, and ``options``
    adds any other (``num_ctx``, ``repeat_penalty``); ``keep_alive`` says how
    long the model stays loaded (``"10m"``, ``-1``); ``think`` turns on the
    thinking of models that have it. ``timeout`` bounds the connect and every
    read; a model that must first be loaded into memory may need more.
    """

    provider = "ollama"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        settings: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
        think: Think | None = None,
        timeout: float = 300.0,
        max_retries: int = 2,
        retry: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        capabilities: ModelCapabilities | None = None,
    ) -> None:
        self.model_name = model
        self.base_url = check_base_url(_host(base_url))
        settings = dict(settings or {})
        self.options = {_OPTIONS[k]: v for k, v in settings.items() if k in _OPTIONS}
        self.options.update(options or {})
        # Fields other than the common settings go into the body as they are.
        self.extra = {k: v for k, v in settings.items() if k not in _OPTIONS}
        self.keep_alive = keep_alive
        self.think = think
        self.timeout = timeout
        self.retry = retry or RetryPolicy(max_retries=max_retries)
        self.headers = dict(default_headers or {})
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.capabilities = capabilities or capabilities_for(self.provider, model)
        self._client: ollama.AsyncClient | None = None
        self._upstream = Upstream(self.provider, model, self.base_url, secret=api_key or "")

    def __repr__(self) -> str:
        return f"OllamaModel({self.model_name!r}, base_url={self.base_url!r})"

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            http: httpx.AsyncClient = client._client
            await http.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = ollama.AsyncClient(
                host=self.base_url, timeout=self.timeout, headers=self.headers or None
            )
        http: httpx.AsyncClient = self._client._client
        return http

    def _body(self, request: ModelRequest) -> bytes:
        body: dict[str, Any] = {
            **self.extra,
            "model": self.model_name,
            "messages": [_message(m) for m in request.messages],
            "stream": True,
        }
        # Ollama has no tool_choice; "none" is honoured by not offering the tools.
        if request.tools and request.tool_choice != "none":
            body["tools"] = [_tool(t) for t in request.tools]
        if request.output_schema is not None:
            body["format"] = request.output_schema.schema
        if self.options:
            body["options"] = self.options
        if self.keep_alive is not None:
            body["keep_alive"] = self.keep_alive
        if self.think is not None:
            body["think"] = self.think
        return _encode(body)

    @contextlib.asynccontextmanager
    async def _response(self, request: ModelRequest) -> AsyncIterator[httpx.Response]:
        check_model_request(self.base_url)
        body = self._body(request)
        http = self._http()
        try:
            response = await http.send(
                http.build_request("POST", "/api/chat", content=body), stream=True
            )
        except httpx.TimeoutException as exc:
            raise self._upstream.no_response(self.timeout) from exc
        except httpx.HTTPError as exc:
            raise self._upstream.cannot_connect(exc) from exc
        try:
            if response.status_code >= 400:
                await response.aread()
                raise self._upstream.status_error(
                    response.status_code, _said(response), response.headers
                )
            yield response
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()

    def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        """Stream the answer: text, thinking and tool calls, then one ``ModelResponse``."""
        return retrying(lambda: self._attempt(request), self.retry)

    async def _attempt(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        builder = ResponseBuilder()
        final: _Line | None = None
        model = self.model_name
        received = 0
        tail = b""

        def parts(lines: list[bytes]) -> Iterator[list[Delta]]:
            nonlocal received, model, final
            for raw in lines:
                if not raw.strip():
                    continue
                line = self._line(raw)
                received += 1
                model = line.model or model
                final = line if line.done else final
                yield self._items(line, builder)

        async with self._response(request) as response:
            try:
                async for block in response.aiter_bytes():
                    lines = (tail + block).split(b"\n")
                    tail = lines.pop()
                    deltas, failure = read_deltas(parts(lines))
                    for item in deltas:
                        yield item
                    if failure is not None:
                        raise failure
            except httpx.TransportError as exc:
                if final is None:
                    raise self._upstream.broken_stream(
                        exc, received, self.timeout, "lines"
                    ) from exc
        if tail.strip():
            line = self._line(tail)
            final = line if line.done else final
            for item in self._items(line, builder):
                yield item
        if final is None:
            raise self._upstream.error(
                f"the stream ended after {received} lines without finishing the answer",
                transient=True,
            )
        builder.usage = Usage(
            prompt_tokens=final.prompt_eval_count or 0, completion_tokens=final.eval_count or 0
        )
        if final.done_reason in _FINISH:
            builder.finish_reason = _FINISH[final.done_reason]
        yield builder.build(model)

    def _line(self, raw: bytes) -> _Line:
        try:
            line = _decode_line(raw)
        except msgspec.DecodeError as exc:
            raise self._upstream.error(f"unreadable line ({exc}): {raw[:200]!r}") from exc
        if line.error:
            raise self._upstream.error(f"failed mid-stream: {line.error}", transient=True)
        return line

    @staticmethod
    def _items(
        line: _Line, builder: ResponseBuilder
    ) -> list[TextChunk | ReasoningChunk | ToolCallChunk]:
        message = line.message
        if message is None:
            return []
        items: list[TextChunk | ReasoningChunk | ToolCallChunk] = []
        if message.thinking:
            items.append(ReasoningChunk(message.thinking))
        if message.content:
            items.append(TextChunk(message.content))
        first = builder.call_count
        # Ollama sends whole calls, the arguments as an object, and only lately an id.
        for n, call in enumerate(message.tool_calls or ()):
            fn = call.function or _Function()
            args = fn.arguments
            items.append(
                ToolCallChunk(
                    index=first + n,
                    id=call.id or f"call_{uuid.uuid4().hex[:24]}",
                    name=fn.name,
                    arguments=args if isinstance(args, str) else _encode(args or {}).decode(),
                )
            )
        for item in items:
            builder.add(item)
        return items
