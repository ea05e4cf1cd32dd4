"""The run routes in the OpenAPI document: a run, its resumable stream, cancel, stored
completions, a conversation's runs."""

from __future__ import annotations

__all__ = ["RUNS"]

from typing import Any

from troupe.server.openapi import Operation
from troupe.server.openapi.operations import CONVERSATION_ID, json_response, ref, sse, troupe

RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}

RUN = troupe(
    {
        "description": "A run: one request's work on a conversation, owned by the server.",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "troupe.run"},
            "conversation_id": {"type": "string"},
            "team": {"type": "string"},
            "status": {
                "enum": [
                    "queued",
                    "in_progress",
                    "requires_input",
                    "completed",
                    "failed",
                    "cancelled",
                ]
            },
            "background": {"type": "boolean"},
            "created_at": {"type": "integer"},
            "ended_at": {"type": ["integer", "null"]},
            "stop_reason": {"type": ["string", "null"]},
            "usage": {
                "type": "object",
                "properties": {
                    "prompt_tokens": {"type": "integer"},
                    "completion_tokens": {"type": "integer"},
                    "total_tokens": {"type": "integer"},
                },
                "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
            },
            "last_event_id": {
                "type": "integer",
                "description": "The sequence number of the run's last event.",
            },
        },
        "required": [
            "id",
            "object",
            "conversation_id",
            "team",
            "status",
            "created_at",
            "ended_at",
            "stop_reason",
            "usage",
            "last_event_id",
        ],
    }
)

SCHEMAS: dict[str, Any] = {
    "Run": RUN,
    "RunList": troupe(
        {
            "type": "object",
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": ref("Run")},
                "first_id": {"type": ["string", "null"]},
                "last_id": {"type": ["string", "null"]},
                "has_more": {"type": "boolean"},
            },
            "required": ["object", "data", "first_id", "last_id", "has_more"],
        }
    ),
}


def _op(path: str, method: str, spec: dict[str, Any], errors: tuple[int, ...]) -> Operation:
    return Operation(
        path, method, {"tags": ["Runs"], "x-troupe": True, **spec}, errors=errors, schemas=SCHEMAS
    )


RUNS = (
    _op(
        "/runs/{run_id}",
        "GET",
        {
            "operationId": "getRun",
            "summary": "A run's status, usage and last event id",
            "parameters": [RUN_ID],
            "responses": {"200": json_response("The run", ref("Run"))},
        },
        (401, 404),
    ),
    _op(
        "/runs/{run_id}/stream",
        "GET",
        {
            "operationId": "streamRun",
            "summary": "The run's frames after an event id, then live until [DONE]",
            "description": (
                "The same `chat.completion.chunk` frames, with the same `id:` lines, as the "
                "stream that started the run. Resume with `Last-Event-ID` (what `EventSource` "
                "sends) or `?after=`. A finished run whose frames were all seen answers 204."
            ),
            "parameters": [
                RUN_ID,
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {
                    "description": "Server-sent events",
                    "content": {
                        "text/event-stream": sse(
                            ref("CreateChatCompletionStreamResponse"), done=True
                        )
                    },
                },
                "204": {"description": "Nothing more: the run is over and every frame was seen"},
            },
        },
        (400, 401, 404),
    ),
    _op(
        "/runs/{run_id}/cancel",
        "POST",
        {
            "operationId": "cancelRun",
            "summary": "Stop the run now, on whichever replica runs it",
            "parameters": [RUN_ID],
            "responses": {"200": json_response("The run as it then stands", ref("Run"))},
        },
        (401, 404),
    ),
    Operation(
        "/chat/completions/{completion_id}",
        "GET",
        {
            "operationId": "getChatCompletion",
            "tags": ["Chat"],
            "summary": "A finished run's chat completion",
            "parameters": [
                {
                    "name": "completion_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": json_response("The completion", ref("CreateChatCompletionResponse"))
            },
        },
        errors=(401, 404, 409),
    ),
    _op(
        "/conversations/{conversation_id}/runs",
        "GET",
        {
            "operationId": "listConversationRuns",
            "summary": "A conversation's runs, newest first",
            "parameters": [
                CONVERSATION_ID,
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                },
            ],
            "responses": {"200": json_response("The runs", ref("RunList"))},
        },
        (400, 401, 404),
    ),
)
