"""A2A ListTasks pages through a key's tasks, most recently updated first."""

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


def rpc(method: str, params: object) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


async def test_list_tasks_pages_with_tokens_and_shows_artifacts_when_asked(
    served: Served,
) -> None:
    answers = [f"Answer {i}." for i in range(5)]
    team = RoundRobinTeam("solo", [AssistantAgent("bot", ScriptedModel(answers))])
    http = await served.http(app_for(team, api_keys=[KEY, "sk-other"]))

    async def call(method: str, params: object, key: str = KEY) -> dict[str, object]:
        headers = {"authorization": f"Bearer {key}"}
        answer = (await http.post("/v1/a2a/solo", json=rpc(method, params), headers=headers)).json()
        assert isinstance(answer, dict)
        return answer

    sent = []
    for i in range(5):
        message = {"messageId": f"m{i}", "role": "ROLE_USER", "parts": [{"text": f"Q{i}"}]}
        result = (await call("SendMessage", {"message": message}))["result"]
        assert isinstance(result, dict)
        sent.append(result["task"]["id"])

    pages, token = [], ""
    while True:
        params: dict[str, object] = {"pageSize": 2}
        if token:
            params["pageToken"] = token
        listed = (await call("ListTasks", params))["result"]
        assert isinstance(listed, dict)
        assert listed["totalSize"] == 5 and listed["pageSize"] == 2
        pages.append([t["id"] for t in listed["tasks"]])
        assert all("artifacts" not in t for t in listed["tasks"])
        token = listed.get("nextPageToken", "")
        if not token:
            break
    # Three pages, newest first, every task once.
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == sent[::-1]

    listed = (await call("ListTasks", {"pageSize": 1, "includeArtifacts": True}))["result"]
    assert isinstance(listed, dict)
    (task,) = listed["tasks"]
    assert task["id"] == sent[-1] and task["artifacts"][0]["parts"][0]["text"] == "Answer 4."
    # Another key sees none of them.
    other = (await call("ListTasks", {}, key="sk-other"))["result"]
    assert isinstance(other, dict) and other.get("tasks", []) == []


@pytest.mark.parametrize(
    "params", [{"pageSize": 0}, {"pageSize": 101}, {"pageToken": "not a token"}]
)
async def test_bad_list_paging_is_invalid_params(served: Served, params: object) -> None:
    team = RoundRobinTeam("solo", [AssistantAgent("bot", ScriptedModel([]))])
    http = await served.http(app_for(team, api_keys=[KEY]))
    answer = (await http.post("/v1/a2a/solo", json=rpc("ListTasks", params), headers=AUTH)).json()
    assert answer["error"]["code"] == -32602 and "page" in answer["error"]["message"]
