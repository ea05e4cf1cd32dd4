"""Functions that cannot become tools fail when the tool is made, with a clear message."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from troupe.tools import function_tool


def untyped(query, limit: int = 1) -> str:  # type: ignore[no-untyped-def]
    return ""


def star_args(*items: int) -> int:
    return 0


def star_kwargs(query: str, **options: str) -> str:
    return ""


def unsupported(sock: socket.socket) -> None: ...


def test_unannotated_parameter() -> None:
    with pytest.raises(
        TypeError,
        match=r"^cannot make a tool of 'untyped': parameter 'query' has no type annotation$",
    ):
        function_tool(untyped)


def test_var_positional() -> None:
    with pytest.raises(TypeError, match=r"'star_args': \*items is not supported"):
        function_tool(star_args)


def test_var_keyword() -> None:
    with pytest.raises(TypeError, match=r"'star_kwargs': \*\*options is not supported"):
        function_tool(star_kwargs)


def test_unsupported_type_names_the_parameter() -> None:
    with pytest.raises(
        TypeError, match=r"^cannot make a tool of 'unsupported': parameter 'sock' has a type"
    ):
        function_tool(unsupported)


def unresolvable(x: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821


def test_unresolvable_type_hint() -> None:
    with pytest.raises(TypeError, match=r"'unresolvable': cannot resolve its type hints"):
        function_tool(unresolvable)


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "dots.not.allowed"])
def test_invalid_tool_name(name: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"tool name {name!r} must be")):
        function_tool(star_kwargs, name=name, strict=False)


def test_lambda_needs_a_name() -> None:
    fn: Any = lambda x: x  # noqa: E731
    with pytest.raises(TypeError, match="parameter 'x' has no type annotation"):
        function_tool(fn, name="identity")
    with pytest.raises(ValueError, match="'<lambda>' must be"):
        function_tool(fn)


def test_not_callable() -> None:
    with pytest.raises(TypeError, match="is not callable"):
        function_tool(42)  # type: ignore[call-overload]
