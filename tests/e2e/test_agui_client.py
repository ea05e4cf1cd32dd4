"""The AG-UI TypeScript client (``@ag-ui/client``'s ``HttpAgent``) against a real `troupe serve`:
a server-side tool, a handoff, an input request and its answer, and a front-end tool round trip
on one thread. Every event the
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
NODE = ROOT / "js-clients"
_event = pydantic.TypeAdapter(AguiEvent)


def node_clients() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the AG-UI TypeScript client (CI has them)")
    subprocess.run(["bash", str(ROOT / "scripts" / "node-clients")], check=True, timeout=600)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def texts(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")


def test_http_agent_runs_a_thread_with_tools_a_handoff_an_interrupt_and_a_front_end_tool(
    upstream: Upstream, tmp_path: Path
) -> None:
    node_clients()
    upstream.reset()
    support_script(upstream)
    # billing then calls the front end's tool, and answers from what the client returns.
    upstream.script(
        {
            "tool_calls": [
                {"id": "call_weather", "name": "get_weather", "arguments": '{"city": "Paris"}'}
            ]
        },
        {"text": "Sunny in Paris, as you can see."},
    )
    with serving(upstream, tmp_path) as url:
        done = subprocess.run(
            ["node", str(NODE / "agui_client.mjs"), f"{url}/v1/ag-ui/support", KEY],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    first, second, third, calling, answered = seen["runs"]
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
    requests = upstream.requests()
    assert len(requests) == 7  # 3 + 1 + 1 model calls, then one per front-end tool run
    asked = requests[4]["messages"]
    assert any(m["role"] == "user" and m["content"] == "Invoice 42" for m in asked)

    # The front-end tool: billing's call reaches the client as TOOL_CALL_* and the run
    # finishes; the client's next run carries its result and billing answers from it.
    (start,) = [e for e in calling["events"] if e["type"] == "TOOL_CALL_START"]
    assert start["toolCallName"] == "get_weather"
    args = "".join(e["delta"] for e in calling["events"] if e["type"] == "TOOL_CALL_ARGS")
    assert json.loads(args) == {"city": "Paris"}
    assert calling["interrupts"] == [] and "TOOL_CALL_RESULT" not in types(calling["events"])
    (call,) = [c for m in calling["newMessages"] for c in m.get("toolCalls", [])]
    assert call["id"] == start["toolCallId"]
    assert calling["events"][-1]["outcome"]["pendingToolCallIds"] == [call["id"]]
    assert texts(answered["events"]) == "Sunny in Paris, as you can see."
    result = [m for m in requests[6]["messages"] if m["role"] == "tool"][-1]
    assert result["content"] == "Sunny in Paris, 21 C" and result["tool_call_id"] == call["id"]
    tools = requests[5]["tools"]
    (offered,) = [t for t in tools if t["function"]["name"] == "get_weather"]
    assert offered["function"]["parameters"]["required"] == ["city"]
