"""The client's tools and answer shape in a request, as ``RunOptions`` (both APIs).

Chat completions and the Responses API spell function tools and JSON-schema
formats differently; each view turns its spelling into ``ToolSpec`` and
``OutputSchema`` and this module checks them against the team: a client tool
named like a tool of an agent that takes client tools is a 400 naming both.
"""

from __future__ import annotations

__all__ = ["chat_run_options", "output_schema", "run_options", "tool_spec"]

from collections.abc import Sequence
from typing import Any

from msgspec import UnsetType

from troupe.errors import RequestError
from troupe.models import OutputSchema, ToolSpec
from troupe.server._request import (
    ChatCompletionRequest,
    FunctionTool,
    JsonObjectFormat,
    JsonSchemaFormat,
    NamedToolChoice,
)
from troupe.teams import RunOptions, Team


def _clash(team: Team, specs: Sequence[ToolSpec]) -> tuple[int, str, str] | None:
    """(tool index, agent, name) of the first client tool named like an agent's own."""
    for agent in team.agents:
        if not getattr(agent, "client_tools", False):
            continue
        own: frozenset[str] = getattr(agent, "tool_names", frozenset())
        for index, spec in enumerate(specs):
            if spec.name in own:
                return index, agent.name, spec.name
    return None


def run_options(
    team: Team,
    specs: Sequence[ToolSpec],
    *,
    tool_choice: str,
    output_schema: OutputSchema | None,
    tools_param: str,
    choice_param: str,
) -> RunOptions:
    """The run's options; 400s for a name clash or a choice of a tool the request lacks.

    ``tools_param(i)`` / ``choice_param`` name the request's fields in its errors.
    """
    names = [spec.name for spec in specs]
    for index, name in enumerate(names):
        if names.index(name) != index:
            raise RequestError(
                f"two client tools are named {name!r}", param=tools_param.format(index)
            )
    clash = _clash(team, specs)
    if clash is not None:
        index, agent, name = clash
        raise RequestError(
            f"client tool {name!r} has the name of a tool of agent {agent!r} in team "
            f"{team.name!r}: rename it",
            param=tools_param.format(index),
            code="tool_name_conflict",
        )
    if tool_choice not in ("auto", "none") and not specs:
        raise RequestError(
            f"tool_choice {tool_choice!r} needs tools in the request", param=choice_param
        )
    if tool_choice not in ("auto", "none", "required") and tool_choice not in names:
        raise RequestError(
            f"tool_choice names {tool_choice!r}, which is not among the request's tools "
            f"({', '.join(names)})",
            param=choice_param,
        )
    return RunOptions(
        client_tools=tuple(specs), tool_choice=tool_choice, output_schema=output_schema
    )


def chat_run_options(team: Team, request: ChatCompletionRequest) -> RunOptions:
    """A chat-completions request's ``tools``, ``tool_choice`` and ``response_format``."""
    specs: list[ToolSpec] = []
    for index, tool in enumerate(request.tools or ()):
        if not isinstance(tool, FunctionTool):
            raise RequestError(
                "only function tools can be given to a team (custom tools are not supported)",
                param=f"tools[{index}]",
                code="unsupported_value",
            )
        function = tool.function
        specs.append(
            tool_spec(function.name, function.description, function.parameters, function.strict)
        )
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        tool_choice = choice.function.name
    else:
        tool_choice = choice if isinstance(choice, str) else "auto"
    schema: OutputSchema | None = None
    fmt = request.response_format
    if isinstance(fmt, JsonSchemaFormat):
        spec = fmt.json_schema
        schema = output_schema(spec.name, spec.schema, spec.description, spec.strict)
    elif isinstance(fmt, JsonObjectFormat):
        schema = OutputSchema(schema={"type": "object"}, name="json_object", strict=False)
    return run_options(
        team,
        specs,
        tool_choice=tool_choice,
        output_schema=schema,
        tools_param="tools[{}]",
        choice_param="tool_choice",
    )


def tool_spec(
    name: str,
    description: str | UnsetType | None,
    parameters: dict[str, Any] | UnsetType | None,
    strict: bool | None,
) -> ToolSpec:
    """A client's function tool as the models see it."""
    return ToolSpec(
        name=name,
        description=description if isinstance(description, str) else "",
        parameters=parameters
        if isinstance(parameters, dict)
        else {"type": "object", "properties": {}},
        strict=bool(strict),
    )


def output_schema(
    name: str,
    schema: dict[str, Any] | UnsetType | None,
    description: str | UnsetType | None,
    strict: bool | None,
) -> OutputSchema:
    """A client's JSON-schema answer format as the agents' structured output."""
    return OutputSchema(
        schema=schema if isinstance(schema, dict) else {"type": "object"},
        name=name,
        description=description if isinstance(description, str) else "",
        strict=bool(strict),
    )
