"""OpenAI's Conversations API with the openai SDK, beside troupe's own conversation routes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import app_for
from tests.spec import validate
from troupe.agents import AssistantAgent
from troupe.messages import UserMessage, text_of
from troupe.models import FunctionModel, ModelRequest
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio


def echo(request: ModelRequest) -> str:
    return "heard: " + " | ".join(
        text_of(m) for m in request.messages if isinstance(m, UserMessage)
    )


def echo_team() -> RoundRobinTeam:
    return RoundRobinTeam("echo", [AssistantAgent("echo", FunctionModel(echo))])


async def test_create_retrieve_update_and_continue_with_responses(
    make_client: Any, raw_client: Any
) -> None:
    app = app_for(echo_team())
    client = await make_client(app)
    http = await raw_client(app)
    conversation = await client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "my name is Ada"}],
        metadata={"topic": "names"},
    )
    validate(conversation.model_dump(exclude_unset=True), "ConversationResource")
    assert conversation.metadata == {"topic": "names"}

    response = await client.responses.create(
        model="echo", input="what is my name?", conversation=conversation.id
    )
    assert response.output_text == "heard: my name is Ada | what is my name?"
    assert response.conversation is not None and response.conversation.id == conversation.id

    updated = await client.conversations.update(conversation.id, metadata={"topic": "ada"})
    assert updated.metadata == {"topic": "ada"}
    again = await client.conversations.retrieve(conversation.id)
    assert again.metadata == {"topic": "ada"}
    # troupe's own view of the same conversation: the team and its inner state.
    inner = (await http.get(f"/v1/conversations/{conversation.id}")).json()
    assert inner["team"] == "echo" and inner["metadata"] == {"topic": "ada"}
    validate(inner, "ConversationResource")

    items = await client.conversations.items.list(conversation.id, order="asc")
    raw = (await http.get(f"/v1/conversations/{conversation.id}/items")).json()
    validate(raw, "ConversationItemList")
    texts = [item.content[0].text for item in items.data]  # type: ignore[union-attr]
    assert texts == [
        "my name is Ada",
        "what is my name?",
        "heard: my name is Ada | what is my name?",
    ]

    added = await client.conversations.items.create(
        conversation.id, items=[{"type": "message", "role": "user", "content": "I am 36"}]
    )
    [new] = added.data
    one = await client.conversations.items.retrieve(new.id, conversation_id=conversation.id)
    assert one.content[0].text == "I am 36"  # type: ignore[union-attr]
    await client.conversations.items.delete(new.id, conversation_id=conversation.id)
    after = await client.conversations.items.list(conversation.id)
    assert len(after.data) == 3

    deleted = await client.conversations.delete(conversation.id)
    assert deleted.deleted is True
    missing = await http.get(f"/v1/conversations/{conversation.id}/items")
    assert missing.status_code == 404


async def test_another_key_sees_none_of_it(raw_client: Any) -> None:
    app = app_for(echo_team(), api_keys=["key-a", "key-b"])
    http = await raw_client(app)
    created = await http.post(
        "/v1/conversations", json={}, headers={"authorization": "Bearer key-a"}
    )
    conversation_id = created.json()["id"]
    for path in ("", "/items"):
        other = await http.get(
            f"/v1/conversations/{conversation_id}{path}", headers={"authorization": "Bearer key-b"}
        )
        assert other.status_code == 404
    bad = await http.post(
        f"/v1/conversations/{conversation_id}/items",
        json={"items": [{"type": "function_call_output", "call_id": "c", "output": "x"}]},
        headers={"authorization": "Bearer key-a"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "items[0].type"
