"""Every documented troupe route. Add a route's ``Operation`` here, in its group.

Schemas named ``#/components/schemas/<Name>`` are OpenAI's (see
``openai_schemas.json``) unless an ``Operation`` brings its own in
``schemas``; troupe's own carry ``x-troupe: true``.
"""

from __future__ import annotations

__all__ = ["ALL", "CHAT", "CONVERSATIONS", "MODELS"]

from typing import Any

from troupe.server.openapi import Operation


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def sse(data: dict[str, Any], *, done: bool = False) -> dict[str, Any]:
    """A ``text/event-stream`` media type whose events carry ``data`` as JSON (``[DONE]``
    last when ``done``). Each event is an ``itemSchema`` (OpenAPI 3.2's way, which tools
    such as Schemathesis read in 3.1 documents too): the JSON is the ``data`` field's
    ``contentSchema``, not the event's own schema."""
    payload: dict[str, Any] = {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": data,
    }
    if done:
        payload = {"anyOf": [{"const": "[DONE]"}, payload]}
    return {
        "itemSchema": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "event": {"type": "string"},
                "id": {"type": "string"},
                "retry": {"type": "integer"},
                "data": payload,
            },
        }
    }


def json_response(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


def troupe(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "x-troupe": True}


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


CONVERSATION_ID = {
    "name": "conversation_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"},
}

# --- models ------------------------------------------------------------------------------

TEAM_MODEL = troupe(
    {
        "description": "A team, as a model: OpenAI's `Model` with what troupe adds.",
        "allOf": [
            ref("Model"),
            {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "kind": {
                        "type": "string",
                        "description": "round_robin, selector, swarm, graph, …",
                    },
                    "agents": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "description": {"type": "string"},
                            },
                            "required": ["name", "description"],
                        },
                    },
                },
                "required": ["description", "kind", "agents"],
            },
        ],
    }
)

MODELS = (
    Operation(
        "/models",
        "GET",
        {
            "operationId": "listModels",
            "tags": ["Models"],
            "summary": "The teams served here, as models",
            "responses": {"200": json_response("The teams", ref("ListModelsResponse"))},
        },
    ),
    Operation(
        "/models/{model}",
        "GET",
        {
            "operationId": "retrieveModel",
            "tags": ["Models"],
            "summary": "One team, as a model",
            "parameters": [
                {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {"200": json_response("The team", ref("TeamModel"))},
        },
        errors=(401, 404),
        schemas={"TeamModel": TEAM_MODEL},
    ),
)

# --- chat completions --------------------------------------------------------------------

CHAT_REQUEST = troupe(
    {
        "description": (
            "OpenAI's chat-completions request. `model` names a team. troupe keeps the team's "
            "state under a conversation id: `X-Conversation-Id`, else "
            "`metadata.conversation_id`, else a fingerprint of the history. `n` must be 1. "
            "Function `tools` are client tools: the team's agents may call them, the answer then "
            "ends with `finish_reason: tool_calls`, and `role: tool` messages resume the run. "
            "`response_format` (json_schema) shapes the answering agents' answer. The other "
            "sampling and output settings are checked like OpenAI does, then left to the team."
        ),
        "allOf": [
            ref("CreateChatCompletionRequest"),
            {
                "type": "object",
                "properties": {
                    "model": ref("TeamName"),
                    "n": {"anyOf": [{"const": 1}, {"type": "null"}], "x-troupe": True},
                    "tool_choice": {
                        "anyOf": [
                            {"enum": ["auto", "none", "required"]},
                            ref("ChatCompletionNamedToolChoice"),
                        ],
                        "x-troupe": True,
                    },
                    "background": {
                        "type": ["boolean", "null"],
                        "description": (
                            "Keep the run going when the client goes away; follow it again "
                            "at /v1/runs/{id}/stream."
                        ),
                        "x-troupe": True,
                    },
                    "metadata": {
                        "type": ["object", "null"],
                        "additionalProperties": {"type": "string"},
                        "properties": {
                            "conversation_id": {
                                "type": "string",
                                "description": "The conversation to continue.",
                                "x-troupe": True,
                            }
                        },
                    },
                },
            },
        ],
    }
)

CHAT_RESPONSE = troupe(
    {
        "description": (
            "OpenAI's `chat.completion`. `choices[0].message` also carries `reasoning_content` "
            "(the team's work, readable) and `troupe` (the run's events, in order)."
        ),
        "allOf": [ref("CreateChatCompletionResponse")],
    }
)

CHAT = (
    Operation(
        "/chat/completions",
        "POST",
        {
            "operationId": "createChatCompletion",
            "tags": ["Chat"],
            "summary": "Run a team on a conversation",
            "description": (
                "Runs the team named by `model`. With `stream: true` the answer is a "
                "`text/event-stream` of `chat.completion.chunk` frames ending with "
                "`data: [DONE]`; team events travel in `choices[0].delta.troupe`."
            ),
            "parameters": [
                {
                    "name": "X-Conversation-Id",
                    "in": "header",
                    "required": False,
                    "schema": CONVERSATION_ID["schema"],
                    "description": "The conversation to continue.",
                    "x-troupe": True,
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("TroupeChatCompletionRequest")}},
            },
            "responses": {
                "200": {
                    "description": "The team's answer",
                    "headers": {
                        "X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"},
                        "X-Conversation-Id": {"$ref": "#/components/headers/X-Conversation-Id"},
                        "X-Run-Id": {
                            "description": "The run this request started (GET /v1/runs/{id}).",
                            "schema": {"type": "string"},
                            "x-troupe": True,
                        },
                    },
                    "content": {
                        "application/json": {"schema": ref("TroupeChatCompletion")},
                        "text/event-stream": sse(
                            ref("CreateChatCompletionStreamResponse"), done=True
                        ),
                    },
                }
            },
        },
        errors=(400, 401, 404, 409, 413, 429, 500, 502, 503, 504),
        schemas={
            "TroupeChatCompletionRequest": CHAT_REQUEST,
            "TroupeChatCompletion": CHAT_RESPONSE,
        },
    ),
)

