"""OpenAI's strict-mode rules, checked on a whole schema."""

from __future__ import annotations

from typing import Any


def assert_strict(node: Any) -> None:
    """Check the strict-mode rules on ``node`` and every schema inside it."""
    assert isinstance(node, dict)
    assert "default" not in node
    assert "$ref" not in node or node["$ref"].startswith("#/$defs/")
    if node.get("type") == "object":
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])
    for key, value in node.items():
        if key in ("properties", "$defs"):
            children = list(value.values())
        elif key in ("anyOf", "allOf", "oneOf"):
            children = value
        elif key == "items":
            children = [value]
        else:
            continue
        for child in children:
            assert_strict(child)
