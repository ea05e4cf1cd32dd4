"""Real teams for the adapters' end-to-end tests, on a real ``troupe serve``.

Every kind of team a front end must render, on the offline demo model (or no
model at all): a graph whose two branches write at once, a swarm that hands
off, a round robin whose user proxy asks the human, and a code runner whose
code waits for the human's approval.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from tests.e2e.conftest import free_port, start, stop

TEAMS = """
  pipeline:
    description: An outline, then two sections written at once.
    kind: graph
    agents:
      - {name: outliner, model: demo, system_message: Write a three-point outline.}
      - {name: intro_writer, model: demo, system_message: Write the introduction.}
      - {name: body_writer, model: demo, system_message: Write the body.}
    edges:
      - {from: outliner, to: intro_writer}
      - {from: outliner, to: body_writer}
  support:
    description: Triage hands billing questions to billing.
    kind: swarm
    agents:
      - {name: triage, model: demo, system_message: Route the customer., handoffs: [billing]}
      - {name: billing, model: demo, system_message: You handle invoices.}
    termination: {max_messages: 4}
  booking:
    description: A host who asks how many people are coming.
    agents:
      - {name: host, model: demo, system_message: You book tables.}
      - {name: guest, kind: user_proxy, prompt: "How many people are coming?"}
    termination: {max_messages: 4}
  coding:
    description: Runs the Python code you send, once you approve it.
    agents:
      - {name: runner, kind: code_executor, executor: here}
"""

EXECUTORS = """
executors:
  here: {kind: local, enabled: true, approval: always, timeout: 20}
"""

CODE = "```python\nprint(6 * 7)\n```"


def config(extra_teams: str = "", extra_models: str = "") -> str:
    """A config with the demo model, the executor, ``extra_teams`` and every team above."""
    models = f"models:\n  demo: {{provider: demo}}\n{extra_models}"
    return f"{models}{EXECUTORS}teams:{extra_teams}{TEAMS}"


class TeamServer:
    def __init__(self, url: str, api_key: str, directory: Path) -> None:
        self.url = url
        self.api_key = api_key
        self.cancelled = directory / "cancelled"

    def transcript(self, conversation_id: str) -> list[tuple[str, str]]:
        """(source, text) of each message the team kept, as the server tells it."""
        response = httpx2.get(
            f"{self.url}/v1/conversations/{conversation_id}",
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        response.raise_for_status()
        return [
            (item.get("source") or "", item.get("content") or "")
            for item in response.json()["transcript"]
            if isinstance(item.get("content"), str)
        ]


@contextmanager
def team_server(
    directory: Path,
    api_key: str,
    *,
    extra_teams: str = "",
    extra_models: str = "",
    env: dict[str, str] | None = None,
) -> Iterator[TeamServer]:
    """``troupe serve`` on these teams, on a free port, its working directory ``directory``.

    The slow clock tool (``tests.adapters.slow_tools``) writes ``cancelled`` into
    ``directory / "cancelled"`` when a run using it is cancelled.
    """
    path = directory / "teams.yaml"
    path.write_text(config(extra_teams, extra_models))
    env = {"TROUPE_TEST_CANCELLED_FILE": str(directory / "cancelled"), **(env or {})}
    port = free_port()
    proc = start(
        [
            *(sys.executable, "-m", "troupe.cli", "serve", "--config", str(path)),
            *("--port", str(port), "--log-level", "warning"),
        ],
        f"http://127.0.0.1:{port}/health",
        env={"TROUPE_API_KEYS": api_key, "TROUPE_DEMO_DELAY": "0.005", **env},
        cwd=directory,
    )
    try:
        yield TeamServer(f"http://127.0.0.1:{port}", api_key, directory)
    finally:
        stderr = stop(proc)
    assert "Traceback" not in stderr, stderr