# --- conversations -----------------------------------------------------------------------

SUMMARY = troupe(
    {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "conversation"},
            "team": {"type": "string"},
            "title": {"type": "string"},
            "created_at": {"type": "integer"},
            "updated_at": {"type": "integer"},
            "items": {"type": "integer"},
            "waiting_for": _nullable("string"),
        },
        "required": ["id", "object", "team", "title", "created_at", "updated_at", "items"],
    }
)

CONVERSATION_SCHEMAS = {
    "ConversationSummary": SUMMARY,
    "ConversationList": troupe(
        {
            "type": "object",
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": ref("ConversationSummary")},
                "first_id": _nullable("string"),
                "last_id": _nullable("string"),
                "has_more": {"type": "boolean"},
            },
            "required": ["object", "data", "first_id", "last_id", "has_more"],
        }
    ),
    "Conversation": troupe(
        {
            "description": "A conversation with the team's whole inner state.",
            "allOf": [
                ref("ConversationSummary"),
                {
                    "type": "object",
                    "properties": {
                        "team": {"type": "string"},
                        "transcript": {"type": "array", "items": {"type": "object"}},
                        "usage": {"type": "object"},
                        "next_speaker": _nullable("string"),
                    },
                    "required": ["transcript", "usage"],
                },
            ],
        }
    ),
    "ConversationDeleted": troupe(
        {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "conversation.deleted"},
                "deleted": {"type": "boolean"},
            },
            "required": ["id", "object", "deleted"],
        }
    ),
    "ConversationStop": troupe(
        {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "conversation.stop"},
                "stopping": {"type": "boolean"},
                "run_id": {"type": "string"},
                "status": {"type": "string"},
            },
            "required": ["id", "object", "stopping", "run_id", "status"],
        }
    ),
}


def _conversation_op(
    path: str, method: str, op_id: str, summary: str, schema: str, **extra: Any
) -> Operation:
    return Operation(
        path,
        method,
        {
            "operationId": op_id,
            "tags": ["Conversations"],
            "summary": summary,
            "x-troupe": True,
            **extra,
            "responses": {"200": json_response(summary, ref(schema))},
        },
        errors=(400, 401, 404, 409, 503),
        schemas=CONVERSATION_SCHEMAS,
    )


CONVERSATIONS = (
    _conversation_op(
        "/conversations",
        "GET",
        "listConversations",
        "The caller's conversations, newest first",
        "ConversationList",
        parameters=[
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            },
            {
                "name": "after",
                "in": "query",
                "description": "The id of the last conversation seen (empty: from the newest).",
                "schema": {"anyOf": [CONVERSATION_ID["schema"], {"const": ""}]},
            },
        ],
    ),
    _conversation_op(
        "/conversations/{conversation_id}",
        "GET",
        "getConversation",
        "One conversation with its transcript",
        "Conversation",
        parameters=[CONVERSATION_ID],
    ),
    _conversation_op(
        "/conversations/{conversation_id}",
        "DELETE",
        "deleteConversation",
        "Delete a conversation that has no run in progress",
        "ConversationDeleted",
        parameters=[CONVERSATION_ID],
    ),
    _conversation_op(
        "/conversations/{conversation_id}/stop",
        "POST",
        "stopConversation",
        "Stop the run in progress now",
        "ConversationStop",
        parameters=[CONVERSATION_ID],
    ),
)


def _all() -> tuple[Operation, ...]:
    from troupe.server.openapi.conversations_api import OPENAI_CONVERSATIONS
    from troupe.server.openapi.protocols import PROTOCOLS
    from troupe.server.openapi.responses import RESPONSES
    from troupe.server.openapi.runs import RUNS

    return (
        *MODELS,
        *CHAT,
        *CONVERSATIONS,
        *RUNS,
        *RESPONSES,
        *OPENAI_CONVERSATIONS,
        *PROTOCOLS,
    )


ALL = _all()
