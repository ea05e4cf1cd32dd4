"""A real `troupe serve` on the offline demo model, and a scripted stand-in server.

The demo model calls the calculator for arithmetic questions and writes a
short answer otherwise; a reviewer (a system message naming a critic) approves.
The scripted server streams turns no configured team can produce yet
(handoffs, a question for the user), encoded by ``troupe.wire`` as the real
server would.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.conftest import free_port, start, stop
from troupe.events import Event, RunEnded
from troupe.messages import Usage
from troupe.wire import ChunkEncoder, Renderer

API_KEY = "sk-streamlit"

CONFIG = """
models:
  demo: {provider: demo}
  gone: {provider: openai, model: gone, base_url: "http://127.0.0.1:%(dead_port)d/v1", api_key: none, max_retries: 0}
teams:
  solo:
    description: One agent with a calculator.
    agents:
      - {name: bot, model: demo, tools: ["troupe.tools.builtin:calculator"], max_tool_iterations: 2}
  checked:
    description: A solver with a calculator, and a critic who checks the answer.
    agents:
      - {name: solver, model: demo, tools: ["troupe.tools.builtin:calculator"], max_tool_iterations: 2}
      - {name: critic, model: demo, system_message: You are a critic. Review the answer.}
    termination: {text_mention: APPROVE, max_messages: 4}
  broken:
    description: Its model's server is down.
    agents:
      - {name: bot, model: gone}
"""


class TroupeServer:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.api_key = API_KEY


@pytest.fixture(scope="session")
def troupe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TroupeServer]:
    config = tmp_path_factory.mktemp("streamlit") / "teams.yaml"
    config.write_text(CONFIG % {"dead_port": free_port()})
    port = free_port()
    proc = start(
        [
            *(sys.executable, "-m", "troupe.cli", "serve", "--config", str(config)),
            *("--port", str(port), "--log-level", "warning"),
        ],
        f"http://127.0.0.1:{port}/health",
        env={"TROUPE_API_KEYS": API_KEY},
    )
    yield TroupeServer(port)
    stderr = stop(proc)
    assert "Traceback" not in stderr, stderr


@pytest.fixture
def dead_url() -> str:
    """A loopback URL nothing listens on: a troupe server that is down."""
    return f"http://127.0.0.1:{free_port()}"


class ScriptedServer:
    """Answers `/v1/models` with one team and each chat request with the next scripted turn."""

    def __init__(self, team: str, agents: list[str]) -> None:
        self.team = team
        self.agents = agents
        self.turns: list[list[Event | None]] = []
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        # A turn ending in None holds its stream open until this is set.
        self.release = threading.Event()
        self.disconnected = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                agents = [{"name": a, "description": ""} for a in server.agents]
                model = {"id": server.team, "object": "model", "created": 0, "owned_by": "troupe"}
                body = {"object": "list", "data": [{**model, "agents": agents}]}
                self._send(200, "application/json", json.dumps(body).encode())

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                events = server.turns.pop(0)
                encoder = ChunkEncoder("chatcmpl-1", 0, server.team, Renderer(speaker_lines=True))
                run_end = next((e for e in events if isinstance(e, RunEnded)), None)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("X-Conversation-Id", run_end.conversation_id if run_end else "")
                self.end_headers()
                self.wfile.write(encoder.start())
                for event in events:
                    if event is None:
                        self._hold()
                        return
                    if not isinstance(event, RunEnded):
                        self.wfile.write(encoder.encode(event))
                self.wfile.write(
                    encoder.finish(run_end, Usage(prompt_tokens=3, completion_tokens=5))
                )

            def _hold(self) -> None:
                self.wfile.flush()
                while not server.release.wait(0.05):
                    try:
                        self.wfile.write(b": keepalive\n\n")
                        self.wfile.flush()
                    except OSError:
                        server.disconnected.set()
                        return

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def __enter__(self) -> ScriptedServer:
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._http.shutdown()
        self._http.server_close()
