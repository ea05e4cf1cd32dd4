"""A local HTTP server that stands in for Slack's Web API (and its Socket Mode).

It answers the methods the Slack adapter uses the way Slack does — ``{"ok":
true, ...}`` or ``{"ok": false, "error": "..."}`` with status 200, form or
JSON bodies, the token in ``Authorization: Bearer`` — so ``slack_sdk`` does
its real parsing:

* ``auth.test``; ``chat.postMessage``, ``chat.update``;
* ``chat.startStream``, ``chat.appendStream``, ``chat.stopStream`` (with the
  rules that matter: a stream needs ``thread_ts``, and in a channel the
  recipient's user and team; appending to a stopped stream fails);
  ``streaming=False`` makes the three fail with ``not_allowed`` to exercise a
  client's fallback;
* ``assistant.threads.setStatus`` (``status_error`` makes it fail, as outside
  assistant threads or without the ``assistant:write`` scope);
* ``apps.connections.open`` and a Socket Mode WebSocket at ``/socket-mode``:
  ``send_envelope`` pushes an envelope to the connected app and returns its ack;
* ``POST /response/<id>``: a ``response_url`` for slash commands and actions.

``delay`` makes every Web API answer that slow, like a busy Slack. Any
``markdown_text`` over 12,000 characters, or a message that grows past
that, is refused with ``msg_too_long``. Every call is recorded (``calls``);
the messages as they stand now are in ``messages``, ``thread()`` gives one
thread's replies in order.

In-process::

    async with FakeSlackAPI() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.base_url)

As a process: ``python -m tests.fakes.slack_api --port 8200``; ``GET /_calls``,
``GET /_messages``, ``POST /_reset``, ``POST /_config {"streaming": false}``.
"""

from __future__ import annotations

__all__ = ["FakeSlackAPI", "SlackCall", "SlackMessage"]

import argparse
import contextlib
import itertools
import json
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import aiohttp.web as web
import anyio
import msgspec

MARKDOWN_LIMIT = 12_000
TEAM_ID = "T0TROUPE"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
_JSON_ARGS = ("blocks", "metadata", "chunks", "attachments", "loading_messages")


class SlackCall(msgspec.Struct, kw_only=True):
    """One Web API call as the fake received it."""

    method: str
    args: dict[str, Any]
    token: str | None = None
    error: str | None = None


class SlackMessage(msgspec.Struct, kw_only=True):
    """A message as it stands now; ``text`` is the markdown (or plain) text."""

    ts: str
    channel: str
    thread_ts: str | None = None
    text: str = ""
    blocks: list[dict[str, Any]] = []
    metadata: dict[str, Any] | None = None
    streamed: bool = False
    streaming: bool = False
    updates: int = 0


