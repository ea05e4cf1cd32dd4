"""A real Anthropic Messages API server for tests and the benchmark.

It streams ``POST /v1/messages`` the way Anthropic does: named server-sent
events (``message_start``, ``ping``, ``content_block_start`` /
``content_block_delta`` / ``content_block_stop`` per block, ``message_delta``
with the stop reason and cumulative usage, ``message_stop``), thinking blocks
with their signature, tool-use input as ``input_json_delta`` fragments, and
errors as ``{"type": "error", "error": {"type", "message"}}``: as the body of
an error status, or as an ``error`` event mid-stream. So the official SDK, or
troupe's parser, does its real work. What it answers is scripted:

* by default it echoes the last user message word by word, or, when started
  with ``tokens=N``, answers ``N`` deterministic tokens;
* ``script(Reply(...), ...)`` queues answers for the next requests.

It records every request body, its headers and arrival time, and counts
streams a client gave up on. Run as a process::

    python -m tests.fakes.anthropic_upstream --port 8200 --tokens 200
"""

from __future__ import annotations

__all__ = ["FakeAnthropicServer", "Reply", "ScriptedCall", "Stats"]

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


class ScriptedCall(msgspec.Struct, kw_only=True):
    """A ``tool_use`` block; its input JSON streams in ``pieces`` fragments."""

    name: str
    arguments: str = "{}"
    id: str = ""
    pieces: int = 3


class Reply(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One scripted answer; every field is optional. The default is the echo reply."""

    text: str | None = None
    chunks: list[str] | None = None
    thinking: str = ""
    signature: str = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
    redacted_thinking: str = ""
    tool_calls: list[ScriptedCall] = msgspec.field(default_factory=list)
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    thinking_tokens: int | None = None
    # An HTTP error instead of an answer.
    status: int = 200
    error_type: str = "api_error"
    error: str = "scripted failure"
    retry_after: str | None = None
    should_retry: str | None = None
    # Failure modes, counted in events sent (message_start is event 0).
    delay: float = 0.0
    first_byte_delay: float = 0.0
    error_after: int | None = None
    stream_error_type: str = "overloaded_error"
    disconnect_after: int | None = None
    hang_after: int | None = None
    hang: bool = False


class Stats(msgspec.Struct, kw_only=True):
    requests: int = 0
    streams_started: int = 0
    streams_completed: int = 0
    streams_cancelled: int = 0


def _event(data: dict[str, Any]) -> bytes:
    return b"event: " + data["type"].encode() + b"\ndata: " + _encode(data) + b"\n\n"


def _split(text: str, pieces: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def error_body(error_type: str, message: str) -> bytes:
    return _encode(
        {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": "req_fake",
        }
    )


class _Answer:
    """A reply resolved against one request: its content blocks as SSE events."""

    def __init__(self, reply: Reply, body: dict[str, Any], tokens: int | None) -> None:
        self.reply = reply
        self.model = str(body.get("model", "claude-fake"))
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        if reply.chunks is not None:
            self.pieces = list(reply.chunks)
        elif reply.text is not None:
            self.pieces = _WORD.findall(reply.text)
        elif reply.tool_calls:
            self.pieces = []
        elif tokens is not None:
            self.pieces = [f"tok{i} " for i in range(tokens)]
        else:
            users = [m for m in messages if m.get("role") == "user"]
            echo = _text_of(users[-1].get("content")) if users else ""
            self.pieces = _WORD.findall(echo or "Hello from the fake model.")
        self.calls = [
            c if c.id else msgspec.structs.replace(c, id=f"toolu_{i:02d}")
            for i, c in enumerate(reply.tool_calls)
        ]
        self.stop = reply.stop_reason or ("tool_use" if self.calls else "end_turn")
        prompt = sum(len(_text_of(m.get("content")).split()) + 3 for m in messages)
        self.input_tokens = reply.input_tokens if reply.input_tokens is not None else prompt
        self.output_tokens = (
            reply.output_tokens
            if reply.output_tokens is not None
            else len(self.pieces) + sum(c.pieces for c in self.calls)
        )

    def events(self) -> Iterator[bytes]:
        reply = self.reply
        usage = {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": reply.cache_creation_input_tokens,
            "cache_read_input_tokens": reply.cache_read_input_tokens,
            "output_tokens": 1,
            "service_tier": "standard",
        }
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        yield _event({"type": "message_start", "message": message})
        yield _event({"type": "ping"})
        index = 0
        if reply.thinking:
            yield from self._block(
                index,
                {"type": "thinking", "thinking": "", "signature": ""},
                [{"type": "thinking_delta", "thinking": p} for p in _split(reply.thinking, 3)]
                + [{"type": "signature_delta", "signature": reply.signature}],
            )
            index += 1
        if reply.redacted_thinking:
            block = {"type": "redacted_thinking", "data": reply.redacted_thinking}
            yield from self._block(index, block, [])
            index += 1
        if self.pieces:
            yield from self._block(
                index,
                {"type": "text", "text": ""},
                [{"type": "text_delta", "text": p} for p in self.pieces],
            )
            index += 1
        for call in self.calls:
            block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            parts = ["", *_split(call.arguments, call.pieces)]  # Anthropic opens with ""
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in parts]
            yield from self._block(index, block, deltas)
            index += 1
        delta_usage: dict[str, Any] = {"output_tokens": self.output_tokens}
        if reply.thinking_tokens is not None:
            delta_usage["output_tokens_details"] = {"thinking_tokens": reply.thinking_tokens}
        yield _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop, "stop_sequence": None},
                "usage": delta_usage,
            }
        )
        yield _event({"type": "message_stop"})

    @staticmethod
    def _block(index: int, block: dict[str, Any], deltas: list[dict[str, Any]]) -> Iterator[bytes]:
        yield _event({"type": "content_block_start", "index": index, "content_block": block})
        for delta in deltas:
            yield _event({"type": "content_block_delta", "index": index, "delta": delta})
        yield _event({"type": "content_block_stop", "index": index})


class FakeAnthropicServer(FakeServer):
    """An Anthropic-compatible server on 127.0.0.1; an async context manager."""

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
        """What the SDK takes as ``base_url`` (it appends ``/v1/messages``)."""
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
        router.add_post("/v1/messages", self._messages)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
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
            headers = {"request-id": "req_fake"}
            if reply.retry_after is not None:
                headers["retry-after"] = reply.retry_after
            if reply.should_retry is not None:
                headers["x-should-retry"] = reply.should_retry
            return web.Response(
                status=reply.status,
                headers=headers,
                content_type="application/json",
                body=error_body(reply.error_type, reply.error),
            )
        return await self._stream(request, reply, list(_Answer(reply, body, self.tokens).events()))

    async def _stream(
        self, request: web.Request, reply: Reply, events: list[bytes]
    ) -> web.StreamResponse:
        error = (
            b"event: error\ndata: "
            + _encode(
                {
                    "type": "error",
                    "error": {"type": reply.stream_error_type, "message": reply.error},
                }
            )
            + b"\n\n"
        )
        return await self.stream(
            request, events, reply, self.stats, content_type="text/event-stream", error_frame=error
        )


async def _serve(args: argparse.Namespace) -> None:
    server = FakeAnthropicServer(host=args.host, port=args.port, tokens=args.tokens)
    await server.start()
    print(f"fake Anthropic upstream listening on {server.base_url}", flush=True)
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
