"""A real `troupe serve` with a support swarm on the fake OpenAI upstream, for the agent
protocols' official clients (AG-UI's HttpAgent, the A2A SDK)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.conftest import Upstream, free_port, start, stop

KEY = "sk-protocols"
CONFIG = """
models:
  fake: {{provider: openai, model: fake-model, base_url: "{base_url}", api_key: none, max_retries: 0}}
teams:
  support:
    kind: swarm
    description: Triage and billing.
    agents:
      - name: triage
        model: fake
        description: Sorts out what the customer needs.
        tools: ["troupe.tools.builtin:calculator"]
        max_tool_iterations: 3
        handoffs: [billing]
      - {{name: billing, model: fake, description: Refunds and invoices., handoffs: [user]}}
"""


def support_script(upstream: Upstream) -> None:
    """triage computes and hands off, billing asks; then hands off to the user; then answers."""
    upstream.script(
        {"tool_calls": [{"name": "calculator", "arguments": '{"expression": "6*7"}'}]},
        {"tool_calls": [{"name": "transfer_to_billing"}]},
        {"text": "Which invoice?"},
        {"tool_calls": [{"name": "transfer_to_user"}]},
        {"text": "Invoice 42 is refunded."},
    )


@contextmanager
def serving(upstream: Upstream, directory: Path, database_url: str = "memory") -> Iterator[str]:
    """A `troupe serve` on the upstream, keeping its runs in ``database_url``; yields its base
    URL. (The database goes in ``TROUPE_DATABASE_URL``: the tests' own environment sets it to
    ``memory``, and it would override a ``server.database_url`` in the config.)"""
    config = directory / "teams.yaml"
    config.write_text(CONFIG.format(base_url=upstream.base_url))
    port = free_port()
    args = [sys.executable, "-m", "troupe.cli", "serve", "--config", str(config)]
    proc = start(
        [*args, "--port", str(port), "--log-level", "warning"],
        f"http://127.0.0.1:{port}/health",
        env={"TROUPE_API_KEYS": KEY, "TROUPE_DATABASE_URL": database_url},
        cwd=directory,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stderr = stop(proc)
        assert "Traceback" not in stderr, stderr
