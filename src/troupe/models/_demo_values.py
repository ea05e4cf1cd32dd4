"""Plausible values for a JSON schema, taken from the question where it has them.

The demo model fills a tool's arguments (and a structured answer) with these:
a ``query`` is the question, a ``city`` a capitalised word of it, a number
the first number in it. A value it cannot make up sensibly (an arithmetic
``expression`` when the question has none) is ``None``: the tool is not
called rather than called with nonsense.
"""

from __future__ import annotations

__all__ = ["arithmetic", "value_for"]

import datetime as dt
import re
from typing import Any

_MATH = re.compile(r"[-+*/()\d\s.%^]{3,}")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_URL = re.compile(r"https?://\S+[^\s.,;:!?)\]]")
_CODE = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
_PLACES = ("city", "location", "place", "country", "region", "destination")


def arithmetic(text: str) -> str | None:
    """The longest arithmetic expression in ``text`` (``^`` as power), or None."""
    found = [m.group().strip() for m in _MATH.finditer(text)]
    found = [c for c in found if re.search(r"\d\s*[-+*/%^]\s*[\d(]", c)]
    return max(found, key=len).replace("^", "**") if found else None


def _number(question: str, schema: dict[str, Any], integer: bool) -> int | float:
    found = _NUMBER.search(question)
    value: float = float(found.group()) if found else float(schema.get("minimum", 1))
    if "maximum" in schema:
        value = min(value, float(schema["maximum"]))
    if "minimum" in schema:
        value = max(value, float(schema["minimum"]))
    return int(value) if integer else value


def _string(name: str, schema: dict[str, Any], question: str) -> str | None:
    key = name.lower()
    fmt = schema.get("format")
    if key in ("expression", "expr", "formula", "equation"):
        return arithmetic(question)
    if key in ("code", "source", "script"):
        block = _CODE.search(question)
        return block.group(2) if block else None
    if key in ("language", "lang"):
        block = _CODE.search(question)
        return (block.group(1) if block else "") or "python"
    if fmt == "date" or key == "date":
        return dt.date.today().isoformat()
    if fmt == "date-time" or key in ("datetime", "timestamp"):
        return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if fmt == "email" or "email" in key:
        return "user@example.com"
    if fmt == "uri" or key in ("url", "link", "href"):
        url = _URL.search(question)
        return url.group() if url else "https://example.com"
    if key in ("timezone", "tz", "time_zone"):
        return "UTC"
    if key in _PLACES:
        words = re.findall(r"(?<=\s)[A-Z][a-z]+", question)
        return words[0] if words else "London"
    if key == "id" or key.endswith(("_id", "number")):
        # The number after the thing it identifies ("order 42" for order_id), else any.
        thing = key.removesuffix("_id").removesuffix("number").strip("_")
        found = (thing and re.search(rf"{re.escape(thing)}\D{{0,12}}?(\d+)", question, re.I)) or (
            re.search(r"(\d+)", question)
        )
        return found.group(1) if found else "1234"
    # A query, a topic, a task, any other text: what the user asked.
    return question[:200] or "example"


def value_for(schema: dict[str, Any], question: str, name: str = "") -> Any:
    """A value matching ``schema``, or None when no sensible one can be made up."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        options = [o for o in options if o.get("type") != "null"] or options
        return value_for(options[0], question, name)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        fields: dict[str, Any] = {}
        for key, sub in (schema.get("properties") or {}).items():
            value = value_for(sub, question, key)
            if value is None and sub.get("type") != "null":
                if key in schema.get("required", ()):
                    return None
                continue
            fields[key] = value
        return fields
    if kind == "array":
        item = value_for(schema.get("items") or {}, question, name.removesuffix("s"))
        return [] if item is None else [item]
    if kind in ("integer", "number"):
        return _number(question, schema, kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(name, schema, question)
