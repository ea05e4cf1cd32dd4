"""Shaping msgspec's JSON schemas into what models are told about tools.

msgspec puts every Struct, dataclass, TypedDict and enum in ``$defs`` and
points at it with ``$ref``. Models follow inline schemas more reliably, and
OpenAI's strict mode rejects ``$ref`` with sibling keys, so definitions are
inlined; only recursive types keep a ``$defs`` entry (they cannot be inlined).
"""

from __future__ import annotations

__all__ = ["inline_refs", "make_nullable", "make_strict", "note_default"]

import copy
from collections.abc import Callable
from typing import Any

import msgspec

Schema = dict[str, Any]

_REF_PREFIX = "#/$defs/"
# Keys whose values are data, not schemas: never rewrite inside them.
_DATA_KEYS = frozenset({"default", "enum", "const", "examples"})
_SCHEMA_MAPS = frozenset({"properties", "$defs", "patternProperties", "dependentSchemas"})
_TYPE_KEYS = frozenset({"type", "anyOf", "allOf", "oneOf", "enum", "const", "$ref", "properties"})


def inline_refs(schema: Schema) -> Schema:
    """Inline ``$defs``; keep definitions only for recursive types."""
    defs: dict[str, Any] = schema.get("$defs", {})
    recursive = _recursive_names(defs)
    used: set[str] = set()

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {
            key: _map_schemas(key, value, resolve)
            for key, value in node.items()
            if key not in ("$ref", "$defs")
        }
        name = _ref_name(node)
        if name is None:
            _add_enum_type(out)
            return out
        if name in recursive:
            used.add(name)
            return {"$ref": node["$ref"], **out}
        return {**resolve(defs[name]), **out}

    root: Schema = resolve(schema)
    root.pop("title", None)
    kept: dict[str, Any] = {}
    while pending := sorted(used - kept.keys()):
        for name in pending:
            kept[name] = resolve(defs[name])
    if kept:
        root["$defs"] = kept
    return root


def _ref_name(node: Schema) -> str | None:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        return ref.removeprefix(_REF_PREFIX)
    return None


def _recursive_names(defs: dict[str, Any]) -> set[str]:
    """The definitions that refer to themselves, directly or through others."""
    edges = {name: _refs_in(definition) for name, definition in defs.items()}

    def reaches(start: str, target: str) -> bool:
        seen: set[str] = set()
        stack = list(edges.get(start, ()))
        while stack:
            name = stack.pop()
            if name == target:
                return True
            if name not in seen:
                seen.add(name)
                stack.extend(edges.get(name, ()))
        return False

    return {name for name in defs if reaches(name, name)}


def _refs_in(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_refs_in(item) for item in node))
    if not isinstance(node, dict):
        return set()
    found = {name} if (name := _ref_name(node)) else set()
    # Data keys are scanned too: a default holding "$ref" is not worth a special case.
    for value in node.values():
        found |= _refs_in(value)
    return found


def _map_schemas(key: str, value: Any, fn: Callable[[Any], Any]) -> Any:
    """Apply ``fn`` to the schemas in ``value``, the value of keyword ``key`` of a schema."""
    if key in _DATA_KEYS:
        return value
    if key in _SCHEMA_MAPS:
        # Keys here are property names, which may well be "default" or "enum".
        return {name: fn(child) for name, child in value.items()}
    return fn(value)


def _add_enum_type(node: Schema) -> None:
    # msgspec leaves "type" off enums and Literals; some models (and strict
    # mode validators) want it.
    if "enum" not in node or "type" in node:
        return
    names = {_json_type(value) for value in node["enum"]}
    if "other" in names:
        return
    if {"integer", "number"} <= names:
        names.discard("integer")
    types = [name for name in ("string", "integer", "number", "boolean", "null") if name in names]
    node["type"] = types[0] if len(types) == 1 else types


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string" if isinstance(value, str) else "other"


def make_nullable(node: Schema) -> Schema:
    """``node`` or null, in the ``anyOf`` form msgspec uses for ``T | None``."""
    if any(branch == {"type": "null"} for branch in node.get("anyOf", ())):
        return node
    outer: Schema = {key: node[key] for key in ("title", "description", "default") if key in node}
    inner = {key: value for key, value in node.items() if key not in outer}
    if "anyOf" in inner and len(inner) == 1:
        return {"anyOf": [*inner["anyOf"], {"type": "null"}], **outer}
    return {"anyOf": [inner, {"type": "null"}], **outer}


def note_default(node: Schema, value: Any) -> None:
    """Say ``value`` is the default in the description (strict mode forbids ``default``)."""
    if value is None:
        return  # the schema already says null is allowed
    try:
        shown = msgspec.json.encode(value).decode()
    except (TypeError, ValueError, msgspec.EncodeError):
        return
    description = node.get("description", "")
    node["description"] = (
        f"{description} (default: {shown})" if description else f"Default: {shown}."
    )


def make_strict(schema: Schema) -> tuple[Schema, list[str]]:
    """A copy of ``schema`` in OpenAI's strict form, and what (if anything) keeps it from being strict.

    Strict form: every object has ``additionalProperties: false`` and lists all
    its properties in ``required``; ``default`` moves into the description.
    Free-form objects (``dict[str, T]``, ``Any``) and fixed-length tuples
    (``prefixItems``) have no strict form; they are reported, not changed.
    """
    problems: list[str] = []
    result = copy.deepcopy(schema)
    _strict_node(result, "$", problems)
    return result, problems


def _strict_node(node: Any, path: str, problems: list[str]) -> None:
    if not isinstance(node, dict):
        return
    node.pop("discriminator", None)
    if "default" in node:
        note_default(node, node.pop("default"))
    if not _TYPE_KEYS & node.keys():
        problems.append(f"{path} accepts any value")
    if "prefixItems" in node:
        problems.append(f"{path} is a fixed-length tuple")
    if node.get("type") == "object" or "properties" in node:
        extra = node.get("additionalProperties")
        if "properties" not in node or (extra is not None and extra is not False):
            problems.append(f"{path} is an object with free-form keys")
        else:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
    for name, prop in node.get("properties", {}).items():
        _strict_node(prop, f"{path}.{name}", problems)
    for key in ("items", "additionalProperties"):
        _strict_node(node.get(key), f"{path}[*]", problems)
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for branch in node.get(key, ()):
            _strict_node(branch, path, problems)
    for name, definition in node.get("$defs", {}).items():
        _strict_node(definition, f"$defs.{name}", problems)