class FakeSlackAPI:
    """Slack's Web API on 127.0.0.1; an async context manager."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        streaming: bool = True,
        delay: float = 0.0,
        status_error: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.streaming = streaming
        self.delay = delay
        self.status_error = status_error
        self.calls: list[SlackCall] = []
        self.messages: dict[str, SlackMessage] = {}
        self.responses: list[dict[str, Any]] = []
        self._ts = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None
        self._changed: anyio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What a ``WebClient`` takes as ``base_url`` (``SLACK_API_URL``)."""
        return f"{self.url}/api/"

    def reset(self, *, streaming: bool = True) -> None:
        self.streaming = streaming
        self.calls.clear()
        self.messages.clear()
        self.responses.clear()
        self._notify()

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    def thread(self, channel: str, thread_ts: str) -> list[SlackMessage]:
        """The replies the app posted in one thread, oldest first."""
        return [
            m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts
        ]

    @property
    def connected(self) -> bool:
        return any(not ws.closed for ws in self._sockets)

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Wait (at most 20 s) until ``condition()`` holds; re-checked on every state change."""
        with anyio.fail_after(20):
            while not condition():
                assert self._changed is not None, "server not started"
                await self._changed.wait()

    async def send_envelope(
        self, payload: dict[str, Any], *, kind: str = "events_api", envelope_id: str = "env-1"
    ) -> dict[str, Any]:
        """Push a Socket Mode envelope to the connected app; returns the app's ack."""
        sockets = [ws for ws in self._sockets if not ws.closed]
        assert sockets, "no Socket Mode connection"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await sockets[-1].send_str(json.dumps(envelope))
        await self.wait_until(lambda: envelope_id in self._acks)
        return self._acks.pop(envelope_id)

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
        self._changed = anyio.Event()

    async def start(self) -> None:
        self._changed = anyio.Event()
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/socket-mode", self._socket)
        app.router.add_post("/response/{id}", self._response)
        app.router.add_get("/_calls", self._get_calls)
        app.router.add_get("/_messages", self._get_messages)
        app.router.add_post("/_reset", self._post_reset)
        app.router.add_post("/_config", self._post_config)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlackAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- the Web API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        handler = _METHODS.get(method)
        if self.delay:
            await anyio.sleep(self.delay)
        if not token:
            result: dict[str, Any] = {"ok": False, "error": "not_authed"}
        elif handler is None:
            result = {"ok": False, "error": "unknown_method"}
        else:
            result = handler(self, args)
        self.calls.append(
            SlackCall(
                method=method,
                args=args,
                token=token,
                error=None if result.get("ok") else str(result.get("error")),
            )
        )
        self._notify()
        return web.json_response(result)

    def _new_ts(self) -> str:
        n = next(self._ts)
        return f"{1_700_000_000 + n}.{n:06d}"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://troupe-test.slack.com/",
            "team": "troupe test",
            "user": "troupe",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        text = str(args.get("markdown_text") or args.get("text") or "")
        if not text and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        if len(text) > MARKDOWN_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        message = SlackMessage(
            ts=self._new_ts(),
            channel=str(args["channel"]),
            thread_ts=args.get("thread_ts"),
            text=text,
            blocks=list(args.get("blocks") or []),
            metadata=args.get("metadata"),
        )
        self.messages[message.ts] = message
        return {"ok": True, "channel": message.channel, "ts": message.ts, "message": {"text": text}}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get(str(args.get("ts")))
        if message is None or message.channel != args.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        text = args.get("markdown_text") or args.get("text")
        if text is not None:
            if len(text) > MARKDOWN_LIMIT:
                return {"ok": False, "error": "msg_too_long"}
            message.text = str(text)
        if "blocks" in args:
            message.blocks = list(args["blocks"] or [])
        if "metadata" in args:
            message.metadata = args["metadata"]
        message.updates += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.streaming:
            return {"ok": False, "error": "not_allowed"}
        channel = str(args.get("channel") or "")
        if not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        if channel.startswith(("C", "G")) and not (
            args.get("recipient_user_id") and args.get("recipient_team_id")
        ):
            return {"ok": False, "error": "missing_recipient_user_id"}
        text = _streamed_text(args)
        if len(text) > MARKDOWN_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        message = SlackMessage(
            ts=self._new_ts(),
            channel=channel,
            thread_ts=str(args["thread_ts"]),
            text=text,
            streamed=True,
            streaming=True,
        )
        self.messages[message.ts] = message
        return {"ok": True, "channel": channel, "ts": message.ts}

    def _streaming_message(self, args: dict[str, Any]) -> SlackMessage | dict[str, Any]:
        if not self.streaming:
            return {"ok": False, "error": "not_allowed"}
        message = self.messages.get(str(args.get("ts")))
        if message is None or message.channel != args.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        if not message.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        text = _streamed_text(args)
        if len(text) > MARKDOWN_LIMIT or len(message.text) + len(text) > MARKDOWN_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        message.text += text
        return message

    def _append_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        if not _streamed_text(args):
            return {"ok": False, "error": "invalid_arguments"}
        found = self._streaming_message(args)
        if isinstance(found, dict):
            return found
        found.updates += 1
        return {"ok": True, "channel": found.channel, "ts": found.ts}

    def _stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        found = self._streaming_message(args)
        if isinstance(found, dict):
            return found
        found.streaming = False
        if args.get("blocks"):
            found.blocks = list(args["blocks"])
        if args.get("metadata"):
            found.metadata = args["metadata"]
        return {"ok": True, "channel": found.channel, "ts": found.ts}

    def _set_status(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.status_error:
            return {"ok": False, "error": self.status_error}
        if not args.get("channel_id") or not args.get("thread_ts") or "status" not in args:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://{self.host}:{self.port}/socket-mode"}

    # -- Socket Mode, response_url, control

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0TROUPE"}}
        await ws.send_str(json.dumps(hello))
        self._notify()
        async for frame in ws:
            if frame.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(frame.data)
                if isinstance(data, dict) and "envelope_id" in data:
                    self._acks[str(data["envelope_id"])] = data
                    self._notify()
        self._notify()
        return ws

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append({"id": request.match_info["id"], **await request.json()})
        self._notify()
        return web.Response(text="ok")

    async def _get_calls(self, request: web.Request) -> web.Response:
        return web.Response(body=msgspec.json.encode(self.calls), content_type="application/json")

    async def _get_messages(self, request: web.Request) -> web.Response:
        body = msgspec.json.encode(list(self.messages.values()))
        return web.Response(body=body, content_type="application/json")

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset(streaming=self.streaming)
        return web.json_response({"ok": True})

    async def _post_config(self, request: web.Request) -> web.Response:
        config = await request.json()
        self.streaming = bool(config.get("streaming", self.streaming))
        return web.json_response({"ok": True, "streaming": self.streaming})


_METHODS: dict[str, Callable[[FakeSlackAPI, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": FakeSlackAPI._auth_test,
    "chat.postMessage": FakeSlackAPI._post_message,
    "chat.update": FakeSlackAPI._update,
    "chat.startStream": FakeSlackAPI._start_stream,
    "chat.appendStream": FakeSlackAPI._append_stream,
    "chat.stopStream": FakeSlackAPI._stop_stream,
    "assistant.threads.setStatus": FakeSlackAPI._set_status,
    "apps.connections.open": FakeSlackAPI._connections_open,
}


async def _arguments(request: web.Request) -> dict[str, Any]:
    """The call's arguments from a JSON or form body (and the query string)."""
    args: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if raw:
        if request.content_type == "application/json":
            args.update(json.loads(raw))
        else:
            args.update(parse_qsl(raw.decode(), keep_blank_values=True))
    for key in _JSON_ARGS:
        if isinstance(args.get(key), str):
            args[key] = json.loads(args[key])
    return args


def _streamed_text(args: dict[str, Any]) -> str:
    text = str(args.get("markdown_text") or "")
    for chunk in args.get("chunks") or []:
        if isinstance(chunk, dict) and chunk.get("type") == "markdown_text":
            text += str(chunk.get("text") or "")
    return text


async def _serve(host: str, port: int) -> None:
    async with FakeSlackAPI(host=host, port=port) as fake:
        print(f"fake Slack API on {fake.base_url}", file=sys.stderr, flush=True)
        await anyio.sleep_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for Slack's Web API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(_serve, args.host, args.port)


if __name__ == "__main__":
    main()
