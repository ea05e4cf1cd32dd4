"""Real processes: the fake OpenAI upstream and `troupe serve`, on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before serving {url}")
        try:
            if httpx2.get(url, timeout=1.0).status_code < 500:
                return
        except httpx2.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def start(
    args: list[str],
    health: str,
    env: dict[str, str] | None = None,
    *,
    cwd: Path = ROOT,
    replace_env: bool = False,
) -> subprocess.Popen[bytes]:
    full_env = dict(env or {}) if replace_env else {**os.environ, **(env or {})}
    # The tests' own modules (the fake upstream) import from the repository root.
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), full_env.get("PYTHONPATH")) if p
    )
    proc = subprocess.Popen(
        args, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_http(health, proc)
    except Exception:
        proc.kill()
        raise
    return proc


def stop(proc: subprocess.Popen[bytes]) -> str:
    """Stop a process; returns what it wrote to stderr."""
    proc.terminate()
    try:
        _, stderr = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    return stderr.decode(errors="replace") if stderr else ""


class Upstream:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.url}/v1"

    def script(self, *replies: dict) -> None:  # type: ignore[type-arg]
        httpx2.post(f"{self.url}/_script", json=list(replies)).raise_for_status()

    def stats(self) -> dict:  # type: ignore[type-arg]
        return dict(httpx2.get(f"{self.url}/_stats").json())

    def requests(self) -> list:  # type: ignore[type-arg]
        return list(httpx2.get(f"{self.url}/_requests").json())

    def reset(self) -> None:
        httpx2.post(f"{self.url}/_reset").raise_for_status()


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    port = free_port()
    proc = start(
        [sys.executable, "-m", "tests.fakes.openai_upstream", "--port", str(port)],
        f"http://127.0.0.1:{port}/v1/models",
    )
    yield Upstream(port)
    stop(proc)


CONFIG = """
models:
  fake: {{provider: openai, model: fake-model, base_url: "{base_url}", api_key: none, max_retries: 0}}
teams:
  solo:
    description: One agent on the fake upstream.
    agents:
      - {{name: bot, model: fake, tools: ["troupe.tools.builtin:calculator"], max_tool_iterations: 2}}
  duo:
    agents:
      - {{name: writer, model: fake, system_message: Write.}}
      - {{name: critic, model: fake, system_message: Review.}}
    termination: {{max_messages: 3}}
"""


class Server:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.url}/v1"

    def health(self) -> dict:  # type: ignore[type-arg]
        return dict(httpx2.get(f"{self.url}/health").json())


@pytest.fixture(scope="session")
def server(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    config = tmp_path_factory.mktemp("e2e") / "teams.yaml"
    config.write_text(CONFIG.format(base_url=upstream.base_url))
    port = free_port()
    proc = start(
        [
            sys.executable,
            "-m",
            "troupe.cli",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        f"http://127.0.0.1:{port}/health",
        env={"TROUPE_API_KEYS": "sk-e2e"},
        cwd=config.parent,  # its own working directory: no state left from earlier runs
    )
    yield Server(port)
    stderr = stop(proc)
    assert "Traceback" not in stderr, stderr
