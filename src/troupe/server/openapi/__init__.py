"""troupe's OpenAPI 3.1 document (``GET /openapi.json``) and its page (``GET /docs``).

The document is assembled from ``Operation``s: the standard shapes come from
OpenAI's spec (``openai_schemas.json``, written by
``scripts/gen-openapi-schemas``), troupe's own from ``operations``. **A new
route is documented by adding its ``Operation`` (and any schema of its own)
to ``troupe.server.openapi.operations``**; everything troupe adds to
OpenAI's API carries ``x-troupe: true``.
"""

from __future__ import annotations

__all__ = ["Operation", "openapi_document"]

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

OPENAPI_VERSION = "3.1.0"
_STATUS_TEXT = {
    400: "Invalid request (a field is named in `param`)",
    401: "Missing or wrong API key",
    403: "Not allowed for this key",
    404: "Not found",
    409: "The conversation is busy with another run, or has none to stop",
    413: "Request or conversation too large",
    429: "Rate limited (upstream)",
    500: "troupe failed",
    502: "A model provider failed",
    503: "The store is unavailable",
    504: "A model provider timed out",
}


@dataclass(frozen=True)
class Operation:
    """One documented route: ``path`` below the API prefix (``/chat/completions``)."""

    path: str
    method: str
    spec: Mapping[str, Any]
    # Statuses answered with an OpenAI-shaped error, beside those in ``spec``.
    errors: Sequence[int] = (400, 401)
    # Schemas of troupe's own that ``spec`` refers to (``#/components/schemas/<name>``).
    schemas: Mapping[str, Any] = field(default_factory=dict)


@cache
def openai_schemas() -> dict[str, Any]:
    """OpenAI's schemas that the document uses (generated; see the module docstring)."""
    text = files(__package__).joinpath("openai_schemas.json").read_text()
    schemas: dict[str, Any] = json.loads(text)
    _map_discriminators(schemas, schemas)
    return schemas


_REF = "#/components/schemas/"


def _map_discriminators(node: Any, schemas: Mapping[str, Any]) -> None:
    """Give each discriminator of OpenAI's spec its mapping: the spec names none, so a
    reader maps the schemas' names (``Message``), never the values sent (``message``),
    and a validating client rejects every answer. Values come from each member's
    ``enum``/``const``; where a member has none (or two members share one), the
    discriminator is dropped: it is only a hint, ``oneOf`` still validates."""
    if isinstance(node, list):
        for item in node:
            _map_discriminators(item, schemas)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        _map_discriminators(value, schemas)
    discriminator = node.get("discriminator")
    if not isinstance(discriminator, dict) or "mapping" in discriminator:
        return
    mapping = _mapping(
        node.get("oneOf") or node.get("anyOf") or [], discriminator["propertyName"], schemas
    )
    if mapping is None:
        del node["discriminator"]
    else:
        discriminator["mapping"] = mapping


def _mapping(members: list[Any], name: str, schemas: Mapping[str, Any]) -> dict[str, str] | None:
    mapping: dict[str, str] = {}
    for member in members:
        ref = member.get("$ref", "") if isinstance(member, dict) else ""
        if not ref.startswith(_REF):
            return None
        prop = schemas.get(ref.removeprefix(_REF), {}).get("properties", {}).get(name, {})
        values = prop.get("enum") or ([prop["const"]] if "const" in prop else [])
        if not values:
            return None
        for value in values:
            if not isinstance(value, str) or mapping.setdefault(value, ref) != ref:
                return None
    return mapping or None


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": _STATUS_TEXT.get(status, "Error"),
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def _operation(op: Operation, secured: bool) -> dict[str, Any]:
    spec = dict(op.spec)
    responses = dict(spec.get("responses", {}))
    for status in op.errors:
        if not secured and status == 401:
            continue
        responses.setdefault(str(status), {"$ref": f"#/components/responses/Error{status}"})
    spec["responses"] = responses
    if not secured:
        spec["security"] = []
    return spec


def openapi_document(
    operations: Iterable[Operation],
    *,
    prefix: str = "/v1",
    teams: Sequence[str] = (),
    secured: bool = False,
    version: str = "",
) -> dict[str, Any]:
    """The OpenAPI document of ``operations`` under ``prefix``, for an app serving ``teams``."""
    operations = list(operations)
    schemas: dict[str, Any] = dict(openai_schemas())
    paths: dict[str, dict[str, Any]] = {}
    statuses: set[int] = set()
    for op in operations:
        schemas.update(op.schemas)
        statuses.update(op.errors)
        paths.setdefault(prefix.rstrip("/") + op.path, {})[op.method.lower()] = _operation(
            op, secured
        )
    # The model field names a team: the document lists the teams this server has.
    schemas["TeamName"] = {
        "type": "string",
        "description": "The name of a team served here (see `GET /models`).",
        **({"enum": list(teams)} if teams else {}),
        "x-troupe": True,
    }
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "troupe",
            "version": version or "0",
            "description": (
                "Multi-agent teams behind OpenAI's API: every team is a model. The standard "
                "shapes are OpenAI's; what troupe adds is marked `x-troupe: true`."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {f"Error{status}": _error_response(status) for status in sorted(statuses)},
            "headers": {
                "X-Request-Id": {
                    "description": "This request's id, as in the server's log lines "
                    "(a gateway's `X-Request-Id` is kept).",
                    "schema": {"type": "string"},
                    "x-troupe": True,
                },
                "X-Conversation-Id": {
                    "description": "The conversation the run belongs to; send it back to "
                    "continue it.",
                    "schema": {"type": "string"},
                    "x-troupe": True,
                },
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key, as `Authorization: Bearer <key>` "
                    "(`X-Api-Key: <key>` is accepted too).",
                }
            },
        },
    }
    if secured:
        document["security"] = [{"bearer": []}]
    return document
