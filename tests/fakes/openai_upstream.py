"""A real OpenAI-compatible HTTP server for tests and the benchmark.

It speaks the chat-completions wire format byte for byte like OpenAI does (SSE
frames, the ``usage`` chunk when ``stream_options.include_usage`` is set, the
``{"error": {...}}`` body on failures), so a client under test does its real
parsing. What it answers is scripted:

* by default it echoes the last user message word by word, or, when started
  with ``tokens=N``, answers ``N`` deterministic tokens;
* ``script(Reply(...), ...)`` queues answers for the next requests: text, tool
  calls split over several chunks, reasoning, an error status, an error or a
  dropped connection mid-stream, a delay between chunks, a hang.

It records every request body (``requests``) and counts streams a client gave
up on (``stats.streams_cancelled``), so a test can assert that cancelling a
consumer closed the upstream request.

In-process::

    async with FakeOpenAIServer() as fake:
        fake.script(Reply(text="hi"))
        client = AsyncOpenAI(base_url=fake.base_url, api_key="x")

As a process (the e2e tests and ``bench/`` start it this way)::

    python -m tests.fakes.openai_upstream --port 8100 --tokens 200

Another process scripts it over HTTP: ``POST /_script`` (a ``Reply`` or a list
of them, as JSON), ``GET /_requests``, ``GET /_stats``, ``POST /_reset``.
"""

from __future__ import annotations

__all__ = ["FakeOpenAIServer", "Reply", "ScriptedCall", "Stats"]

import argparse
import re
import sys
from collections import deque
from collections.abc import Iterator
from typing import Any

import aiohttp.web as web
import anyio
import msgspec

from tests.fakes._server import FakeServer, drop

_WORD = re.compile(r"\S+\s*|\s+")
_encode = msgspec.json.encode
_CREATED = 1_700_000_000
_DONE = b"data: [DONE]\n\n"


class ScriptedCall(msgspec.Struct, kw_only=True):
    """A tool call the fake model makes; its arguments stream in ``pieces`` chunks."""

    name: str
    arguments: str = "{}"
    id: str = ""
    pieces: int = 3


