"""A real `troupe serve` for the Streamlit tests: the adapters' real teams, and a few more.

``solo`` (a calculator), ``checked`` (a solver and a critic who approves),
``clock`` (a clock that answers only when the run is cancelled) and
``broken`` (its model's server is down), beside the graph, swarm, user-proxy
and approval teams of ``tests.adapters.real_teams``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adapters.real_teams import TeamServer, team_server
from tests.e2e.conftest import free_port

API_KEY = "sk-streamlit"

MODELS = """  gone: {provider: openai, model: gone, base_url: "http://127.0.0.1:%(dead_port)d/v1", api_key: none, max_retries: 0}
"""
TEAMS = """
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
  clock:
    description: A clock that takes its time.
    agents:
      - {name: clock, model: demo, tools: ["tests.adapters.slow_tools:current_time"]}
  broken:
    description: Its model's server is down.
    agents:
      - {name: bot, model: gone}"""


@pytest.fixture(scope="session")
def troupe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    models = MODELS % {"dead_port": free_port()}
    with team_server(
        tmp_path_factory.mktemp("streamlit"), API_KEY, extra_teams=TEAMS, extra_models=models
    ) as server:
        yield server


@pytest.fixture
def dead_url() -> str:
    """A loopback URL nothing listens on: a troupe server that is down."""
    return f"http://127.0.0.1:{free_port()}"
