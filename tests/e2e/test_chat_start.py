"""`troupe chat TEAM` checks the team before the first message, against a real server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.conftest import Server, free_port

pytestmark = pytest.mark.e2e


def chat(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "troupe.cli", "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unknown_team_exits_1_naming_the_teams_there_are(server: Server) -> None:
    done = chat("nosuchteam", "--server", server.url, "--api-key", "sk-e2e")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"troupe chat: the server at {server.url} has no team 'nosuchteam'; its teams: duo, solo"
    )
    assert "you>" not in done.stdout  # it never asked for a message


def test_a_server_that_is_not_there_exits_1(server: Server) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    done = chat("solo", "--server", nowhere)
    assert done.returncode == 1
    assert f"cannot reach a troupe server at {nowhere}" in done.stderr


def test_a_refused_key_exits_1(server: Server) -> None:
    done = chat("solo", "--server", server.url, "--api-key", "sk-wrong")
    assert done.returncode == 1
    assert "refused the API key" in done.stderr


def test_a_known_team_starts_the_chat(server: Server) -> None:
    done = chat("solo", "--server", server.url, "--api-key", "sk-e2e")  # stdin ends at once
    assert done.returncode == 0, done.stderr
    assert f"Chatting with team 'solo' at {server.url}" in done.stdout
