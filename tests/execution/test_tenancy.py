"""A code sandbox belongs to (API key, conversation): two keys with one conversation id never
share files, a stop from one never stops the other's run, and a sandbox lasts as long as its
conversation (a restart keeps it; deleting the conversation, or its expiry, removes it).

Through the HTTP API with the local executor and with the real Docker engine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from litestar import Litestar

from tests.asgi import Served
from troupe.agents import AssistantAgent, CodeAssistantAgent
from troupe.config import ConfigSpec, ServerSpec
from troupe.execution import DockerExecutor, Executor, LocalExecutor, Sandbox
from troupe.messages import ToolMessage, text_of
from troupe.models import FunctionModel, ModelRequest
from troupe.models.testing import Reply, tool_call
from troupe.server import TroupePlugin, create_app
from troupe.server._sandboxes import Sandboxes
from troupe.teams import RoundRobinTeam, TeamAgent

pytestmark = pytest.mark.anyio

KEY_A, KEY_B = "key-alice-0001", "key-bob-0002"


def coder(request: ModelRequest) -> Reply:
    """Runs the user's message as a shell program, then answers with what it printed."""
    last = request.messages[-1]
    if isinstance(last, ToolMessage):
        return f"ran: {text_of(last)}"
    return tool_call("run_code", json.dumps({"language": "sh", "code": text_of(last)}))


def team(executor: Executor) -> RoundRobinTeam:
    agent = CodeAssistantAgent("coder", FunctionModel(coder), executor=executor)
    return RoundRobinTeam("coder", [agent], max_turns=1)


def nested(executor: Executor) -> RoundRobinTeam:
    inner = team(executor)
    return RoundRobinTeam("nested", [TeamAgent(inner, name="inner")], max_turns=1)


@pytest.fixture(params=["local", "docker"])
async def executor(
    request: pytest.FixtureRequest, tmp_path: Path, instance: str
) -> AsyncIterator[Executor]:
    if request.param == "local":
        yield LocalExecutor("local", enabled=True, work_root=tmp_path, timeout=10)
        return
    request.getfixturevalue("docker_engine")
    sandbox = DockerExecutor("sandbox", timeout=10, instance=instance, namespace=instance)
    try:
        yield sandbox
    finally:
        for use in await sandbox.sandboxes():
            await sandbox.end_conversation(use.sandbox)
        await sandbox.close()


