"""The typed request matches OpenAI's ``CreateChatCompletionRequest``, field by field.

Walks OpenAI's schema (vendored in tests/data) and troupe's msgspec types side
by side: the same properties, the same required ones, the same enums, ranges,
nullability and item types. A field OpenAI adds, or a type troupe gets wrong,
fails here with its path.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import msgspec.inspect as mi
import pytest

from tests.spec import SPEC_PATH
from troupe.server._request import ChatCompletionRequest


@cache
def schemas() -> dict[str, Any]:
    return dict(json.loads(SPEC_PATH.read_text())["components"]["schemas"])


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = {
            **schemas()[node["$ref"].split("/")[-1]],
            **{k: v for k, v in node.items() if k != "$ref"},
        }
    if "allOf" in node:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in node["allOf"]:
            part = resolve(part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged
    return node


def options(node: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """A schema's alternatives (without null), and whether null is allowed."""
    node = resolve(node)
    nullable = bool(node.get("nullable"))
    alternatives = node.get("anyOf") or node.get("oneOf")
    if not alternatives:
        return [node], nullable
    flat: list[dict[str, Any]] = []
    for alternative in alternatives:
        inner, null = options(alternative)
        nullable |= null or resolve(alternative).get("type") == "null"
        flat += [o for o in inner if o.get("type") != "null"]
    if (
        len(flat) > 1
        and all(o.get("type") == "string" for o in flat)
        and any("enum" not in o for o in flat)
    ):
        flat = [{"type": "string"}]  # "any string, or one of these": a string
    return flat, nullable


def tag_of(node: dict[str, Any], field: str) -> Any:
    enum = resolve(node.get("properties", {}).get(field, {})).get("enum")
    return enum[0] if enum and len(enum) == 1 else None


def compare(node: dict[str, Any], info: Any, path: str) -> None:
    alternatives, nullable = options(node)
    types = list(info.types) if isinstance(info, mi.UnionType) else [info]
    assert nullable == any(isinstance(t, mi.NoneType) for t in types), f"{path}: nullability"
    types = [t for t in types if not isinstance(t, mi.NoneType)]
    literals = [t for t in types if isinstance(t, mi.LiteralType)]
    enums = [o for o in alternatives if "enum" in o]
    if enums:
        assert literals, f"{path}: an enum in OpenAI's schema"
        values = {v for o in enums for v in o["enum"] if v is not None}
        assert values == set(literals[0].values), f"{path}: enum values"
    rest = [o for o in alternatives if o not in enums]
    others = [t for t in types if t not in literals]
    assert len(rest) == len(others), f"{path}: {len(rest)} alternatives, troupe has {len(others)}"
    for alternative in rest:
        compare_one(alternative, match(alternative, others, path), path)


def match(node: dict[str, Any], types: list[Any], path: str) -> Any:
    kind = node.get("type", "object")
    structs = [t for t in types if isinstance(t, mi.StructType)]
    if kind == "object" and structs and "properties" in node:
        for struct in structs:
            if struct.tag_field is None or tag_of(node, struct.tag_field) == struct.tag:
                return struct
        raise AssertionError(f"{path}: no type for {node.get('properties', {}).keys()}")
    wanted = {
        "string": mi.StrType,
        "integer": mi.IntType,
        "number": mi.FloatType,
        "boolean": mi.BoolType,
        "array": mi.ListType,
        "object": mi.DictType,
    }[kind]
    found = [t for t in types if isinstance(t, wanted)]
    assert found, f"{path}: troupe does not take {kind}"
    return found[0]


# troupe's own additions to the request (documented with ``x-troupe`` in /openapi.json).
TROUPE_FIELDS = {"background"}


def compare_one(node: dict[str, Any], info: Any, path: str) -> None:
    if isinstance(info, mi.StructType):
        tag = info.tag_field
        props = {k: v for k, v in node.get("properties", {}).items() if k != tag}
        fields = {f.name: f for f in info.fields if f.name not in TROUPE_FIELDS}
        assert set(props) == set(fields), f"{path}: fields differ: {set(props) ^ set(fields)}"
        required = set(node.get("required", [])) - {tag}
        assert required == {n for n, f in fields.items() if f.required}, f"{path}: required"
        for name, prop in props.items():
            compare(prop, fields[name].type, f"{path}.{name}")
    elif isinstance(info, mi.ListType):
        assert node.get("minItems") == info.min_length, f"{path}: minItems"
        assert node.get("maxItems") == info.max_length, f"{path}: maxItems"
        compare(node["items"], info.item_type, f"{path}[]")
    elif isinstance(info, mi.DictType):
        extra = node.get("additionalProperties", True)
        if isinstance(extra, dict):
            compare(extra, info.value_type, f"{path}{{}}")
    elif isinstance(info, (mi.IntType, mi.FloatType)):
        # OpenAI writes int64 bounds as doubles: compare as doubles.
        for bound, value in (("minimum", info.ge), ("maximum", info.le)):
            spec = node.get(bound)
            assert (spec is None) == (value is None), f"{path}: {bound}"
            assert spec is None or float(spec) == float(value), f"{path}: {bound}"
    elif isinstance(info, mi.StrType):
        assert node.get("maxLength") == info.max_length, f"{path}: maxLength"


def test_request_type_matches_openai_spec() -> None:
    compare(
        {"$ref": "#/components/schemas/CreateChatCompletionRequest"},
        mi.type_info(ChatCompletionRequest),
        "$",
    )


def test_the_comparison_notices_a_difference() -> None:
    class Narrow(ChatCompletionRequest, kw_only=True):
        extra_field: int = 0

    with pytest.raises(AssertionError, match="fields differ"):
        compare(
            {"$ref": "#/components/schemas/CreateChatCompletionRequest"},
            mi.type_info(Narrow),
            "$",
        )
