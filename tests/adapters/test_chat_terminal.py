"""``troupe chat`` in a pseudo-terminal, against a real ``troupe serve``.

The graph team's two branches write at once; the terminal must still show
each agent's message once, whole, under its name, exactly as the team kept it.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2
import pytest

from tests.adapters.real_teams import TeamServer, team_server
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

KEY = "sk-chat-terminal"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    with team_server(tmp_path_factory.mktemp("chat"), KEY) as running:
        yield running


class Terminal:
    """``troupe chat <team>`` on a pseudo-terminal: type lines, read what it printed."""

    def __init__(self, server: TeamServer, team: str) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "troupe.cli", "chat", team, "--server", server.url],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TROUPE_API_KEY": server.api_key},
            close_fds=True,
        )
        os.close(slave)
        self.output = ""

    def read_until(self, text: str, timeout: float = 60) -> str:
        """Everything printed until ``text`` appears (ANSI colours removed)."""
        start = len(self.output)
        deadline = time.monotonic() + timeout
        while text not in self.output[start:]:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in:\n{self.output[start:]}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the process ended
                    chunk = b""
                assert chunk, f"the chat ended before {text!r}:\n{self.output[start:]}"
                self.output += _ANSI.sub("", chunk.decode(errors="replace"))
        return self.output[start:]

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def close(self) -> int:
        os.write(self.master, b"\x04")  # Ctrl-D
        code = self.proc.wait(timeout=15)
        os.close(self.master)
        return code


def newest_conversation(server: TeamServer, team: str) -> str:
    response = httpx2.get(
        f"{server.url}/v1/conversations", headers={"Authorization": f"Bearer {server.api_key}"}
    )
    return str(next(c["id"] for c in response.json()["data"] if c["team"] == team))


def messages(output: str, agents: list[str]) -> list[tuple[str, str]]:
    """(agent, text) of each message printed under an agent's name line."""
    names = "|".join(agents)
    parts = re.split(rf"\r?\n({names}): ", output)
    found = []
    for agent, text in zip(parts[1::2], parts[2::2], strict=True):
        # Up to the run's end, a question, or the next prompt.
        text = re.split(r"\r?\n  \(|\r?\n\w+ asks|\r?\nyou> ", text)[0]
        found.append((agent, text.replace("\r\n", "\n").strip()))
    return found


def test_parallel_branches_print_one_whole_message_per_agent(server: TeamServer) -> None:
    chat = Terminal(server, "pipeline")
    try:
        chat.read_until("you> ")
        chat.type("An essay on tea")
        printed = chat.read_until("you> ")
    finally:
        assert chat.close() == 0
    agents = ["outliner", "intro_writer", "body_writer"]
    kept = server.transcript(newest_conversation(server, "pipeline"))
    assert messages(printed, agents) == [(s, t) for s, t in kept if s in agents]


def test_a_handoff_prints_no_empty_message(server: TeamServer) -> None:
    chat = Terminal(server, "support")
    try:
        chat.read_until("you> ")
        chat.type("A question about my billing invoice")
        printed = chat.read_until("you> ")
    finally:
        assert chat.close() == 0
    assert "triage hands off to billing" in printed
    assert [agent for agent, _ in messages(printed, ["triage", "billing"])] == ["billing"]


def test_the_team_asks_and_the_next_line_answers(server: TeamServer) -> None:
    chat = Terminal(server, "booking")
    try:
        chat.read_until("you> ")
        chat.type("Book a table for tonight")
        assert "guest asks: How many people are coming?" in chat.read_until("you> ")
        chat.type("4")
        answered = chat.read_until("you> ")
    finally:
        assert chat.close() == 0
    kept = server.transcript(newest_conversation(server, "booking"))
    assert ("guest", "4") in kept  # the same conversation: the answer is the proxy's word
    assert messages(answered, ["host"]) == [kept[-1]]
