"""Validation of what troupe sends against OpenAI's official OpenAPI spec."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# OpenAI's OpenAPI spec (MIT, licence beside it), vendored: a clone has everything it needs.
SPEC_PATH = Path(__file__).resolve().parent / "data" / "openai-openapi.json"
_URI = "urn:openai-openapi"


def _nullable(node: Any) -> Any:
    """Read OpenAPI 3.0's ``nullable: true`` (still used in places) as JSON Schema null."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _registry() -> Registry:  # type: ignore[type-arg]
    spec = _nullable(json.loads(SPEC_PATH.read_text()))
    return Registry().with_resource(
        _URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"{_URI}#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def validate(instance: Any, schema: str) -> None:
    """Raise ``jsonschema.ValidationError`` if ``instance`` does not match the named schema."""
    _validator(schema).validate(instance)
