"""`troupe serve` as an operator runs it: JSON logs without secrets, a bounded request head."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.e2e.conftest import Upstream, free_port, start, stop

KEY = "sk-live-ops0123456789SECRET"
CLIENT_KEY = "sk-client-abcdef123"
CONFIG = """
models:
  fake: {{provider: openai, model: fake-model, base_url: "{base_url}", api_key: "{key}", max_retries: 0}}
teams:
  solo:
    agents: [{{name: bot, model: fake}}]
"""


class Served:
    """A `troupe serve` process; ``stop()`` returns everything it logged."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self._stderr: str | None = None

    def stop(self) -> str:
        if self._stderr is None:
            self._stderr = stop(self.proc)
        return self._stderr

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1])


@pytest.fixture
def served(upstream: Upstream, tmp_path: Path) -> Iterator[Served]:
    config = tmp_path / "teams.yaml"
    config.write_text(CONFIG.format(base_url=upstream.base_url, key=KEY))
    port = free_port()
    proc = start(
        [sys.executable, "-m", "troupe.cli", "serve", "--config", str(config), "--port", str(port)],
        f"http://127.0.0.1:{port}/health/live",
        env={"TROUPE_LOG_FORMAT": "json", "TROUPE_API_KEYS": CLIENT_KEY},
        cwd=tmp_path,
    )
    server = Served(proc, port)
    yield server
    server.stop()


def test_json_logs_of_a_failing_upstream_hold_no_key(served: Served, upstream: Upstream) -> None:
    upstream.reset()
    upstream.script({"status": 401, "error": f"Incorrect API key provided: {KEY}"})
    response = httpx2.post(
        f"{served.url}/v1/chat/completions",
        json={"model": "solo", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {CLIENT_KEY}", "x-conversation-id": "ops-1"},
        timeout=30,
    )
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "HTTP 401" in message and "agent 'bot'" in message
    assert upstream.base_url not in message and KEY not in message
    request_id = response.headers["x-request-id"]
    refused = httpx2.get(
        f"{served.url}/v1/models", headers={"authorization": "Bearer sk-wrong-999999999"}
    )
    assert refused.status_code == 401 and "999999999" not in refused.text

    stderr = served.stop()
    for secret in (KEY, "ops0123456789", CLIENT_KEY, "999999999"):
        assert secret not in stderr
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    failures = [line for line in lines if "model call failed" in line["message"]]
    assert len(failures) == 1, lines
    failure = failures[0]
    assert upstream.base_url in failure["message"]  # the operator learns where it failed
    assert failure["level"] == "warning"
    assert failure["request_id"] == request_id
    assert failure["conversation_id"] == "ops-1"
    assert failure["team"] == "solo" and failure["agent"] == "bot"


def _send_unfinished_head(port: int, size: int) -> bytes:
    """Send a request whose one header never ends; return what the server answered."""
    chunk = b"a" * 65536
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(size // len(chunk)):
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection: what it answered is still readable
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
        return answer


def test_an_endless_header_is_refused_and_costs_no_memory(served: Served) -> None:
    before = served.rss_kib()
    answers = [_send_unfinished_head(served.port, 16 * 1024 * 1024) for _ in range(4)]
    grown_mib = (served.rss_kib() - before) / 1024
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert b'"code":"request_header_fields_too_large"' in answer
    # 64 MiB were offered; unbounded, the server kept them all (and more).
    assert grown_mib < 16, f"the server grew by {grown_mib:.1f} MiB"
    ok = httpx2.get(
        f"{served.url}/v1/models", headers={"authorization": f"Bearer {CLIENT_KEY}"}, timeout=10
    )
    assert ok.status_code == 200
