"""Real processes around the Slack adapter, and a Slack that signs what it delivers.

* a fake Slack Web API in the test's own event loop (``slack``), on a port
  fixed for the session so the adapter processes can be pointed at it;
* a real ``troupe serve`` with teams on the offline demo model (and the
  graph, swarm, user-proxy and approval teams of ``tests.adapters.real_teams``);
* ``troupe slack`` (HTTP mode, served by uvicorn) pointed at both, as a
  process; more adapters, and a server whose team asks questions, in threads;
* ``SlackEvents``: sends events, slash commands and actions to an adapter
  over HTTP, signed with the signing secret the way Slack signs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode

import httpx2
import pytest
import uvicorn
from slack_sdk.signature import SignatureVerifier

from tests.adapters import real_teams
from tests.adapters.slack.interview_server import Interviewer
from tests.e2e.conftest import ROOT, free_port, stop, wait_http
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID, FakeSlackAPI, SlackMessage
from troupe.adapters.slack import SlackAdapter, SlackSettings
from troupe.server import create_app
from troupe.teams import RoundRobinTeam

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-troupe-test"
API_KEY = "sk-slack-e2e"
ALICE = "U0ALICE"
WRITERS_CHANNEL = "C0WRITERS"

# Beside these, the graph, swarm, user-proxy and approval teams of real_teams.
TEAMS = """
  assistant:
    description: One agent with a calculator.
    agents:
      - {name: assistant, model: demo, tools: ["troupe.tools.builtin:calculator"], max_tool_iterations: 2}
  writers:
    description: A writer drafts, a critic approves.
    agents:
      - {name: writer, model: demo, system_message: You are a writer.}
      - {name: critic, model: demo, system_message: You are a critic. Review the draft.}
    termination: {text_mention: APPROVE, max_messages: 4}"""
CONFIG = real_teams.config(TEAMS)


@pytest.fixture(scope="session")
def slack_port() -> int:
    return free_port()


@pytest.fixture
async def slack(slack_port: int) -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI(port=slack_port) as fake:
        yield fake


class ServerThread:
    """An ASGI app served by uvicorn on a free port, in a thread of the test process."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


class Stack(NamedTuple):
    """Where things listen: the troupe server and the adapters in front of servers."""

    troupe: str  # ``troupe serve`` with the demo teams (a process)
    adapter: str  # ``troupe slack``: ``assistant`` by default, ``writers`` in WRITERS_CHANNEL
    interview_adapter: str  # in front of a server whose team asks the human a question
    down_adapter: str  # in front of a server that is not there


def in_process_adapter(server: str, team: str, slack_port: int) -> ServerThread:
    settings = SlackSettings(
        server_url=server,
        team=team,
        api_key=API_KEY,
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        api_url=f"http://127.0.0.1:{slack_port}/api/",
        grace_seconds=2,
    )
    return ServerThread(SlackAdapter(settings).asgi_app())


