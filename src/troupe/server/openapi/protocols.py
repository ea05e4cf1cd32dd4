"""The agent protocols in the OpenAPI document: AG-UI and A2A (their bodies are the
protocols' own; see docs/protocols.md)."""

from __future__ import annotations

__all__ = ["PROTOCOLS"]

from troupe.server.openapi import Operation
from troupe.server.openapi.operations import sse

TEAM = {"name": "team", "in": "path", "required": True, "schema": {"type": "string"}}
_OBJECT = {"type": "object"}

PROTOCOLS = (
    Operation(
        "/ag-ui/{team}",
        "POST",
        {
            "operationId": "runAgUi",
            "tags": ["Agent protocols"],
            "summary": "Run a team for an AG-UI front end",
            "description": (
                "Takes AG-UI's `RunAgentInput` (`threadId` is the conversation) and answers a "
                "`text/event-stream` of AG-UI events, from `RUN_STARTED` to `RUN_FINISHED` "
                "(with an interrupt when the team waits for the human) or `RUN_ERROR`."
            ),
            "x-troupe": True,
            "parameters": [TEAM],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _OBJECT}}},
            "responses": {
                "200": {
                    "description": "AG-UI events",
                    "content": {"text/event-stream": sse(_OBJECT)},
                }
            },
        },
        errors=(400, 401, 404, 409),
    ),
    Operation(
        "/a2a/{team}",
        "POST",
        {
            "operationId": "a2aJsonRpc",
            "tags": ["Agent protocols"],
            "summary": "The team as an A2A agent (JSON-RPC 2.0)",
            "description": (
                "`SendMessage`, `SendStreamingMessage`, `GetTask`, `ListTasks`, `CancelTask`, "
                "`SubscribeToTask` (and the 0.3 names `message/send`, `message/stream`, "
                "`tasks/get`, `tasks/cancel`, `tasks/resubscribe`). JSON-RPC errors come with "
                "status 200; the streaming methods answer server-sent events."
            ),
            "x-troupe": True,
            "parameters": [TEAM],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _OBJECT}}},
            "responses": {
                "200": {
                    "description": "A JSON-RPC response, or its stream",
                    "content": {
                        "application/json": {"schema": _OBJECT},
                        "text/event-stream": sse(_OBJECT),
                    },
                },
                "204": {"description": "A notification (no `id`): carried out, never answered"},
            },
        },
        errors=(401, 404),
    ),
    Operation(
        "/a2a/{team}/.well-known/agent-card.json",
        "GET",
        {
            "operationId": "a2aAgentCard",
            "tags": ["Agent protocols"],
            "summary": "The team's A2A agent card (public)",
            "x-troupe": True,
            "security": [],
            "parameters": [TEAM],
            "responses": {
                "200": {
                    "description": "The agent card",
                    "content": {"application/json": {"schema": _OBJECT}},
                }
            },
        },
        errors=(404,),
    ),
)
