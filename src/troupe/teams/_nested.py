"""Nested teams: a team as a participant of another team, or as an agent's tool.

Both stream the inner team's events through, attributed to the inner agents;
the inner ``run_end`` stays inside. A participant team keeps its own state in
the outer ``RunState.inner``; a team used as a tool starts afresh per call.
"""

from __future__ import annotations

__all__ = ["InnerRun", "TeamAgent", "TeamTool", "nested_state", "run_inner"]

from typing import Any

import msgspec

from troupe.agents import AgentOutcome, AgentTurn, Answered, AwaitingInput, Emit
from troupe.errors import RunError
from troupe.events import Event, RunEnded
from troupe.messages import AssistantMessage, Message, UserMessage
from troupe.models import ToolSpec
from troupe.teams._base import Team
from troupe.teams._state import RunResult, RunState
from troupe.tools import ToolOutput


class _NestedState(msgspec.Struct, frozen=True, kw_only=True):
    inner: RunState
    # How much of the outer transcript the inner team has already been given.
    seen: int = 0


def nested_state(inner: RunState, seen: int) -> Any:
    """What a nested team's agent keeps for its next turn (``AgentOutcome.state``)."""
    return _NestedState(inner=inner, seen=seen)


def _inbound(messages: tuple[Message, ...]) -> list[Message]:
    """Outer messages as the inner team sees them: others' words, as users'."""
    out: list[Message] = []
    for message in messages:
        if isinstance(message, UserMessage):
            out.append(message)
        elif isinstance(message, AssistantMessage) and message.content and not message.tool_calls:
            out.append(UserMessage(content=message.content, source=message.source))
    return out


def _forward(emit: Emit) -> Emit:
    async def forward(event: Event) -> None:
        if not isinstance(event, RunEnded):
            await emit(event)

    return forward


class TeamAgent:
    """A team that takes part in another team as one participant."""

    def __init__(
        self, team: Team, *, name: str | None = None, description: str | None = None
    ) -> None:
        self.team = team
        self._name = name or team.name
        self._description = description or team.description

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return self._description

    async def run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome:
        inner = await run_inner(self.team, self._name, turn, _forward(emit))
        pending = inner.result.state.pending_input
        return AgentOutcome(
            messages=inner.said,
            usage=inner.result.usage,
            end=AwaitingInput(prompt=pending.prompt, inner=True)
            if pending is not None
            else Answered(),
            # What it said joins the outer transcript too: the inner team has seen that.
            state=_NestedState(
                inner=inner.result.state, seen=len(turn.transcript) + len(inner.said)
            ),
        )


class InnerRun(msgspec.Struct, frozen=True, kw_only=True):
    """A nested team's run in an outer turn: how it ended, and what its agents said."""

    result: RunResult
    said: tuple[AssistantMessage, ...]


async def run_inner(
    team: Team, name: str, turn: AgentTurn, emit: Emit, *, keep: bool = True
) -> InnerRun:
    """Run ``team`` on the outer messages it has not seen (all of them, the first time or
    without ``keep``) from the state kept in ``turn``; an inner failure is the turn's."""
    previous = turn.state if isinstance(turn.state, _NestedState) else None
    if previous is None and isinstance(turn.state, dict):
        previous = msgspec.convert(turn.state, _NestedState)
    if previous is not None and not keep and previous.inner.pending_input is None:
        previous = None
    inner = previous.inner if previous else team.new_state(f"{turn.conversation_id}/{name}")
    seen = previous.seen if previous else 0
    new = _inbound(turn.transcript[seen:])
    result = await team.run(inner, new, emit)
    if result.error is not None:
        raise RunError(
            f"inner team '{team.name}' failed: {result.error.message}", code=result.error.code
        )
    added = result.state.transcript[len(inner.transcript) + len(new) :]
    said = tuple(
        m for m in added if isinstance(m, AssistantMessage) and m.content and not m.tool_calls
    )
    return InnerRun(result=result, said=said)


class TeamTool:
    """A team an agent can call as a tool with a ``task``; its events stream through."""

    def __init__(
        self, team: Team, *, name: str | None = None, description: str | None = None
    ) -> None:
        self.team = team
        self.name = name or team.name
        self.description = description or team.description
        self.spec = ToolSpec(
            name=self.name,
            description=self.description,
            parameters={
                "type": "object",
                "properties": {"task": {"type": "string", "description": "The task for the team."}},
                "required": ["task"],
                "additionalProperties": False,
            },
            strict=True,
        )

    async def call(self, arguments: str) -> ToolOutput:
        return await self.call_streaming(arguments, None)

    async def call_streaming(self, arguments: str, emit: Emit | None) -> ToolOutput:
        try:
            task = str(msgspec.json.decode(arguments or "{}").get("task") or "")
        except (msgspec.DecodeError, AttributeError):
            return ToolOutput(
                content="Error: arguments must be a JSON object with a 'task'", is_error=True
            )
        if not task:
            return ToolOutput(content="Error: 'task' is required", is_error=True)

        async def drop(event: Event) -> None:
            return None

        result = await self.team.run(
            self.team.new_state(f"tool/{self.name}"),
            [UserMessage(content=task)],
            _forward(emit) if emit else drop,
        )
        if result.error is not None:
            return ToolOutput(content=f"Error: {result.error.message}", is_error=True)
        answers = [
            m.content
            for m in result.state.transcript
            if isinstance(m, AssistantMessage) and m.content and not m.tool_calls
        ]
        return ToolOutput(content=answers[-1] if answers else "")