class Reply(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One scripted answer. Every field is optional; the default is the echo reply."""

    # Content: ``chunks`` verbatim, else ``text`` split into words, else the echo.
    text: str | None = None
    chunks: list[str] | None = None
    reasoning: str = ""
    # vLLM and DeepSeek use ``reasoning_content``; OpenRouter and Ollama ``reasoning``.
    reasoning_field: str = "reasoning_content"
    tool_calls: list[ScriptedCall] = msgspec.field(default_factory=list)
    # Send the first tool call as the deprecated ``function_call`` delta instead.
    legacy_function_call: bool = False
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    # An HTTP error instead of an answer: the status and the error message.
    status: int = 200
    error: str = "scripted failure"
    error_type: str = "server_error"
    # Sent as ``retry-after-ms`` with an error status; the SDK's retries then wait 1 ms.
    retry_after_ms: int | None = 1
    # Failure modes of a stream, counted in frames sent (the role frame is frame 0).
    delay: float = 0.0
    error_after: int | None = None
    disconnect_after: int | None = None
    hang_after: int | None = None
    # Never send the response headers at all.
    hang: bool = False
    # Answer with a whole chat.completion JSON even when asked to stream, as some servers do.
    ignore_stream: bool = False


class Stats(msgspec.Struct, kw_only=True):
    requests: int = 0
    streams_started: int = 0
    streams_completed: int = 0
    streams_cancelled: int = 0


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _chunk(model: str, delta: dict[str, Any], finish: str | None, with_usage: bool) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if with_usage:
        body["usage"] = None
    return b"data: " + _encode(body) + b"\n\n"


def _usage(reply: Reply, prompt: int, completion: int) -> dict[str, Any]:
    prompt = reply.prompt_tokens if reply.prompt_tokens is not None else prompt
    completion = reply.completion_tokens if reply.completion_tokens is not None else completion
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reply.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _split(text: str, pieces: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class _Answer:
    """A reply resolved against one request: the content pieces and the call fragments."""

    def __init__(self, reply: Reply, body: dict[str, Any], default_tokens: int | None) -> None:
        self.reply = reply
        self.model = str(body.get("model", "fake-model"))
        messages = body.get("messages") or []
        if reply.chunks is not None:
            self.pieces = list(reply.chunks)
        elif reply.text is not None:
            self.pieces = _WORD.findall(reply.text)
        elif reply.tool_calls:
            self.pieces = []
        elif default_tokens is not None:
            self.pieces = [f"tok{i} " for i in range(default_tokens)]
        else:
            users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
            echo = _text_of(users[-1].get("content")) if users else ""
            self.pieces = _WORD.findall(echo or "Hello from the fake model.")
        calls = reply.tool_calls
        self.calls = [
            c if c.id else msgspec.structs.replace(c, id=f"call_{i}") for i, c in enumerate(calls)
        ]
        self.finish = reply.finish_reason or ("tool_calls" if calls else "stop")
        if reply.legacy_function_call and reply.finish_reason is None:
            self.finish = "function_call"
        prompt = sum(
            len(_text_of(m.get("content")).split()) + 3 for m in messages if isinstance(m, dict)
        )
        args = sum(len(_split(c.arguments, c.pieces)) for c in calls)
        self.usage = _usage(reply, prompt, len(self.pieces) + args)

    def frames(self, with_usage: bool) -> Iterator[bytes]:
        model, reply = self.model, self.reply
        yield _chunk(model, {"role": "assistant", "content": "", "refusal": None}, None, with_usage)
        for piece in _split(reply.reasoning, 4) if reply.reasoning else ():
            yield _chunk(model, {reply.reasoning_field: piece}, None, with_usage)
        for piece in self.pieces:
            yield _chunk(model, {"content": piece}, None, with_usage)
        for index, call in enumerate(self.calls):
            yield from self._call_frames(index, call, with_usage)
        yield _chunk(model, {}, self.finish, with_usage)

    def tail(self, with_usage: bool) -> list[bytes]:
        """The usage chunk (when asked for) and ``[DONE]``: per request, as usage depends on it."""
        if not with_usage:
            return [_DONE]
        last = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [],
            "usage": self.usage,
        }
        return [b"data: " + _encode(last) + b"\n\n", _DONE]

    def _call_frames(self, index: int, call: ScriptedCall, with_usage: bool) -> Iterator[bytes]:
        parts = _split(call.arguments, call.pieces)
        if self.reply.legacy_function_call:
            yield _chunk(
                self.model,
                {"function_call": {"name": call.name, "arguments": ""}},
                None,
                with_usage,
            )
            for part in parts:
                yield _chunk(self.model, {"function_call": {"arguments": part}}, None, with_usage)
            return
        head = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        yield _chunk(self.model, {"tool_calls": [head]}, None, with_usage)
        for part in parts:
            frag = {"index": index, "function": {"arguments": part}}
            yield _chunk(self.model, {"tool_calls": [frag]}, None, with_usage)

    def completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.pieces) or None,
            "refusal": None,
        }
        if self.reply.reasoning:
            message[self.reply.reasoning_field] = self.reply.reasoning
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in self.calls
        ]
        if calls and self.reply.legacy_function_call:
            message["function_call"] = calls[0]["function"]
        elif calls:
            message["tool_calls"] = calls
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": _CREATED,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish}
            ],
            "usage": self.usage,
        }


def _error_body(message: str, error_type: str, code: str | None = None) -> bytes:
    return _encode({"error": {"message": message, "type": error_type, "param": None, "code": code}})


class FakeOpenAIServer(FakeServer):
    """An OpenAI-compatible server on 127.0.0.1; an async context manager.

    ``tokens``: answer that many tokens instead of the echo. ``delay``: seconds
    between chunks of unscripted replies. ``reject_stream_options``: answer 400
    to requests that set ``stream_options``, as some compatible servers do.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: int | None = None,
        delay: float = 0.0,
        reject_stream_options: bool = False,
        models: tuple[str, ...] = ("fake-model",),
    ) -> None:
        super().__init__(host=host, port=port)
        self.tokens = tokens
        self.delay = delay
        self.reject_stream_options = reject_stream_options
        self.models = models
        self.requests: list[dict[str, Any]] = []
        # Parallel to ``requests``: header names lowercased; the client's (host, port).
        self.request_headers: list[dict[str, str]] = []
        self.request_peers: list[tuple[str, int]] = []
        self.stats = Stats()
        self._queue: deque[Reply] = deque()
        # Frames of the unscripted N-token reply, built once per (model, usage flag).
        self._frame_cache: dict[tuple[str, bool], list[bytes]] = {}

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next chat-completion requests, in order."""
        self._queue.extend(replies)

    def reset(self) -> None:
        self._queue.clear()
        self.requests.clear()
        self.request_headers.clear()
        self.request_peers.clear()
        self.stats = Stats()

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self._chat)
        router.add_get("/v1/models", self._models)
        router.add_post("/_script", self._script)
        router.add_get("/_requests", self._requests)
        router.add_get("/_stats", self._stats)
        router.add_post("/_reset", self._reset)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json(loads=msgspec.json.decode)
        self.requests.append(body)
        self.request_headers.append({k.lower(): v for k, v in request.headers.items()})
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.request_peers.append(tuple(peer[:2]) if peer else ("", 0))
        self.stats.requests += 1
        self._notify()
        if self.reject_stream_options and "stream_options" in body:
            text = "Unrecognized request argument supplied: stream_options"
            return web.Response(
                status=400,
                body=_error_body(text, "invalid_request_error"),
                content_type="application/json",
            )
        scripted = bool(self._queue)
        reply = self._queue.popleft() if scripted else Reply(delay=self.delay)
        if reply.hang:
            await self._wait_closing()
            drop(request)
            return web.Response()
        if reply.status >= 400:
            headers = (
                {}
                if reply.retry_after_ms is None
                else {"retry-after-ms": str(reply.retry_after_ms)}
            )
            return web.Response(
                status=reply.status,
                headers=headers,
                content_type="application/json",
                body=_error_body(reply.error, reply.error_type),
            )
        answer = _Answer(reply, body, self.tokens)
        if not body.get("stream") or reply.ignore_stream:
            return web.Response(body=_encode(answer.completion()), content_type="application/json")
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        frames = self._frames(
            answer, with_usage, cacheable=not scripted and self.tokens is not None
        )
        return await self._stream(request, reply, frames)

    async def _wait_closing(self) -> None:
        assert self._closing is not None
        await self._closing.wait()

    def _frames(self, answer: _Answer, with_usage: bool, *, cacheable: bool) -> list[bytes]:
        if not cacheable:
            return [*answer.frames(with_usage), *answer.tail(with_usage)]
        key = (answer.model, with_usage)
        if key not in self._frame_cache:
            self._frame_cache[key] = list(answer.frames(with_usage))
        return [*self._frame_cache[key], *answer.tail(with_usage)]

    async def _stream(
        self, request: web.Request, reply: Reply, frames: list[bytes]
    ) -> web.StreamResponse:
        error = b"data: " + _error_body(reply.error, reply.error_type) + b"\n\n"
        return await self.stream(
            request, frames, reply, self.stats, content_type="text/event-stream", error_frame=error
        )

    async def _models(self, request: web.Request) -> web.Response:
        data = [
            {"id": m, "object": "model", "created": _CREATED, "owned_by": "fake"}
            for m in self.models
        ]
        return web.Response(
            body=_encode({"object": "list", "data": data}), content_type="application/json"
        )

    async def _script(self, request: web.Request) -> web.Response:
        raw = await request.read()
        replies = msgspec.json.decode(raw, type=list[Reply] | Reply)
        self.script(*(replies if isinstance(replies, list) else [replies]))
        return web.Response(
            body=_encode({"queued": len(self._queue)}), content_type="application/json"
        )

    async def _requests(self, request: web.Request) -> web.Response:
        return web.Response(body=_encode(self.requests), content_type="application/json")

    async def _stats(self, request: web.Request) -> web.Response:
        return web.Response(body=_encode(self.stats), content_type="application/json")

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.Response(body=b"{}", content_type="application/json")


async def _serve(args: argparse.Namespace) -> None:
    server = FakeOpenAIServer(
        host=args.host,
        port=args.port,
        tokens=args.tokens,
        delay=args.delay,
        reject_stream_options=args.reject_stream_options,
    )
    await server.start()
    print(f"fake OpenAI upstream listening on {server.base_url}", flush=True)
    try:
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument(
        "--tokens", type=int, default=None, help="answer N tokens instead of echoing"
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--reject-stream-options", action="store_true")
    args = parser.parse_args(argv)
    try:
        anyio.run(_serve, args, backend="asyncio")
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
