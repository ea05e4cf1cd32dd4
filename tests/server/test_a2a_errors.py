"""A2A JSON-RPC bad input gets the code JSON-RPC and A2A prescribe; keys are honoured."""

from __future__ import annotations

import pytest

from tests.asgi import Served
from tests.server.conftest import app_for
from troupe.agents import AssistantAgent
from troupe.models import ScriptedModel
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio
KEY = "sk-a2a"
AUTH = {"authorization": f"Bearer {KEY}"}


def rpc(method: str, params: object = None, id: object = 1) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params or {}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", -32700),
        (b"[]", -32600),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "GetTask"}', -32600),
        (b'{"jsonrpc": "2.0", "id": {}, "method": "GetTask"}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tasks/explode"}', -32601),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": []}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {}}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": 3}}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"x": 1}}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "run_x"}}', -32001),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "tasks/cancel", "params": {"id": "nope"}}',
            -32001,
        ),
    ],
)
async def test_bad_json_rpc_gets_its_error_code(served: Served, body: bytes, code: int) -> None:
    team = RoundRobinTeam("solo", [AssistantAgent("bot", ScriptedModel([]))])
    http = await served.http(app_for(team, api_keys=[KEY]))
    response = await http.post("/v1/a2a/solo", content=body, headers=AUTH)
    assert response.status_code == 200
    answer = response.json()
    assert answer["jsonrpc"] == "2.0" and answer["error"]["code"] == code
    assert answer["error"]["message"]


async def test_keys_guard_the_endpoint_not_the_card_and_tasks_stay_with_their_key(
    served: Served,
) -> None:
    team = RoundRobinTeam("solo", [AssistantAgent("bot", ScriptedModel(["Hello there."]))])
    http = await served.http(app_for(team, api_keys=[KEY, "sk-other"]))
    assert (await http.post("/v1/a2a/solo", json=rpc("GetTask", {"id": "x"}))).status_code == 401
    card = (await http.get("/v1/a2a/solo/.well-known/agent-card.json")).json()
    assert card["securityRequirements"] and card["skills"][0]["id"] == "bot"
    assert (await http.get("/v1/a2a/nobody/.well-known/agent-card.json")).status_code == 404
    message = {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}]}
    sent = (
        await http.post("/v1/a2a/solo", json=rpc("SendMessage", {"message": message}), headers=AUTH)
    ).json()
    task = sent["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"][0]["text"] == "Hello there."
    # 0.3 names and shapes too.
    got = (
        await http.post("/v1/a2a/solo", json=rpc("tasks/get", {"id": task["id"]}), headers=AUTH)
    ).json()
    assert got["result"]["kind"] == "task" and got["result"]["status"]["state"] == "completed"
    other = {"authorization": "Bearer sk-other"}
    theirs = (
        await http.post("/v1/a2a/solo", json=rpc("GetTask", {"id": task["id"]}), headers=other)
    ).json()
    assert theirs["error"]["code"] == -32001
