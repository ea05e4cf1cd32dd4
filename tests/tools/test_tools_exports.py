"""The public surface of troupe.tools."""

from __future__ import annotations

import troupe.tools


def test_exported_members() -> None:
    assert sorted(troupe.tools.__all__) == [
        "FunctionTool",
        "Tool",
        "ToolOutput",
        "Toolset",
        "function_tool",
        "import_object",
        "import_tool",
        "imports_already_made",
    ]
    for name in troupe.tools.__all__:
        assert getattr(troupe.tools, name).__module__.startswith("troupe.tools")