def _scope(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def app(executor: Executor) -> Litestar:
    return create_app(teams=[team(executor), nested(executor)], api_keys=[KEY_A, KEY_B])


async def run(client: httpx2.AsyncClient, key: str, code: str, model: str = "coder") -> str:
    conversation = "common" if model == "coder" else "deep"
    response = await client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": code}]},
        headers={"authorization": f"Bearer {key}", "x-conversation-id": conversation},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


async def test_two_keys_with_one_conversation_id_never_share_files(
    served: Served, executor: Executor
) -> None:
    client = await served.http(app(executor))
    assert "written" in await run(client, KEY_A, "echo secret-of-a > notes.txt; echo written")
    assert "secret-of-a" in await run(client, KEY_A, "cat notes.txt")
    seen = await run(client, KEY_B, "cat notes.txt; ls -a")
    assert "secret-of-a" not in seen and "No such file" in seen
    # An inner team's sandbox is its key's too.
    await run(client, KEY_A, "echo inner-of-a > inner.txt", model="nested")
    assert "inner-of-a" not in await run(client, KEY_B, "cat inner.txt", model="nested")
    assert "inner-of-a" in await run(client, KEY_A, "cat inner.txt", model="nested")

    a, b = _scope(KEY_A), _scope(KEY_B)
    assert await owners(executor) == {("common", a), ("common", b), ("deep", a), ("deep", b)}

    # Key B deletes its conversations: key A's files stay; A's delete removes A's.
    as_a, as_b = {"authorization": f"Bearer {KEY_A}"}, {"authorization": f"Bearer {KEY_B}"}
    for conversation in ("common", "deep"):
        deleted = await client.delete(f"/v1/conversations/{conversation}", headers=as_b)
        assert deleted.status_code == 200
    assert "secret-of-a" in await run(client, KEY_A, "cat notes.txt")
    assert await owners(executor) == {("common", a), ("deep", a)}
    deleted = await client.delete("/v1/conversations/deep", headers=as_a)
    assert deleted.status_code == 200
    assert await owners(executor) == {("common", a)}
    assert "No such file" in await run(client, KEY_A, "cat inner.txt", model="nested")


async def owners(executor: Executor) -> set[tuple[str, str]]:
    """(conversation, scope) of every sandbox the executor keeps."""
    return {(use.sandbox.conversation_id, use.sandbox.scope) for use in await executor.sandboxes()}


async def test_sandboxes_outlive_a_restart_and_go_with_their_conversation(
    served: Served, executor: Executor, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'troupe.db'}"
    spec = ConfigSpec(server=ServerSpec(database_url=store, api_keys=(KEY_A,)))
    first = await served.http(create_app(spec, teams=[team(executor)]))
    await run(first, KEY_A, "echo kept > notes.txt")
    await executor.execute(Sandbox("gone"), "sh", "echo orphan > f")  # no such conversation
    await executor.close()  # the server stops

    second = create_app(spec, teams=[team(executor)])
    client = await served.http(second)
    assert "kept" in await run(client, KEY_A, "cat notes.txt")
    sandboxes = _sandboxes(second)
    # Used just now: left alone, whatever the store says.
    assert await sandboxes.sweep() == 0
    # The sweep removes sandboxes whose conversation is gone (here: never stored).
    assert await sandboxes.sweep(grace=0) == 1
    assert await owners(executor) == {("common", _scope(KEY_A))}
    # The conversation expires: its sandbox goes with it.
    await sandboxes.store.delete("common", scope=_scope(KEY_A))
    assert await sandboxes.sweep(grace=0) == 1
    assert await executor.sandboxes() == []


def _sandboxes(app: Litestar) -> Sandboxes:
    return app.plugins.get(TroupePlugin).sandboxes


async def test_a_stop_from_another_key_never_stops_the_run(served: Served) -> None:
    started, release = anyio.Event(), anyio.Event()

    async def slow(_: ModelRequest) -> str:
        started.set()
        await release.wait()
        return "finished"

    bot = RoundRobinTeam("slow", [AssistantAgent("bot", FunctionModel(slow))], max_turns=1)
    client = await served.http(create_app(teams=[bot], api_keys=[KEY_A, KEY_B]))
    result: dict[str, Any] = {}

    async def chat() -> None:
        response = await client.post(
            "/v1/chat/completions",
            json={"model": "slow", "messages": [{"role": "user", "content": "go"}]},
            headers={"authorization": f"Bearer {KEY_A}", "x-conversation-id": "common"},
        )
        result["a"] = response.json()

    async with anyio.create_task_group() as tg:
        tg.start_soon(chat)
        await started.wait()
        as_b = {"authorization": f"Bearer {KEY_B}"}
        stop = await client.post("/v1/conversations/shared/stop", headers=as_b)
        assert stop.status_code in (404, 409) and "error" in stop.json()
        runs = await client.get("/v1/conversations/shared/runs", headers=as_b)
        assert runs.status_code in (200, 404)
        assert runs.status_code == 404 or runs.json()["data"] == []
        release.set()
    assert result["a"]["choices"][0]["message"]["content"] == "finished"


def test_docker_names_keep_keys_and_deployments_apart() -> None:
    one = DockerExecutor("sandbox", namespace="one")
    names = {
        one._key(Sandbox("c1", "a")),
        one._key(Sandbox("c1", "b")),
        one._key(Sandbox("c1")),
        DockerExecutor("sandbox", namespace="two")._key(Sandbox("c1", "a")),
    }
    assert len(names) == 4
