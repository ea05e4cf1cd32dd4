"""Tool names and descriptions: defaults, overrides, Annotated, decorator forms."""

from __future__ import annotations

from typing import Annotated, Literal

import jsonschema
import msgspec

from tests.tools.strict_rules import assert_strict
from troupe.tools import function_tool


def annotated(
    city: Annotated[str, "The city, e.g. 'Paris'"],
    days: Annotated[int, msgspec.Meta(ge=1, le=14, description="How many days ahead")] = 3,
    unit: Annotated[Literal["C", "F"], "Temperature unit"] = "C",
) -> None:
    """Forecast the weather.

    Args:
        city: Overridden by the Annotated description.
    """


def test_annotated_descriptions_and_constraints() -> None:
    properties = function_tool(annotated, strict=False).spec.parameters["properties"]
    assert properties == {
        "city": {"type": "string", "description": "The city, e.g. 'Paris'"},
        "days": {
            "type": "integer",
            "minimum": 1,
            "maximum": 14,
            "description": "How many days ahead",
            "default": 3,
        },
        "unit": {
            "type": "string",
            "enum": ["C", "F"],
            "description": "Temperature unit",
            "default": "C",
        },
    }


def test_annotated_in_strict_form() -> None:
    tool = function_tool(annotated)
    jsonschema.Draft202012Validator.check_schema(tool.spec.parameters)
    assert_strict(tool.spec.parameters)
    assert tool.spec.parameters["properties"]["days"] == {
        "anyOf": [{"type": "integer", "minimum": 1, "maximum": 14}, {"type": "null"}],
        "description": "How many days ahead (default: 3)",
    }


def search(query: str, limit: int = 10) -> list[str]:
    """Search the catalogue."""
    return []


def test_name_and_description_overrides() -> None:
    tool = function_tool(search, name="find", description="Find things.")
    assert (tool.name, tool.description) == ("find", "Find things.")
    assert (tool.spec.name, tool.spec.description) == ("find", "Find things.")


def test_decorator_forms() -> None:
    @function_tool
    def plain(x: int) -> int:
        """Plain."""
        return x

    @function_tool(name="renamed", strict=False)
    def configured(x: int) -> int:
        return x

    assert (plain.name, plain.description, plain.strict) == ("plain", "Plain.", True)
    assert (configured.name, configured.strict) == ("renamed", False)
    assert plain.fn(2) == 2
