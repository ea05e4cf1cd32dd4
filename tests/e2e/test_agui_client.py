"""The AG-UI TypeScript client (``@ag-ui/client``'s ``HttpAgent``) against a real `troupe serve`:
a server-side tool, a handoff, an input request and its answer on one thread. Every event the
client received also validates against the Python SDK's types."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pydantic
import pytest
from ag_ui.core import Event as AguiEvent

from tests.e2e.conftest import ROOT, Upstream
from tests.e2e.protocol_support import KEY, serving, support_script

pytestmark = pytest.mark.e2e
NODE = ROOT / "tests" / "node"
_event = pydantic.TypeAdapter(AguiEvent)


def node_clients() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the AG-UI TypeScript client (CI has them)")
    subprocess.run(["bash", str(ROOT / "scripts" / "node-clients")], check=True, timeout=600)


def texts(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")


def test_http_agent_runs_a_thread_with_a_tool_a_handoff_and_an_interrupt(
    upstream: Upstream, tmp_path: Path
) -> None:
    node_clients()
    upstream.reset()
    support_script(upstream)
    with serving(upstream, tmp_path) as url:
        done = subprocess.run(
            ["node", str(NODE / "agui_client.mjs"), f"{url}/v1/ag-ui/support", KEY],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    first, second, third = seen["runs"]
    for run in seen["runs"]:
        for event in run["events"]:
            _event.validate_python(event)
        assert run["events"][0]["type"] == "RUN_STARTED"
        assert run["events"][-1]["type"] == "RUN_FINISHED"

    # The server-side tool and the handoff, then billing's question, attributed to billing.
    calls = [e["toolCallName"] for e in first["events"] if e["type"] == "TOOL_CALL_START"]
    assert calls == ["calculator", "transfer_to_billing"]
    results = [e["content"] for e in first["events"] if e["type"] == "TOOL_CALL_RESULT"]
    assert "42" in results
    handoffs = [e["value"] for e in first["events"] if e.get("name") == "troupe.handoff"]
    assert [(h["agent"], h["target"]) for h in handoffs] == [("triage", "billing")]
    assert texts(first["events"]) == "Which invoice?"
    (said,) = [m for m in first["newMessages"] if m["role"] == "assistant" and m.get("content")]
    assert said["content"] == "Which invoice?" and said["name"] == "billing"

    # billing hands off to the user: the run ends with an interrupt the client keeps.
    (interrupt,) = second["interrupts"]
    assert interrupt["metadata"]["agent"] == "billing"

    # The third run resumes it; the client has no interrupt left and billing's answer.
    assert third["interrupts"] == []
    assert texts(third["events"]) == "Invoice 42 is refunded."
    asked = upstream.requests()[-1]["messages"]
    assert any(m["role"] == "user" and m["content"] == "Invoice 42" for m in asked)
