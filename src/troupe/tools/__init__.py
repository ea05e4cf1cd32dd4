"""Tools: what an agent's model can call.

A typed Python function becomes a tool with ``function_tool`` (its JSON schema
comes from the type hints, its descriptions from the docstring); config files
name tools by import path and get them with ``import_tool``. Built-in tools
live in ``troupe.tools.builtin``.
"""

from __future__ import annotations

__all__ = [
    "FunctionTool",
    "Tool",
    "ToolOutput",
    "Toolset",
    "function_tool",
    "import_object",
    "import_tool",
    "imports_already_made",
]

from troupe.tools._function import FunctionTool, function_tool
from troupe.tools._imports import import_object, import_tool, imports_already_made
from troupe.tools._tool import Tool, ToolOutput, Toolset
