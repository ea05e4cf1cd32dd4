"""The official A2A SDK client against a real `troupe serve`: the card, a streamed task with
each agent's messages and the final artifact, input-required resumed in the same task, GetTask,
ListTasks; on two replicas sharing PostgreSQL, a running task followed live and cancelled
(its upstream request closed) from the replica that does not run it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.client.client import Client
from a2a.types import a2a_pb2 as pb

from tests.e2e.conftest import Upstream
from tests.e2e.protocol_support import KEY, serving, support_script
from tests.store.postgres import postgres_database

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


@asynccontextmanager
async def a2a_client(url: str, *, polling: bool = False) -> AsyncIterator[Client]:
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    async with http:
        card = await A2ACardResolver(http, f"{url}/v1/a2a/support").get_agent_card()
        client = ClientFactory(
            ClientConfig(httpx_client=http, polling=polling, streaming=not polling)
        ).create(card)
        yield client


def user(text: str, **ids: str) -> pb.SendMessageRequest:
    message = pb.Message(message_id=f"m-{text[:8]}", role=pb.ROLE_USER, parts=[pb.Part(text=text)])
    for key, value in ids.items():
        setattr(message, key, value)
    return pb.SendMessageRequest(message=message)


async def streamed(client: Client, request: pb.SendMessageRequest) -> list[pb.StreamResponse]:
    return [event async for event in client.send_message(request)]


def agent_texts(events: list[pb.StreamResponse]) -> list[tuple[str, str]]:
    said = []
    for event in events:
        if event.HasField("status_update") and event.status_update.status.HasField("message"):
            message = event.status_update.status.message
            if message.parts and message.parts[0].text:
                said.append((message.metadata["agent"], message.parts[0].text))
    return said


async def test_a_streamed_task_shows_the_work_and_input_required_goes_on_in_the_task(
    upstream: Upstream, tmp_path: Path
) -> None:
    upstream.reset()
    support_script(upstream)
    with serving(upstream, tmp_path) as url:
        async with httpx.AsyncClient() as anonymous:  # the card is public
            response = await anonymous.get(f"{url}/v1/a2a/support/.well-known/agent-card.json")
        card = response.json()
        assert card["name"] == "support" and card["capabilities"]["streaming"] is True
        assert [s["id"] for s in card["skills"]] == ["triage", "billing"]
        assert card["supportedInterfaces"][0]["url"] == f"{url}/v1/a2a/support"
        assert "bearer" in card["securitySchemes"]

        async with a2a_client(url) as client:
            events = await streamed(client, user("I was charged twice"))
            task = events[0].task
            assert task.id.startswith("run_") and task.status.state == pb.TASK_STATE_WORKING
            kinds = [
                m.metadata["troupe_type"]
                for m in (
                    e.status_update.status.message for e in events if e.HasField("status_update")
                )
                if "troupe_type" in m.metadata
            ]
            assert kinds[:3] == ["tool_call", "tool_result", "tool_call"]
            assert "handoff" in kinds
            assert agent_texts(events)[-1] == ("billing", "Which invoice?")
            (artifact,) = [
                e.artifact_update.artifact for e in events if e.HasField("artifact_update")
            ]
            assert artifact.parts[0].text.endswith("Which invoice?")
            assert events[-1].status_update.status.state == pb.TASK_STATE_COMPLETED

            # The same context: billing hands off to the user, the task waits for input...
            events = await streamed(
                client, user("It is about my invoice", context_id=task.context_id)
            )
            waiting = events[0].task
            assert events[-1].status_update.status.state == pb.TASK_STATE_INPUT_REQUIRED
            # ...and the next message in the task goes on in it.
            events = await streamed(
                client, user("Invoice 42", task_id=waiting.id, context_id=waiting.context_id)
            )
            assert {e.task.id for e in events if e.HasField("task")} == {waiting.id}
            assert agent_texts(events) == [("billing", "Invoice 42 is refunded.")]
            assert events[-1].status_update.status.state == pb.TASK_STATE_COMPLETED

            got = await client.get_task(pb.GetTaskRequest(id=waiting.id))
            assert got.status.state == pb.TASK_STATE_COMPLETED
            assert got.artifacts[0].parts[0].text.endswith("Invoice 42 is refunded.")
            listed = await client.list_tasks(pb.ListTasksRequest(context_id=task.context_id))
            assert {t.id for t in listed.tasks} == {task.id, waiting.id}


async def test_a_task_is_followed_and_cancelled_from_a_second_replica(
    upstream: Upstream, tmp_path: Path
) -> None:
    """Two replicas on one PostgreSQL database: a task started on A without waiting is found,
    followed live to its end and cancelled (its model request on A closed) from B."""
    upstream.reset()
    words = " ".join(f"w{i}" for i in range(40))
    upstream.script(
        {"tool_calls": [{"name": "calculator", "arguments": '{"expression": "6*7"}'}]},
        {"text": words, "delay": 0.05},
        {"text": "slow " * 200, "delay": 0.2},
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        postgres_database("troupe_a2a") as database,
        serving(upstream, tmp_path / "a", database) as a,
        serving(upstream, tmp_path / "b", database) as b,
    ):
        async with a2a_client(a, polling=True) as one, a2a_client(b) as two:
            # A task started on A without waiting: B knows it at once, still working...
            (started,) = await streamed(one, user("Go"))
            task_id = started.task.id
            assert started.task.status.state == pb.TASK_STATE_WORKING
            got = await two.get_task(pb.GetTaskRequest(id=task_id))
            assert got.id == task_id and got.status.state == pb.TASK_STATE_WORKING
            # ...and B's subscriber sees the rest of it as A runs it, to its end.
            followed = [e async for e in two.subscribe(pb.SubscribeToTaskRequest(id=task_id))]
            assert followed[0].task.id == task_id
            kinds = [
                e.status_update.status.message.metadata["troupe_type"]
                for e in followed
                if e.HasField("status_update")
                and "troupe_type" in e.status_update.status.message.metadata
            ]
            assert kinds == ["tool_call", "tool_result"]
            assert agent_texts(followed) == [("triage", words)]
            (artifact,) = [
                e.artifact_update.artifact for e in followed if e.HasField("artifact_update")
            ]
            assert artifact.parts[0].text.endswith(words)
            assert followed[-1].status_update.status.state == pb.TASK_STATE_COMPLETED

            # A task A runs, cancelled mid-answer from B: canceled, the model request closed.
            (started,) = await streamed(one, user("Go on", context_id=started.task.context_id))
            before = upstream.stats()["streams_cancelled"]
            cancelled = await two.cancel_task(pb.CancelTaskRequest(id=started.task.id))
            assert cancelled.status.state == pb.TASK_STATE_CANCELED
            got = await one.get_task(pb.GetTaskRequest(id=started.task.id))
            assert got.status.state == pb.TASK_STATE_CANCELED
    assert upstream.stats()["streams_cancelled"] == before + 1
