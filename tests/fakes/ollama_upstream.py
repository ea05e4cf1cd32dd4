"""A real Ollama server (the ``/api/chat`` part) for tests and the benchmark.

It streams ``POST /api/chat`` the way Ollama does: newline-delimited JSON
objects, each ``{"model", "created_at", "message": {"role": "assistant",
"content", "thinking"?, "tool_calls"?}, "done": false}``, then a last one with
``"done": true``, ``done_reason`` and the counts (``prompt_eval_count``,
``eval_count``, durations in nanoseconds). Tool calls arrive whole, their
arguments as an object. Errors are ``{"error": "..."}``: as the body of an
error status, or as a line mid-stream. What it answers is scripted as in
``tests.fakes.openai_upstream``; it records every request body, its headers
and arrival time, and counts streams a client gave up on.

    python -m tests.fakes.ollama_upstream --port 11500 --tokens 200
"""

from __future__ import annotations

__all__ = ["FakeOllamaServer", "Reply", "ScriptedCall", "Stats"]

import argparse
import re
import sys
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import aiohttp.web as web
import anyio
import msgspec

from tests.fakes._server import FakeServer, drop

_WORD = re.compile(r"\S+\s*|\s+")
_encode = msgspec.json.encode
_CREATED = "2025-01-01T00:00:00.000000000Z"


class ScriptedCall(msgspec.Struct, kw_only=True):
    """A tool call; ``arguments`` is JSON text, sent as the object it encodes."""

    name: str
    arguments: str = "{}"
    id: str = ""


class Reply(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One scripted answer; every field is optional. The default is the echo reply."""

    text: str | None = None
    chunks: list[str] | None = None
    thinking: str = ""
    tool_calls: list[ScriptedCall] = msgspec.field(default_factory=list)
    # All calls in one line (as Ollama does for parallel calls), or one line each.
    calls_in_one_line: bool = False
    done_reason: str = "stop"
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    status: int = 200
    error: str = "scripted failure"
    retry_after: str | None = None
    # Failure modes, counted in lines sent (the first content line is line 0).
    delay: float = 0.0
    first_byte_delay: float = 0.0
    error_after: int | None = None
    disconnect_after: int | None = None
    hang_after: int | None = None
    hang: bool = False


class Stats(msgspec.Struct, kw_only=True):
    requests: int = 0
    streams_started: int = 0
    streams_completed: int = 0
    streams_cancelled: int = 0


def _split(text: str, pieces: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _line(model: str, message: dict[str, Any], **extra: Any) -> bytes:
    body = {"model": model, "created_at": _CREATED, "message": message, "done": False, **extra}
    return _encode(body) + b"\n"


def _lines(reply: Reply, body: dict[str, Any], tokens: int | None) -> Iterator[bytes]:
    model = str(body.get("model", "llama3.2"))
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    if reply.chunks is not None:
        pieces = list(reply.chunks)
    elif reply.text is not None:
        pieces = _WORD.findall(reply.text)
    elif reply.tool_calls:
        pieces = []
    elif tokens is not None:
        pieces = [f"tok{i} " for i in range(tokens)]
    else:
        users = [m for m in messages if m.get("role") == "user"]
        echo = str(users[-1].get("content") or "") if users else ""
        pieces = _WORD.findall(echo or "Hello from the fake model.")
    for piece in _split(reply.thinking, 3) if reply.thinking else ():
        yield _line(model, {"role": "assistant", "content": "", "thinking": piece})
    for piece in pieces:
        yield _line(model, {"role": "assistant", "content": piece})
    calls = [
        {
            **({"id": c.id} if c.id else {}),
            "function": {"index": i, "name": c.name, "arguments": msgspec.json.decode(c.arguments)},
        }
        for i, c in enumerate(reply.tool_calls)
    ]
    groups = [calls] if reply.calls_in_one_line else [[c] for c in calls]
    for group in groups if calls else ():
        yield _line(model, {"role": "assistant", "content": "", "tool_calls": group})
    prompt = sum(len(str(m.get("content") or "").split()) + 3 for m in messages)
    yield (
        _encode(
            {
                "model": model,
                "created_at": _CREATED,
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": reply.done_reason,
                "total_duration": 5_000_000,
                "load_duration": 1_000_000,
                "prompt_eval_count": reply.prompt_eval_count
                if reply.prompt_eval_count is not None
                else prompt,
                "prompt_eval_duration": 1_000_000,
                "eval_count": reply.eval_count if reply.eval_count is not None else len(pieces),
                "eval_duration": 3_000_000,
            }
        )
        + b"\n"
    )


class FakeOllamaServer(FakeServer):
    """An Ollama server on 127.0.0.1; an async context manager."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, tokens: int | None = None
    ) -> None:
        super().__init__(host=host, port=port)
        self.tokens = tokens
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self.request_times: list[float] = []
        self.stats = Stats()
        self._queue: deque[Reply] = deque()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, *replies: Reply) -> None:
        self._queue.extend(replies)

    def reset(self) -> None:
        self._queue.clear()
        self.requests.clear()
        self.request_headers.clear()
        self.request_times.clear()
        self.stats = Stats()

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/api/chat", self._chat)
        router.add_get("/api/version", self._version)

    async def _version(self, request: web.Request) -> web.Response:
        return web.Response(body=b'{"version":"0.12.0"}', content_type="application/json")

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json(loads=msgspec.json.decode)
        self.requests.append(body)
        self.request_headers.append({k.lower(): v for k, v in request.headers.items()})
        self.request_times.append(time.monotonic())
        self.stats.requests += 1
        self._notify()
        reply = self._queue.popleft() if self._queue else Reply()
        if reply.hang:
            assert self._closing is not None
            await self._closing.wait()
            drop(request)
            return web.Response()
        if reply.first_byte_delay:
            await anyio.sleep(reply.first_byte_delay)
        if reply.status >= 400:
            headers = {} if reply.retry_after is None else {"retry-after": reply.retry_after}
            return web.Response(
                status=reply.status,
                headers=headers,
                content_type="application/json",
                body=_encode({"error": reply.error}),
            )
        return await self._stream(request, reply, list(_lines(reply, body, self.tokens)))

    async def _stream(
        self, request: web.Request, reply: Reply, lines: list[bytes]
    ) -> web.StreamResponse:
        error = _encode({"error": reply.error}) + b"\n"
        return await self.stream(
            request,
            lines,
            reply,
            self.stats,
            content_type="application/x-ndjson",
            error_frame=error,
        )


async def _serve(args: argparse.Namespace) -> None:
    server = FakeOllamaServer(host=args.host, port=args.port, tokens=args.tokens)
    await server.start()
    print(f"fake Ollama listening on {server.base_url}", flush=True)
    try:
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        anyio.run(_serve, args, backend="asyncio")
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