def launch(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start a process like ``tests.e2e.conftest.start``, without waiting for it.

    It runs in ``cwd``, a fresh directory: whatever the server keeps on disk there
    (conversations) starts empty, so a rerun never continues an old thread.
    """
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        args, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, slack_port: int) -> Iterator[Stack]:
    """``troupe serve`` and ``troupe slack`` as processes, started together (each takes
    seconds to import); the other servers run in threads of the test process."""
    workdir = tmp_path_factory.mktemp("slack")
    (workdir / "teams.yaml").write_text(CONFIG)
    troupe_port, adapter_port = free_port(), free_port()
    troupe = f"http://127.0.0.1:{troupe_port}"
    adapter = f"http://127.0.0.1:{adapter_port}"
    troupe_cli = [sys.executable, "-m", "troupe.cli"]
    quiet = ["--log-level", "warning"]
    serve = launch(
        [*troupe_cli, "serve", "--config", "teams.yaml", "--port", str(troupe_port), *quiet],
        {"TROUPE_API_KEYS": API_KEY},
        workdir,
    )
    bot = launch(
        [
            *troupe_cli,
            *("slack", "--server", troupe, "--api-key", API_KEY, "--team", "assistant"),
            *("--channel", f"{WRITERS_CHANNEL}=writers", "--port", str(adapter_port), *quiet),
        ],
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/",
        },
        workdir,
    )
    procs = {serve: f"{troupe}/health", bot: f"{adapter}/health"}
    try:
        # Sharing the CPU with other test runs, imports alone can take tens of seconds.
        with ThreadPoolExecutor(len(procs)) as pool:
            for waited in [pool.submit(wait_http, url, proc, 120) for proc, url in procs.items()]:
                waited.result()
    except Exception:
        for proc in procs:
            stop(proc)
        raise
    interview = ServerThread(create_app(teams=[RoundRobinTeam("interview", [Interviewer()])]))
    nowhere = f"http://127.0.0.1:{free_port()}"
    with (
        interview,
        in_process_adapter(interview.url, "interview", slack_port) as interview_adapter,
        in_process_adapter(nowhere, "assistant", slack_port) as down_adapter,
    ):
        yield Stack(troupe, adapter, interview_adapter.url, down_adapter.url)
    for proc in procs:
        stderr = stop(proc)
        assert "Traceback" not in stderr, stderr


class SlackEvents:
    """Delivers to an adapter what Slack would: signed events, commands, actions."""

    def __init__(self, url: str, secret: str = SIGNING_SECRET) -> None:
        self.url = f"{url}/slack/events"
        self.signer = SignatureVerifier(secret)
        self.http = httpx2.AsyncClient(timeout=10)
        self._events = 0

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signer: SignatureVerifier | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx2.Response:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = (signer or self.signer).generate_signature(timestamp=stamp, body=body)
        assert signature is not None
        return await self.http.post(
            self.url,
            content=body.encode(),
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature,
                **(headers or {}),
            },
        )

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int = 0, **kw: Any
    ) -> httpx2.Response:
        self._events += 1
        envelope = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0TROUPE",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{event['ts'].replace('.', '')}{self._events}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(
            json.dumps(envelope),
            "application/json",
            headers=headers if retry else None,
            **kw,
        )

    async def command(self, text: str, channel: str, *, slack_port: int) -> httpx2.Response:
        form = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "channel_id": channel,
            "user_id": ALICE,
            "command": "/troupe",
            "text": text,
            "api_app_id": "A0TROUPE",
            "response_url": f"http://127.0.0.1:{slack_port}/response/command",
            "trigger_id": "1.2.3",
        }
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def action(self, payload: dict[str, Any]) -> httpx2.Response:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def events(stack: Stack) -> AsyncIterator[SlackEvents]:
    client = SlackEvents(stack.adapter)
    yield client
    await client.aclose()


def mention(channel: str, ts: str, text: str, *, thread_ts: str | None = None) -> dict[str, Any]:
    """The ``app_mention`` event of ``@troupe <text>``."""
    event = {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts,
        "channel": channel,
        "team": TEAM_ID,
        "event_ts": ts,
    }
    return event | ({"thread_ts": thread_ts} if thread_ts else {})


def message(
    channel: str, ts: str, text: str, *, thread_ts: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A ``message`` event (``message.channels`` unless ``channel_type`` says otherwise)."""
    event = {
        "type": "message",
        "user": ALICE,
        "text": text,
        "ts": ts,
        "channel": channel,
        "team": TEAM_ID,
        "event_ts": ts,
        "channel_type": "channel",
    }
    return event | ({"thread_ts": thread_ts} if thread_ts else {}) | extra


def turns_done(slack: FakeSlackAPI, channel: str, thread_ts: str) -> int:
    """How many turns in the thread are over: the last thing a turn does is clear the status."""
    return sum(
        1
        for call in slack.calls_to("assistant.threads.setStatus")
        if call.args.get("channel_id") == channel
        and call.args.get("thread_ts") == thread_ts
        and call.args.get("status") == ""
    )


def finished(slack: FakeSlackAPI, channel: str, thread_ts: str) -> list[SlackMessage]:
    """The thread's messages that end a turn (they carry the turn's metadata), in order."""
    return [m for m in slack.thread(channel, thread_ts) if m.metadata and not m.streaming]


def turn_of(message: SlackMessage) -> dict[str, Any]:
    assert message.metadata is not None and message.metadata["event_type"] == "troupe_turn"
    return dict(message.metadata["event_payload"])
