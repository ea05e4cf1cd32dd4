"""Running one team in AutoGen and, imported, in troupe, on the same scripted replies.

Each side is summarised the same way (``Outcome``): who spoke in which order,
the tool calls, which condition stopped the run, and the transcript (each
speaker's text). The AgentChat team is dumped to JSON, imported with
``troupe.interop.import_autogen``, loaded with troupe's config loader (what
``troupe check`` runs), and its models replaced by ``ScriptedModel``s that
reply what the AutoGen ``ReplayChatCompletionClient``s reply.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autogen_agentchat.base import TaskResult
from autogen_agentchat.base import Team as AutoGenTeam
from autogen_agentchat.messages import BaseChatMessage, ToolCallRequestEvent
from autogen_core import FunctionCall
from autogen_core.models import CreateResult, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

from tests.teams.conftest import run_team
from troupe.agents import AssistantAgent, CodeExecutorAgent
from troupe.config import read_teams
from troupe.events import AgentStarted, ToolCalled
from troupe.interop import AutoGenImport, import_autogen
from troupe.messages import AssistantMessage, ToolCall, ToolMessage, text_of
from troupe.models import ModelResponse, ScriptedModel, tool_call
from troupe.teams import SelectorTeam, Team

# One scripted reply: text, or tool calls given as (name, JSON arguments).
Reply = str | list[tuple[str, str]]


def replay(replies: Sequence[Reply]) -> ReplayChatCompletionClient:
    """An AutoGen client replying ``replies`` (tool calls as ``CreateResult``s)."""
    results: list[str | CreateResult] = []
    for n, reply in enumerate(replies):
        if isinstance(reply, str):
            results.append(reply)
        else:
            calls = [
                FunctionCall(id=f"call_{n}_{i}", name=name, arguments=args)
                for i, (name, args) in enumerate(reply)
            ]
            usage = RequestUsage(prompt_tokens=0, completion_tokens=0)
            results.append(
                CreateResult(
                    finish_reason="function_calls", content=calls, usage=usage, cached=False
                )
            )
    info = {
        "vision": False,
        "function_calling": True,
        "json_output": True,
        "family": "unknown",
        "structured_output": True,
    }
    return ReplayChatCompletionClient(results, model_info=info)  # type: ignore[arg-type]


def scripted(replies: Sequence[Reply]) -> ScriptedModel:
    """The troupe model replying ``replies``, as ``replay`` does for AutoGen."""
    script: list[str | ToolCall | list[ToolCall] | ModelResponse] = []
    for n, reply in enumerate(replies):
        if isinstance(reply, str):
            script.append(reply)
        else:
            script.append(
                [tool_call(name, args, f"call_{n}_{i}") for i, (name, args) in enumerate(reply)]
            )
    return ScriptedModel(script)


@dataclass
class Outcome:
    speakers: list[str]
    tool_calls: list[tuple[str, str]]
    stop_reason: str
    transcript: list[tuple[str, str]]


async def run_autogen(team: AutoGenTeam, task: str) -> Outcome:
    result = await team.run(task=task)
    assert isinstance(result, TaskResult)
    chat = [m for m in result.messages if isinstance(m, BaseChatMessage)][1:]
    calls = [
        (call.name, call.arguments)
        for m in result.messages
        if isinstance(m, ToolCallRequestEvent)
        for call in m.content
    ]
    return Outcome(
        speakers=[m.source for m in chat],
        tool_calls=calls,
        stop_reason=result.stop_reason or "",
        transcript=[(m.source, m.to_text()) for m in chat],
    )


def import_team(
    team: AutoGenTeam, tmp_path: Path, name: str = "imported"
) -> tuple[AutoGenImport, dict[str, Team]]:
    """Dump ``team``, import it, write the files, and load them as ``troupe check`` does."""
    dumped = json.loads(team.dump_component().model_dump_json())
    result = import_autogen(dumped, name=name, tools_module=f"{tmp_path.name}_tools")
    text = result.yaml()
    (tmp_path / "teams.yaml").write_text(text)
    if result.tools_source is not None:
        (tmp_path / f"{tmp_path.name}_tools.py").write_text(result.tools_source)
    env = {"OPENAI_API_KEY": "k", "AZURE_OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"}
    _, teams = read_teams(text, env=env, base_dir=tmp_path)
    return result, teams


def give_models(team: Team, scripts: Mapping[str, Sequence[Reply]]) -> None:
    """Replace the imported (demo) models by scripted ones: per agent, ``selector`` for the team."""
    for agent in team.agents:
        if isinstance(agent, AssistantAgent | CodeExecutorAgent) and agent.name in scripts:
            agent.model = scripted(scripts[agent.name])
    if isinstance(team, SelectorTeam) and "selector" in scripts:
        team.model = scripted(scripts["selector"])


async def run_troupe(team: Team, task: str) -> Outcome:
    result, recorder = await run_team(team, task)
    final = [
        (message.source, text_of(message))
        for message in result.state.transcript[1:]
        if not isinstance(message, ToolMessage)
        and not (isinstance(message, AssistantMessage) and message.tool_calls)
    ]
    return Outcome(
        speakers=[e.agent for e in recorder.events if isinstance(e, AgentStarted)],
        tool_calls=[(e.name, e.arguments) for e in recorder.events if isinstance(e, ToolCalled)],
        stop_reason=result.stop_reason or "",
        transcript=final,
    )


async def run_both(
    build: Callable[[], AutoGenTeam], scripts: Mapping[str, Sequence[Reply]], task: str, tmp: Path
) -> tuple[Outcome, Outcome, AutoGenImport]:
    """Run ``build()`` in AutoGen, then imported in troupe, on the same ``scripts``."""
    theirs = await run_autogen(build(), task)
    result, teams = import_team(build(), tmp)
    team = teams["imported"]
    give_models(team, scripts)
    return theirs, await run_troupe(team, task), result


def dumped(team: AutoGenTeam) -> dict[str, Any]:
    return json.loads(team.dump_component().model_dump_json())  # type: ignore[no-any-return]
