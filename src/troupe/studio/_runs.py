"""A run as the studio shows it: its events with their times, what each step took, tokens
and cost per agent and per model call, its errors, and the ``curl`` that reproduces it.

Everything here is read from the run's log (events and their times), never from the
run's code: a run of another replica, or of last week, replays the same way.
"""

from __future__ import annotations

__all__ = ["Pricing", "curl_for", "run_view"]

import json
import shlex
from typing import Any

import msgspec

from troupe.config import ConfigSpec
from troupe.config.models import PriceSpec
from troupe.events import (
    AgentFinished,
    AgentStarted,
    CodeExecuted,
    CodeExecutionStarted,
    Event,
    RunFailed,
    ToolCalled,
    ToolResultReturned,
    UsageReported,
)
from troupe.messages import Usage
from troupe.store import RunRecord


class Pricing:
    """Which model an agent of a team calls, and its price (from the config, when known)."""

    def __init__(self, spec: ConfigSpec | None) -> None:
        self._spec = spec

    def model_of(self, team: str, agent: str) -> str | None:
        spec = self._spec.teams.get(team) if self._spec is not None else None
        if spec is None:
            return None
        if agent in (team, f"{team}.selector") and spec.kind == "selector":
            return spec.selector.model
        for agent_spec in spec.agents:
            if agent_spec.name == agent:
                model = getattr(agent_spec, "model", None)
                return model if isinstance(model, str) else None
        return None

    def price(self, model: str | None) -> PriceSpec | None:
        if model is None or self._spec is None or model not in self._spec.models:
            return None
        return self._spec.models[model].price

    def cost(self, model: str | None, usage: Usage) -> float | None:
        price = self.price(model)
        if price is None:
            return None
        return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6


def _tokens(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _add_cost(total: float | None, cost: float | None) -> float | None:
    return cost if total is None else total if cost is None else total + cost


class _Clock:
    """When steps began, to give each ending step its duration."""

    def __init__(self) -> None:
        self.opened: dict[str, int] = {}
        # Per agent: when its current model call began (its start, or its last results).
        self.calling: dict[str, int] = {}

    def open(self, key: str, at: int) -> None:
        self.opened[key] = at

    def close(self, key: str, at: int) -> int | None:
        began = self.opened.pop(key, None)
        return None if began is None else at - began


def run_view(
    record: RunRecord, events: list[Event], times: list[int], pricing: Pricing
) -> dict[str, Any]:
    """The run's record, its timeline (events with times and durations), usage and errors."""
    times = times + [times[-1] if times else 0] * (len(events) - len(times))
    clock = _Clock()
    rows: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    agents: dict[str, dict[str, Any]] = {}
    errors: list[dict[str, Any]] = []
    for seq, (event, at) in enumerate(zip(events, times, strict=False), start=1):
        row: dict[str, Any] = {"seq": seq, "t": at, "event": msgspec.to_builtins(event)}
        match event:
            case AgentStarted(agent=agent, message_id=message_id):
                clock.open(message_id, at)
                clock.calling[agent] = at
            case AgentFinished(message_id=message_id):
                row["duration_ms"] = clock.close(message_id, at)
            case ToolCalled(call_id=call_id):
                clock.open(call_id, at)
            case ToolResultReturned(agent=agent, call_id=call_id, name=name, is_error=failed):
                row["duration_ms"] = clock.close(call_id, at)
                clock.calling[agent] = at
                if failed:
                    errors.append({"seq": seq, "agent": agent, "kind": "tool", "cause": name})
            case CodeExecutionStarted(execution_id=execution_id):
                clock.open(execution_id, at)
            case CodeExecuted(agent=agent, execution_id=execution_id, exit_code=code):
                row["duration_ms"] = clock.close(execution_id, at)
                clock.calling[agent] = at
                if code != 0:
                    cause = "timed out" if event.timed_out else f"exit code {code}"
                    errors.append({"seq": seq, "agent": agent, "kind": "code", "cause": cause})
            case UsageReported(agent=agent, usage=usage):
                began = clock.calling.get(agent, times[0] if times else 0)
                clock.calling[agent] = at
                model = pricing.model_of(record.team, agent)
                cost = pricing.cost(model, usage)
                row["duration_ms"] = at - began
                calls.append(
                    {"seq": seq, "agent": agent, "model": model, "duration_ms": at - began}
                    | _tokens(usage)
                    | {"cost": cost}
                )
                mine = agents.setdefault(agent, {"usage": Usage(), "calls": 0, "cost": None})
                mine["usage"] += usage
                mine["calls"] += 1
                mine["cost"] = _add_cost(mine["cost"], cost)
            case RunFailed(agent=agent, code=code, message=message):
                errors.append({"seq": seq, "agent": agent, "kind": code, "cause": message})
            case _:
                pass
        rows.append(row)
    total_cost = None
    for mine in agents.values():
        total_cost = _add_cost(total_cost, mine["cost"])
    return {
        "events": rows,
        "calls": calls,
        "agents": {
            name: _tokens(mine["usage"]) | {"calls": mine["calls"], "cost": mine["cost"]}
            for name, mine in agents.items()
        },
        "cost": total_cost,
        "errors": errors,
        "duration_ms": times[-1] if times else 0,
    }


def _message(message: Any) -> dict[str, Any]:
    body = msgspec.to_builtins(message)
    return {"role": body["role"], "content": body.get("content", "")}


def curl_for(record: RunRecord, api_url: str, *, secured: bool) -> str:
    """The request that starts this run again, on the same conversation."""
    body = {
        "model": record.team,
        "messages": [_message(m) for m in record.input.messages],
        "stream": True,
    }
    lines = [f"curl -N {shlex.quote(api_url.rstrip('/') + '/chat/completions')}"]
    if secured:
        lines.append('-H "Authorization: Bearer $TROUPE_API_KEY"')
    lines.append("-H 'Content-Type: application/json'")
    lines.append(f"-H {shlex.quote('X-Conversation-Id: ' + record.conversation_id)}")
    lines.append(f"-d {shlex.quote(json.dumps(body, ensure_ascii=False))}")
    return " \\\n  ".join(lines)
