"""The Responses API routes in the OpenAPI document (``/responses``)."""

from __future__ import annotations

__all__ = ["RESPONSES"]

from typing import Any

from troupe.server.openapi import Operation
from troupe.server.openapi.operations import json_response, ref, sse, troupe

RESPONSE_ID = {"name": "response", "in": "path", "required": True, "schema": {"type": "string"}}
_JSON = {"type": "object", "additionalProperties": True}

CREATE = troupe(
    {
        "description": (
            "OpenAI's `CreateResponse`. `model` names a team. troupe reads `input` (a string or "
            "items: messages, `function_call_output`; model-written items are history), "
            "`instructions`, `stream`, `background`, `previous_response_id` or `conversation`, "
            "`metadata`, function `tools` (the client's: the response then ends with "
            "`function_call` items), `tool_choice`, `text.format` and `include`; other valid "
            "settings are accepted and left to the team."
        ),
        "type": "object",
        "required": ["model"],
        "properties": {
            "model": ref("TeamName"),
            "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": _JSON}]},
            "instructions": {"type": ["string", "null"]},
            "stream": {"type": ["boolean", "null"]},
            "background": {"type": ["boolean", "null"]},
            "previous_response_id": {"type": ["string", "null"]},
            "conversation": {"anyOf": [{"type": "string"}, _JSON, {"type": "null"}]},
            "store": {"type": ["boolean", "null"]},
            "metadata": {
                "type": ["object", "null"],
                "additionalProperties": {"type": "string"},
            },
            "tools": {"type": ["array", "null"], "items": _JSON},
            "tool_choice": {"anyOf": [{"type": "string"}, _JSON, {"type": "null"}]},
            "text": {"anyOf": [_JSON, {"type": "null"}]},
            "include": {"type": ["array", "null"], "items": {"type": "string"}},
            "parallel_tool_calls": {"type": ["boolean", "null"]},
            "temperature": {"type": ["number", "null"]},
            "top_p": {"type": ["number", "null"]},
            "max_output_tokens": {"type": ["integer", "null"]},
            "user": {"type": ["string", "null"]},
        },
    }
)

# troupe's own stream events (``troupe:agent_start``, ``troupe:tool_call``, ...): the team's
# events, each with its ``sequence_number``, beside OpenAI's (docs/responses.md).
_TROUPE_EVENT = troupe(
    {
        "type": "object",
        "required": ["type", "sequence_number"],
        "properties": {
            "type": {"type": "string", "pattern": "^troupe:"},
            "sequence_number": {"type": "integer"},
        },
    }
)
_STREAM_OR_JSON = {
    "application/json": {"schema": ref("Response")},
    "text/event-stream": sse({"anyOf": [ref("ResponseStreamEvent"), _TROUPE_EVENT]}),
}


def _op(path: str, method: str, op_id: str, summary: str, **spec: Any) -> Operation:
    return Operation(
        path,
        method,
        {"operationId": op_id, "tags": ["Responses"], "summary": summary, **spec},
        errors=(400, 401, 404, 409, 429, 500, 502, 503, 504),
        schemas={"TroupeCreateResponse": CREATE},
    )


RESPONSES = (
    _op(
        "/responses",
        "POST",
        "createResponse",
        "Run a team: a response is a view of its run",
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": ref("TroupeCreateResponse")}},
        },
        responses={"200": {"description": "The response", "content": _STREAM_OR_JSON}},
    ),
    _op(
        "/responses/{response}",
        "GET",
        "getResponse",
        "The response now, or its stream events after starting_after",
        parameters=[
            RESPONSE_ID,
            {"name": "stream", "in": "query", "schema": {"type": "boolean"}},
            {"name": "starting_after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        ],
        responses={"200": {"description": "The response", "content": _STREAM_OR_JSON}},
    ),
    _op(
        "/responses/{response}/cancel",
        "POST",
        "cancelResponse",
        "Cancel the response's run now",
        parameters=[RESPONSE_ID],
        responses={"200": json_response("The response, cancelled", ref("Response"))},
    ),
    _op(
        "/responses/{response}",
        "DELETE",
        "deleteResponse",
        "Delete a response (its run is cancelled if going; its conversation keeps it)",
        parameters=[RESPONSE_ID],
        responses={
            "200": json_response(
                "Deleted",
                troupe(
                    {
                        "type": "object",
                        "required": ["id", "object", "deleted"],
                        "properties": {
                            "id": {"type": "string"},
                            "object": {"const": "response.deleted"},
                            "deleted": {"type": "boolean"},
                        },
                    }
                ),
            )
        },
    ),
    _op(
        "/responses/{response}/input_items",
        "GET",
        "listInputItems",
        "The items the response's run was given",
        parameters=[
            RESPONSE_ID,
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            },
            {"name": "order", "in": "query", "schema": {"enum": ["asc", "desc"]}},
            {"name": "after", "in": "query", "schema": {"type": "string"}},
        ],
        responses={"200": json_response("The input items", ref("ResponseItemList"))},
    ),
)
