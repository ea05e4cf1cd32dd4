"""A2A JSON-RPC bad input gets the code JSON-RPC and A2A prescribe; keys are honoured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.asgi import Served
from tests.server.conftest import app_for
from tests.store.postgres import postgres_database
from troupe.agents import AssistantAgent
from troupe.models import ScriptedModel
from troupe.server import create_app
from troupe.store import SQLConversationStore
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
        (b"", -32700),
        (b'{"jsonrpc":"2.0","id":1,"method":"\xff"}', -32700),
        (b'{"jsonrpc":"2.0","id":1,"method":"GetTask","params":' + b"[" * 5000, -32700),
        (
            b'{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"x":'
            + b"[" * 5000
            + b"]" * 5000
            + b"}}",
            -32700,
        ),
        (
            b'{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"metadata":'
            + b'{"a":' * 500
            + b"1"
            + b"}" * 500
            + b"}}}",
            -32700,
        ),
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
        (b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "a\\u0000"}}', -32001),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {"pageSize": -5}}', -32602),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": '
            b'{"id": "run_0", "historyLength": -1}}',
            -32602,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": '
            b'{"id": "run_0", "historyLength": -1}}',
            -32602,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {"status": "DONE"}}',
            -32602,
        ),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {"status": 99}}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {"pageToken": 5}}', -32602),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": '
            b'{"messageId": "m", "role": "ROLE_SYSTEM", "parts": [{"text": "hi"}]}}}',
            -32602,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": '
            b'{"messageId": "m", "parts": [{"text": "hi"}]}}}',
            -32602,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": '
            b'{"messageId": "m", "role": "system", "parts": [{"kind": "text", "text": "hi"}]}}}',
            -32602,
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


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": [1]}', -32602),
        (b'{"id": 1, "method": "GetTask"}', -32600),
        (b'{"jsonrpc": "2.0", "id": "r-7", "method": 3}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tasks/explode"}', -32601),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "run_x"}}', -32001),
    ],
)
async def test_an_error_answers_with_the_request_id(served: Served, body: bytes, code: int) -> None:
    team = RoundRobinTeam("solo", [AssistantAgent("bot", ScriptedModel([]))])
    http = await served.http(app_for(team))
    answer = (await http.post("/v1/a2a/solo", content=body)).json()
    expected = 1 if b'"id": 1' in body else "r-7"
    assert answer["error"]["code"] == code and answer["id"] == expected


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc": "2.0", "method": "GetTask", "params": {"id": "run_0"}}',
        b'{"jsonrpc": "2.0", "method": "tasks/explode"}',
        b'{"jsonrpc": "2.0", "method": "ListTasks", "params": {}}',
    ],
)
async def test_a_notification_gets_no_answer(served: Served, body: bytes) -> None:
    team = RoundRobinTeam("solo", [AssistantAgent("bot", ScriptedModel([]))])
    http = await served.http(app_for(team))
    response = await http.post("/v1/a2a/solo", content=body)
    assert response.status_code == 204 and response.content == b""


async def test_a_message_sent_as_a_notification_still_starts_its_task(served: Served) -> None:
    team = RoundRobinTeam("solo", [AssistantAgent("bot", ScriptedModel(["Noted."]))])
    http = await served.http(app_for(team))
    message = {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "note this"}]}
    notify = {"jsonrpc": "2.0", "method": "SendMessage", "params": {"message": message}}
    response = await http.post("/v1/a2a/solo", json=notify)
    assert response.status_code == 204 and response.content == b""
    listed = (await http.post("/v1/a2a/solo", json=rpc("ListTasks", {"historyLength": 9}))).json()
    (task,) = listed["result"]["tasks"]
    assert task["history"][0]["parts"][0]["text"] == "note this"


async def test_the_public_card_of_an_unknown_team_names_no_team(served: Served) -> None:
    teams = [
        RoundRobinTeam(name, [AssistantAgent("bot", ScriptedModel([]))])
        for name in ("slow", "tooly")
    ]
    http = await served.http(app_for(*teams, api_keys=[KEY]))
    for response in (
        await http.get("/v1/a2a/nope/.well-known/agent-card.json"),
        await http.post("/v1/a2a/nope", json=rpc("GetTask", {"id": "run_0"}), headers=AUTH),
    ):
        assert response.status_code == 404
        assert "slow" not in response.text and "tooly" not in response.text


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_database("troupe_a2afix") as url:
        yield url


async def test_task_ids_that_are_no_run_ids_are_not_found_on_postgresql(
    served: Served, postgres_url: str
) -> None:
    store = SQLConversationStore(postgres_url)
    team = RoundRobinTeam("solo", [AssistantAgent("bot", ScriptedModel([]))])
    http = await served.http(create_app(teams=[team], store=store))
    message = {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}], "taskId": "a\0"}
    for call in (
        rpc("GetTask", {"id": "a\0"}),
        rpc("CancelTask", {"id": "run_\0"}),
        rpc("SubscribeToTask", {"id": "run_abc\0"}),
        rpc("tasks/get", {"id": "a\0"}),
        rpc("SendMessage", {"message": message}),
        rpc("GetTask", {"id": "x" * 10_000}),
    ):
        response = await http.post("/v1/a2a/solo", json=call)
        assert response.status_code == 200
        assert response.json()["error"]["code"] == -32001
    listed = await http.post("/v1/a2a/solo", json=rpc("ListTasks", {"contextId": "a\0"}))
    assert listed.status_code == 200 and listed.json()["error"]["code"] == -32602
