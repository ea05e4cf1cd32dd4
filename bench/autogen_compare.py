"""troupe next to AutoGen AgentChat 0.7: the in-process cost of a turn, an event, a tool call.

The same work on both, with scripted models that cost (almost) nothing, so what
is measured is each framework's own overhead:

* **turn**: three assistant agents in round robin, each streaming a 20-word
  reply, one round per run, each run a new conversation (troupe: ``RoundRobinTeam`` + ``ScriptedModel``; AutoGen:
  ``RoundRobinGroupChat`` + ``ReplayChatCompletionClient`` with
  ``model_client_stream=True``); per turn, and per event the run yields;
* **tool call**: one agent with one async tool; a turn in which the model
  calls the tool (the summary of its result ends the turn, no reflection),
  less a turn in which it answers in text: what the tool call itself costs.

    uv run python -m bench.autogen_compare [--turns 3000] [--repeat 5]

Prints a markdown table (the best of ``--repeat`` runs, in µs of the process's
CPU time) and, with ``--json PATH``, writes the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

WORDS = " ".join(f"word{i}" for i in range(20))
# CPU time of this process: on a shared machine, time spent waiting for a core is not counted.
_clock = time.process_time


async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


# --- troupe ---------------------------------------------------------------------------


async def troupe_turns(turns: int) -> tuple[float, int]:
    """Seconds for ``turns`` round-robin turns (runs of one round each, each from a new
    conversation), and the events they yielded."""
    from troupe.agents import AssistantAgent
    from troupe.messages import UserMessage
    from troupe.models import ScriptedModel
    from troupe.teams import RoundRobinTeam

    agents = [
        AssistantAgent(f"a{i}", ScriptedModel([WORDS] * turns), system_message=None)
        for i in range(3)
    ]
    team = RoundRobinTeam("rr", agents)
    count = 0

    async def emit(event: Any) -> None:
        nonlocal count
        count += 1

    task = [UserMessage(content="go")]
    start = _clock()
    for _ in range(turns // 3):
        await team.run(team.new_state("c"), task, emit)
    return _clock() - start, count


async def troupe_tool_turns(turns: int, with_tool: bool) -> float:
    """Seconds for ``turns`` one-agent turns, each with one tool call or a text answer."""
    from troupe.agents import AgentTurn, AssistantAgent
    from troupe.messages import UserMessage
    from troupe.models import ScriptedModel, tool_call
    from troupe.tools import FunctionTool

    reply: Any = tool_call("add", '{"a": 1, "b": 2}', id="call_1") if with_tool else "3"
    agent = AssistantAgent(
        "calc",
        ScriptedModel([reply] * turns),
        system_message=None,
        tools=[FunctionTool(add)],
        reflect_on_tool_use=False,
    )
    turn = AgentTurn(transcript=(UserMessage(content="1+2?"),))

    async def emit(event: Any) -> None:
        return None

    start = _clock()
    for _ in range(turns):
        await agent.run(turn, emit)
    return _clock() - start


# --- AutoGen --------------------------------------------------------------------------


def _replay(replies: list[Any]) -> Any:
    from autogen_core.models import ModelFamily, ModelInfo
    from autogen_ext.models.replay import ReplayChatCompletionClient

    info = ModelInfo(
        vision=False,
        function_calling=True,
        json_output=False,
        family=ModelFamily.UNKNOWN,
        structured_output=False,
    )
    return ReplayChatCompletionClient(replies, model_info=info)


async def autogen_turns(turns: int) -> tuple[float, int]:
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination
    from autogen_agentchat.teams import RoundRobinGroupChat

    agents = [
        AssistantAgent(
            f"a{i}",
            _replay([WORDS] * turns),
            system_message=None,
            model_client_stream=True,
        )
        for i in range(3)
    ]
    team = RoundRobinGroupChat(agents, termination_condition=MaxMessageTermination(4))
    count = 0
    start = _clock()
    for _ in range(turns // 3):
        async for _item in team.run_stream(task="go"):
            count += 1
        await team.reset()
    return _clock() - start, count


async def autogen_tool_turns(turns: int, with_tool: bool) -> float:
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.messages import TextMessage
    from autogen_core import CancellationToken, FunctionCall
    from autogen_core.models import CreateResult, RequestUsage

    usage = RequestUsage(prompt_tokens=0, completion_tokens=0)
    reply: Any = (
        CreateResult(
            finish_reason="function_calls",
            content=[FunctionCall(id="call_1", name="add", arguments='{"a": 1, "b": 2}')],
            usage=usage,
            cached=False,
        )
        if with_tool
        else "3"
    )
    agent = AssistantAgent(
        "calc",
        _replay([reply] * turns),
        system_message=None,
        tools=[add],
        reflect_on_tool_use=False,
    )
    token = CancellationToken()
    start = _clock()
    for _ in range(turns):
        await agent.on_messages([TextMessage(content="1+2?", source="user")], token)
        await agent.on_reset(token)
    return _clock() - start


# --- the measurement ------------------------------------------------------------------


async def _best(runs: int, measure: Callable[[], Awaitable[Any]]) -> Any:
    best: Any = None
    for _ in range(runs):
        gc.collect()
        result = await measure()
        seconds = result[0] if isinstance(result, tuple) else result
        if best is None or seconds < (best[0] if isinstance(best, tuple) else best):
            best = result
    return best


async def measure(turns: int, repeat: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, turn_fn, tool_fn in (
        ("troupe", troupe_turns, troupe_tool_turns),
        ("autogen", autogen_turns, autogen_tool_turns),
    ):
        rounds = turns // 3 * 3
        tool_turns = max(turns // 3, 200)
        seconds, events = await _best(repeat, functools.partial(turn_fn, rounds))
        plain = await _best(repeat, functools.partial(tool_fn, tool_turns, False))
        tooled = await _best(repeat, functools.partial(tool_fn, tool_turns, True))
        out[name] = {
            "turn_us": seconds / turns * 1e6,
            "event_us": seconds / events * 1e6,
            "events_per_turn": events / turns,
            "tool_turn_us": tooled / tool_turns * 1e6,
            "text_turn_us": plain / tool_turns * 1e6,
            "tool_call_us": (tooled - plain) / tool_turns * 1e6,
        }
    return out


def table(results: dict[str, dict[str, float]]) -> str:
    rows = [
        ("a team turn (3 agents, round robin, 20-word streamed reply)", "turn_us"),
        ("an event of that run", "event_us"),
        ("a tool call (a turn with one async tool call, less a text turn)", "tool_call_us"),
        ("a one-agent turn that calls one tool", "tool_turn_us"),
    ]
    lines = ["| in-process cost (µs) | troupe | AutoGen 0.7 |", "|---|---:|---:|"]
    for label, key in rows:
        lines.append(f"| {label} | {results['troupe'][key]:.1f} | {results['autogen'][key]:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    results = asyncio.run(measure(args.turns, args.repeat))
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
