"""Tools named by import path, as team configs name them."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from troupe.tools import FunctionTool, ToolOutput, import_tool

PACKAGE = "troupe_test_toolpkg"

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    root = tmp_path / PACKAGE
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "tools.py").write_text(
        textwrap.dedent(
            """
            from troupe.tools import function_tool

            def search(query: str) -> str:
                '''Search the web.'''
                return f"results for {query}"

            @function_tool(name="lookup")
            def prebuilt(key: str) -> str:
                return key.upper()

            class Toolkit:
                @staticmethod
                def ping() -> str:
                    return "pong"

            def untyped(query):
                return query

            toolkit = Toolkit()
            answer = 42
            """
        )
    )
    (root / "broken.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
        del sys.modules[name]


async def test_function_becomes_a_function_tool() -> None:
    tool = import_tool(f"{PACKAGE}.tools:search")
    assert isinstance(tool, FunctionTool)
    assert (tool.name, tool.description) == ("search", "Search the web.")
    assert await tool.call('{"query": "tea"}') == ToolOutput("results for tea")


def test_a_tool_object_is_returned_as_is() -> None:
    tool = import_tool(f"{PACKAGE}.tools:prebuilt")
    assert tool is sys.modules[f"{PACKAGE}.tools"].prebuilt
    assert tool.name == "lookup"


def test_dotted_attribute() -> None:
    assert import_tool(f"{PACKAGE}.tools:toolkit.ping").name == "ping"


def test_builtin_tools_import() -> None:
    assert import_tool("troupe.tools.builtin:calculator").name == "calculator"
    assert import_tool("troupe.tools.builtin:current_time").name == "current_time"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("nopkg_xyz.tools:search", "cannot import 'nopkg_xyz.tools': No module named 'nopkg_xyz'"),
        (
            f"{PACKAGE}.nothere:search",
            f"cannot import '{PACKAGE}.nothere': No module named '{PACKAGE}.nothere'",
        ),
        (
            f"{PACKAGE}.broken:search",
            f"cannot import '{PACKAGE}.broken': RuntimeError: boom at import",
        ),
        (f"{PACKAGE}.tools:serch", f"module '{PACKAGE}.tools' has no attribute 'serch'"),
        (f"{PACKAGE}.tools:toolkit.pong", f"'{PACKAGE}.tools:toolkit' has no attribute 'pong'"),
        (f"{PACKAGE}.tools:answer", f"'{PACKAGE}.tools:answer' is not callable"),
        (
            f"{PACKAGE}.tools:Toolkit",
            f"'{PACKAGE}.tools:Toolkit' is a class; expected a function or a tool object",
        ),
        (
            f"{PACKAGE}.tools:untyped",
            "cannot make a tool of 'untyped': parameter 'query' has no type annotation",
        ),
        (f"{PACKAGE}.tools", "expected 'package.module:function'"),
        (f"{PACKAGE}.tools:", "expected 'package.module:function'"),
        (":search", "expected 'package.module:function'"),
        ("my-pkg.tools:search", "expected 'package.module:function'"),
    ],
)
def test_errors_read_like_config_errors(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        import_tool(path)
