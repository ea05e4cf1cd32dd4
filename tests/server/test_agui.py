"""AG-UI in process: a front end's ``RunAgentInput`` runs a team, every event the server sends
validates against the AG-UI SDK's own types, and the thread keeps the team's state."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from ag_ui.core import Event as AguiEvent

from tests.asgi import Served
from tests.server.conftest import app_for
from tests.sse import sse_frames
from troupe.agents import AssistantAgent
from troupe.messages import UserMessage
from troupe.models import ScriptedModel, tool_call
from troupe.teams import SwarmTeam
from troupe.tools.builtin import calculator

pytestmark = pytest.mark.anyio

KEY = "sk-agui"
_event = pydantic.TypeAdapter(AguiEvent)


def support_team() -> SwarmTeam:
    triage = AssistantAgent(
        "triage",
        ScriptedModel(
            [tool_call("calculator", '{"expression": "6*7"}'), tool_call("transfer_to_billing")]
        ),
        tools=[calculator],
        max_tool_iterations=3,
        handoffs=["billing"],
    )
    billing = AssistantAgent(
        "billing",
        ScriptedModel(["Which invoice?", tool_call("transfer_to_user"), "Invoice 42 is refunded."]),
        handoffs=["user"],
    )
    return SwarmTeam("support", [triage, billing])


def run_input(thread: str, run: str, *messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "threadId": thread,
        "runId": run,
        "messages": list(messages),
        "tools": [],
        "context": [],
        "state": {},
        "forwardedProps": {},
        **extra,
    }


def user(text: str, id: str = "u1") -> dict[str, Any]:
    return {"id": id, "role": "user", "content": text}


async def post_run(served: Served, app: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    http = await served.http(app)
    response = await http.post(
        "/v1/ag-ui/support", json=body, headers={"authorization": f"Bearer {KEY}"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(frame.data) for frame in sse_frames(response.text)]
    for event in events:
        _event.validate_python(event)  # every event is a valid AG-UI event
    return events


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


async def test_a_run_streams_tools_a_handoff_and_an_interrupt_that_the_next_run_answers(
    served: Served,
) -> None:
    team = support_team()
    billing_model = team.agents[1].model  # type: ignore[attr-defined]
    app = app_for(team, api_keys=[KEY])
    events = await post_run(served, app, run_input("thread-1", "r1", user("charged twice")))
    assert types(events)[0] == "RUN_STARTED"
    assert events[0]["threadId"] == "thread-1" and events[0]["runId"] == "r1"
    calls = [e for e in events if e["type"] == "TOOL_CALL_START"]
    assert [c["toolCallName"] for c in calls] == ["calculator", "transfer_to_billing"]
    (result, *_) = [e for e in events if e["type"] == "TOOL_CALL_RESULT"]
    assert result["content"] == "42"
    (handoff,) = [e for e in events if e["type"] == "CUSTOM" and e["name"] == "troupe.handoff"]
    assert handoff["value"]["agent"] == "triage" and handoff["value"]["target"] == "billing"
    steps = [(e["type"], e["stepName"]) for e in events if e["type"].startswith("STEP_")]
    assert steps == [
        ("STEP_STARTED", "triage"),
        ("STEP_FINISHED", "triage"),
        ("STEP_STARTED", "billing"),
        ("STEP_FINISHED", "billing"),
    ]
    (start,) = [e for e in events if e["type"] == "TEXT_MESSAGE_START"]
    assert start["name"] == "billing" and start["role"] == "assistant"
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "Which invoice?"
    assert events[-1]["type"] == "RUN_FINISHED"

    # billing has the floor: the next run hands off to the user, an interrupt.
    events = await post_run(
        served,
        app,
        run_input(
            "thread-1",
            "r2",
            user("charged twice"),
            {"id": "a1", "role": "assistant", "content": "Which invoice?"},
            user("the one from May", "u2"),
        ),
    )
    finished = events[-1]
    assert finished["type"] == "RUN_FINISHED"
    (interrupt,) = finished["outcome"]["interrupts"]
    assert finished["outcome"]["type"] == "interrupt"
    assert interrupt["metadata"]["agent"] == "billing"

    # The next run on the thread answers it, here with a resume entry (the thread resent as
    # the front end has it: nothing in it is new).
    events = await post_run(
        served,
        app,
        run_input(
            "thread-1",
            "r3",
            user("charged twice"),
            {"id": "a1", "role": "assistant", "content": "Which invoice?"},
            user("the one from May", "u2"),
            resume=[
                {"interruptId": interrupt["id"], "status": "resolved", "payload": "Invoice 42"}
            ],
        ),
    )
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "Invoice 42 is refunded."
    # billing was asked with the answer once, and nothing the thread had already sent again.
    said = [
        str(m.content) for m in billing_model.requests[-1].messages if isinstance(m, UserMessage)
    ]
    assert said.count("Invoice 42") == 1 and said.count("the one from May") == 1
    assert "outcome" not in events[-1] or events[-1]["outcome"]["type"] == "success"


async def test_bad_input_is_a_clear_400_and_a_missing_key_a_401(served: Served) -> None:
    app = app_for(support_team(), api_keys=[KEY])
    http = await served.http(app)
    auth = {"authorization": f"Bearer {KEY}"}
    response = await http.post("/v1/ag-ui/support", json={"runId": "r"}, headers=auth)
    assert response.status_code == 400
    assert "threadId" in response.json()["error"]["message"]
    response = await http.post(
        "/v1/ag-ui/support", json=run_input("bad id!", "r", user("x")), headers=auth
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "threadId"
    response = await http.post(
        "/v1/ag-ui/nobody", json=run_input("t", "r", user("x")), headers=auth
    )
    assert response.status_code == 404
    response = await http.post("/v1/ag-ui/support", json=run_input("t", "r", user("x")))
    assert response.status_code == 401


async def test_the_bare_protocol_paths_answer_too(raw_client: Any) -> None:
    """AG-UI and A2A clients are often pointed at /ag-ui/{team} and /a2a/{team}."""
    client = await raw_client(
        app_for(SwarmTeam("echo", [AssistantAgent("a", ScriptedModel(["hi"]))]))
    )
    card = await client.get("/a2a/echo/.well-known/agent-card.json")
    assert card.status_code == 200 and card.json()["name"] == "echo"
    run = await client.post(
        "/ag-ui/echo",
        json={
            "threadId": "t1",
            "runId": "r1",
            "messages": [{"id": "m1", "role": "user", "content": "hello"}],
            "tools": [],
            "context": [],
            "state": None,
            "forwardedProps": None,
        },
    )
    assert run.status_code == 200 and "RUN_FINISHED" in run.text
