"""AutoGen tools: FunctionTool source code becomes a generated Python module.

AgentChat serializes a ``FunctionTool`` as its function's source code plus the
imports it needs. troupe names tools by import path, so the import writes
those functions into one module next to the config (``<name>_tools.py``) and
lists ``<module>:<function>`` under the agent's ``tools:``. The module is the
team's own code, written out for review: nothing is run during the import.
"""

from __future__ import annotations

__all__ = ["import_tools", "render_tools_module"]

import ast
import textwrap
from typing import Any

from troupe.interop._autogen_base import Component, Importer, listed


def _import_line(item: Any) -> str | None:
    if isinstance(item, str):
        return f"import {item}"
    if not isinstance(item, dict):
        return None
    if "module" in item:
        names = []
        for name in listed(item.get("imports")):
            if isinstance(name, dict):
                names.append(f"{name.get('name')} as {name.get('alias')}")
            else:
                names.append(str(name))
        return f"from {item['module']} import {', '.join(names)}" if names else None
    if "name" in item:
        alias = f" as {item['alias']}" if item.get("alias") else ""
        return f"import {item['name']}{alias}"
    return None


def _function_tool(c: Component, imp: Importer) -> str | None:
    source = textwrap.dedent(str(c.get("source_code") or ""))
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        imp.drop(c.at("source_code"), "FunctionTool source code", f"not valid Python: {err.msg}")
        return None
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not defs:
        imp.drop(c.at("source_code"), "FunctionTool source code", "defines no function")
        return None
    func = defs[-1]
    name = str(c.get("name") or func.name)
    if c.get("has_cancellation_support"):
        imp.drop(
            c.at("has_cancellation_support"),
            f"tool {name}: its CancellationToken parameter",
            "troupe passes none; remove the parameter from the generated function",
        )
    known = imp.tool_sources.get(func.name)
    if known is not None and known != source:
        imp.drop(c.path, f"tool {name}", f"another tool's function is also named {func.name}")
        return None
    imp.tool_sources[func.name] = source
    for item in c.items("global_imports"):
        line = _import_line(item)
        if line and line not in imp.tool_imports:
            imp.tool_imports.append(line)
    description = c.get("description")
    docstring = (ast.get_docstring(func) or "").strip()
    if name == func.name and (not description or description.strip() == docstring):
        return f"{imp.tools_module}:{func.name}"
    # The tool's own name or description: a troupe FunctionTool object in the module.
    symbol = f"{name}_tool" if name == func.name else name
    wrapper = f"{symbol} = FunctionTool({func.name}, name={name!r}, description={description!r})\n"
    imp.tool_sources[symbol] = wrapper
    if "from troupe.tools import FunctionTool" not in imp.tool_imports:
        imp.tool_imports.append("from troupe.tools import FunctionTool")
    return f"{imp.tools_module}:{symbol}"


def _one_tool(raw: Any, path: str, imp: Importer, agent: dict[str, Any]) -> None:
    c = Component.of(raw, path)
    if c is None:
        imp.drop(path, "tool", "not a component")
        return
    if c.kind == "FunctionTool":
        ref = _function_tool(c, imp)
        if ref is not None:
            agent.setdefault("tools", []).append(ref)
    elif c.kind == "PythonCodeExecutionTool":
        from troupe.interop._autogen_agents import import_executor

        agent["code_executor"] = import_executor(c.get("executor"), c.at("executor"), imp)
    elif c.kind == "TeamTool" and imp.import_team is not None:
        team = imp.import_team(c.get("team"), c.at("team"), str(c.get("name") or "team"))
        if team is not None:
            agent.setdefault("team_tools", []).append(team)
            imp.notes.append(f"{c.path}: the team tool is called {team} in troupe (its team's key)")
    else:
        imp.unknown(c, "tool")


def import_tools(c: Component, imp: Importer, agent: dict[str, Any]) -> None:
    """Fill ``agent``'s ``tools:`` (and ``team_tools:``) from ``tools`` or ``workbench``."""
    for i, raw in enumerate(c.items("tools")):
        _one_tool(raw, c.at(f"tools[{i}]"), imp, agent)
    benches = c.get("workbench") or []
    for i, raw in enumerate(benches if isinstance(benches, list) else [benches]):
        path = c.at(f"workbench[{i}]") if isinstance(benches, list) else c.at("workbench")
        bench = Component.of(raw, path)
        if bench is None:
            continue
        if bench.kind not in ("StaticWorkbench", "StaticStreamWorkbench"):
            imp.unknown(bench, "workbench")
            continue
        for j, tool in enumerate(bench.items("tools")):
            _one_tool(tool, bench.at(f"tools[{j}]"), imp, agent)
        if bench.get("tool_overrides"):
            imp.drop(bench.at("tool_overrides"), "tool name/description overrides", "not in troupe")


def render_tools_module(imp: Importer) -> str | None:
    """The generated tools module's text, or None when no tool was given as code."""
    if not imp.tool_sources:
        return None
    head = (
        '"""Tools of an AutoGen team, written out by `troupe import autogen`.\n\n'
        "These are the team's FunctionTool source codes as AutoGen exported them:\n"
        'review them before serving the team."""\n'
    )
    imports = "\n".join(imp.tool_imports)
    body = "\n\n\n".join(source.strip() for source in imp.tool_sources.values())
    return f"{head}\n{imports}\n\n\n{body}\n" if imports else f"{head}\n\n{body}\n"
