"""OpenAI's Conversations API routes in the OpenAPI document (beside troupe's own)."""

from __future__ import annotations

__all__ = ["OPENAI_CONVERSATIONS"]

from typing import Any

from troupe.server.openapi import Operation
from troupe.server.openapi.operations import CONVERSATION_ID, json_response, ref

ITEM_ID = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}}
_ITEMS = {"type": "array", "items": {"type": "object", "additionalProperties": True}}
_METADATA = {"type": "object", "additionalProperties": {"type": "string"}}
SCHEMAS = {
    "TroupeCreateConversation": {
        "type": "object",
        "x-troupe": True,
        "properties": {
            "items": {"anyOf": [_ITEMS, {"type": "null"}]},
            "metadata": {"anyOf": [_METADATA, {"type": "null"}]},
        },
    },
    "TroupeUpdateConversation": {
        "type": "object",
        "x-troupe": True,
        "required": ["metadata"],
        "properties": {"metadata": _METADATA},
    },
    "TroupeAddItems": {
        "type": "object",
        "x-troupe": True,
        "required": ["items"],
        "properties": {"items": _ITEMS},
    },
}


def _op(path: str, method: str, op_id: str, summary: str, schema: str, **spec: Any) -> Operation:
    return Operation(
        path,
        method,
        {
            "operationId": op_id,
            "tags": ["Conversations"],
            "summary": summary,
            **spec,
            "responses": {"200": json_response(summary, ref(schema))},
        },
        errors=(400, 401, 404, 409, 503),
        schemas=SCHEMAS,
    )


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


OPENAI_CONVERSATIONS = (
    _op(
        "/conversations",
        "POST",
        "createConversation",
        "A new conversation (the first response's team takes it)",
        "ConversationResource",
        requestBody={"content": {"application/json": {"schema": ref("TroupeCreateConversation")}}},
    ),
    _op(
        "/conversations/{conversation_id}",
        "POST",
        "updateConversation",
        "Replace a conversation's metadata",
        "ConversationResource",
        parameters=[CONVERSATION_ID],
        requestBody=_body("TroupeUpdateConversation"),
    ),
    _op(
        "/conversations/{conversation_id}/items",
        "GET",
        "listConversationItems",
        "The conversation's message items",
        "ConversationItemList",
        parameters=[
            CONVERSATION_ID,
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            },
            {"name": "order", "in": "query", "schema": {"enum": ["asc", "desc"]}},
            {"name": "after", "in": "query", "schema": {"type": "string"}},
        ],
    ),
    _op(
        "/conversations/{conversation_id}/items",
        "POST",
        "createConversationItems",
        "Add message items at the conversation's end",
        "ConversationItemList",
        parameters=[CONVERSATION_ID],
        requestBody=_body("TroupeAddItems"),
    ),
    _op(
        "/conversations/{conversation_id}/items/{item_id}",
        "GET",
        "getConversationItem",
        "One item",
        "ConversationItem",
        parameters=[CONVERSATION_ID, ITEM_ID],
    ),
    _op(
        "/conversations/{conversation_id}/items/{item_id}",
        "DELETE",
        "deleteConversationItem",
        "Remove an item; returns the conversation",
        "ConversationResource",
        parameters=[CONVERSATION_ID, ITEM_ID],
    ),
)
