"""The JSON schema a model is given for a function's parameters."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Literal, TypedDict

import jsonschema
import msgspec
import pytest

from tests.tools.strict_rules import assert_strict
from troupe.tools import function_tool


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(msgspec.Struct):
    x: float
    y: float = 0.0


@dataclasses.dataclass
class Box:
    label: str
    tags: list[str] = dataclasses.field(default_factory=list)


class Options(TypedDict):
    deep: bool


class Node(msgspec.Struct):
    value: int
    children: list[Node] = []


def scalars(text: str, count: int, ratio: float, flag: bool) -> None:
    """Take one of each scalar."""


def test_scalar_parameters_are_required_properties() -> None:
    tool = function_tool(scalars, strict=False)
    assert tool.spec.parameters == {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "flag": {"type": "boolean"},
        },
        "required": ["text", "count", "ratio", "flag"],
        "additionalProperties": False,
    }
    assert tool.spec.name == "scalars"
    assert tool.spec.description == "Take one of each scalar."
    assert tool.spec.strict is False


def choices(mode: Literal["fast", "slow"], color: Color, size: Literal[1, 2, 3]) -> None: ...


def test_literals_and_enums_are_typed_enums() -> None:
    properties = function_tool(choices).spec.parameters["properties"]
    assert properties == {
        "mode": {"type": "string", "enum": ["fast", "slow"]},
        "color": {"title": "Color", "type": "string", "enum": ["blue", "red"]},
        "size": {"type": "integer", "enum": [1, 2, 3]},
    }


def containers(
    names: list[str], scores: dict[str, float], pair: tuple[int, str], ids: tuple[int, ...]
) -> None: ...


def test_containers_non_strict() -> None:
    properties = function_tool(containers, strict=False).spec.parameters["properties"]
    assert properties == {
        "names": {"type": "array", "items": {"type": "string"}},
        "scores": {"type": "object", "additionalProperties": {"type": "number"}},
        "pair": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "prefixItems": [{"type": "integer"}, {"type": "string"}],
            "items": False,
        },
        "ids": {"type": "array", "items": {"type": "integer"}},
    }


def test_schema_without_strict_form_is_sent_non_strict() -> None:
    # A dict with free-form keys cannot be strict: OpenAI would reject the tool.
    tool = function_tool(containers)
    assert tool.strict is False
    assert tool.spec.strict is False
    assert tool.spec.parameters == function_tool(containers, strict=False).spec.parameters


def structured(point: Point, box: Box, options: Options) -> None: ...


def test_structs_dataclasses_and_typeddicts_are_inlined() -> None:
    schema = function_tool(structured, strict=False).spec.parameters
    assert "$defs" not in schema
    assert schema["properties"] == {
        "point": {
            "title": "Point",
            "type": "object",
            "properties": {"x": {"type": "number"}, "y": {"type": "number", "default": 0.0}},
            "required": ["x"],
        },
        "box": {
            "title": "Box",
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["label"],
        },
        "options": {
            "title": "Options",
            "type": "object",
            "properties": {"deep": {"type": "boolean"}},
            "required": ["deep"],
        },
    }


def test_nested_objects_in_strict_form() -> None:
    tool = function_tool(structured)
    assert tool.strict is True
    point = tool.spec.parameters["properties"]["point"]
    assert point == {
        "title": "Point",
        "type": "object",
        "properties": {
            "x": {"type": "number"},
            "y": {"type": "number", "description": "Default: 0.0."},
        },
        "required": ["x", "y"],
        "additionalProperties": False,
    }
    assert_strict(tool.spec.parameters)


def search(query: str, limit: int = 10, tag: str | None = None) -> list[str]:
    """Search the catalogue.

    Args:
        query: Words to look for.
        limit: At most this many results.
        tag: Only items with this tag.
    """
    return []


def test_defaults_non_strict_are_optional_with_default() -> None:
    schema = function_tool(search, strict=False).spec.parameters
    assert schema == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Words to look for."},
            "limit": {
                "type": "integer",
                "description": "At most this many results.",
                "default": 10,
            },
            "tag": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "Only items with this tag.",
                "default": None,
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    }


def test_defaults_strict_are_required_and_nullable() -> None:
    tool = function_tool(search)
    assert tool.spec.strict is True
    assert tool.spec.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Words to look for."},
            "limit": {
                "anyOf": [{"type": "integer"}, {"type": "null"}],
                "description": "At most this many results. (default: 10)",
            },
            "tag": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "Only items with this tag.",
            },
        },
        "required": ["query", "limit", "tag"],
        "additionalProperties": False,
    }


def test_strict_schema_accepts_null_for_defaults_and_rejects_extras() -> None:
    schema = function_tool(search).spec.parameters
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate({"query": "tea", "limit": None, "tag": None})
    assert not validator.is_valid({"query": "tea", "limit": None})
    assert not validator.is_valid({"query": "tea", "limit": 1, "tag": None, "other": 1})


def tree(root: Node, depth: int = 1) -> None: ...


def test_recursive_types_keep_a_definition() -> None:
    schema = function_tool(tree).spec.parameters
    assert schema["properties"]["root"] == {"$ref": "#/$defs/Node"}
    assert schema["$defs"] == {
        "Node": {
            "title": "Node",
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/Node"},
                    "description": "Default: [].",
                },
            },
            "required": ["value", "children"],
            "additionalProperties": False,
        }
    }
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(
        {"root": {"value": 1, "children": [{"value": 2, "children": []}]}, "depth": 2}
    )
    assert not validator.is_valid({"root": {"value": 1, "children": [{"value": "x"}]}, "depth": 2})


def no_parameters() -> str:
    return "ok"


def test_function_without_parameters() -> None:
    tool = function_tool(no_parameters)
    assert tool.spec.parameters == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }
    assert tool.spec.description == ""


def anything(value: Any) -> None: ...


def test_any_parameter_is_not_strict() -> None:
    tool = function_tool(anything)
    assert tool.strict is False
    assert tool.spec.parameters["properties"] == {"value": {}}


@pytest.mark.parametrize(
    "fn", [scalars, choices, structured, search, tree, no_parameters, containers]
)
@pytest.mark.parametrize("strict", [True, False])
def test_every_schema_is_valid_json_schema(fn: Any, strict: bool) -> None:
    tool = function_tool(fn, strict=strict)
    jsonschema.Draft202012Validator.check_schema(tool.spec.parameters)
    if tool.strict:
        assert_strict(tool.spec.parameters)


def keyword_names(default: Point, enum: Node, type: str = "x") -> None: ...


def test_parameters_named_like_schema_keywords() -> None:
    schema = function_tool(keyword_names).spec.parameters
    assert list(schema["properties"]) == ["default", "enum", "type"]
    assert schema["properties"]["default"]["title"] == "Point"
    assert schema["properties"]["enum"] == {"$ref": "#/$defs/Node"}
    assert list(schema["$defs"]) == ["Node"]
    assert_strict(schema)
