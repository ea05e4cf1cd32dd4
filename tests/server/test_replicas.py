"""A run's id answered before the run ends (an A2A task sent without waiting, a background
response) is found at once on another replica: two apps on one store are two replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest

from tests.asgi import Served
from troupe.agents import AssistantAgent
from troupe.models import FunctionModel, ModelRequest
from troupe.server import create_app
from troupe.store import InMemoryConversationStore
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio
KEY = "sk-replicas"
AUTH = {"authorization": f"Bearer {KEY}"}


@asynccontextmanager
async def two_replicas(served: Served) -> AsyncIterator[tuple[httpx2.AsyncClient, ...]]:
    """Two apps on one store, their team's model answering only once the test is done."""
    release = anyio.Event()

    async def slow(request: ModelRequest) -> str:
        await release.wait()
        return "Done."

    store = InMemoryConversationStore()
    apps = [
        create_app(
            teams=[RoundRobinTeam("solo", [AssistantAgent("bot", FunctionModel(slow))])],
            api_keys=[KEY],
            store=store,
        )
        for _ in range(2)
    ]
    clients = (await served.http(apps[0]), await served.http(apps[1]))
    try:
        yield clients
    finally:
        release.set()  # the runs end, whatever was asserted


async def test_an_a2a_task_sent_without_waiting_is_found_at_once_by_another_replica(
    served: Served,
) -> None:
    message = {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}]}
    send = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {"message": message, "configuration": {"returnImmediately": True}},
    }
    async with two_replicas(served) as (one, two):
        task = (await one.post("/v1/a2a/solo", json=send, headers=AUTH)).json()["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_WORKING"
        get = {"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": task["id"]}}
        got = (await two.post("/v1/a2a/solo", json=get, headers=AUTH)).json()
        assert got["result"]["status"]["state"] == "TASK_STATE_WORKING"


async def test_a_background_response_is_found_at_once_by_another_replica(served: Served) -> None:
    body = {"model": "solo", "input": "hi", "background": True}
    async with two_replicas(served) as (one, two):
        created = (await one.post("/v1/responses", json=body, headers=AUTH)).json()
        assert created["status"] in ("queued", "in_progress")
        got = await two.get(f"/v1/responses/{created['id']}", headers=AUTH)
        assert got.status_code == 200 and got.json()["status"] == "in_progress"
