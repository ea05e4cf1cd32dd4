"""The client's own tools in an agent's turn: which it is offered, and a reply that calls them.

A client passes function tools in its request (chat completions ``tools``,
Responses ``tools``); the team's agents may call them like their own, but the
client runs them. The agent's turn then ends with ``ToolsRequested`` and the
run waits for the client's next request, which brings the results.
"""

from __future__ import annotations

__all__ = ["ClientTools"]

from collections.abc import Sequence
from typing import Literal

from troupe.agents._base import AgentTurn
from troupe.messages import ToolCall, ToolMessage
from troupe.models import ToolSpec

Choice = Literal["auto", "none", "required"]
IGNORED = "Ignored: this turn already ended."


class ClientTools:
    """The client tools of one agent's turn (none when the agent refuses them)."""

    def __init__(self, turn: AgentTurn, *, accepts: bool) -> None:
        self.specs = turn.client_tools if accepts else ()
        self.names = frozenset(spec.name for spec in self.specs)
        self.choice = turn.tool_choice if self.specs else "auto"

    def offer(
        self, own: tuple[ToolSpec, ...], first: bool
    ) -> tuple[tuple[ToolSpec, ...], Choice | None]:
        """The tools of a model call and the forced choice (None: the agent's own choice).

        The client's ``tool_choice`` holds for the turn's first call only: once the tool
        ran, the model must be free to answer.
        """
        choice = self.choice if first else "auto"
        if choice == "none":
            return own, None
        if choice == "required":
            return own + self.specs, "required"
        if choice != "auto":  # a named client tool: the only one offered, and called
            return tuple(spec for spec in self.specs if spec.name == choice), "required"
        return own + self.specs, None

    def split(self, calls: Sequence[ToolCall]) -> tuple[list[ToolCall], list[ToolCall]]:
        """The calls the agent runs, and those the client runs."""
        mine = [call for call in calls if call.name not in self.names]
        theirs = [call for call in calls if call.name in self.names]
        return mine, theirs

    @staticmethod
    def ignored(agent: str, calls: Sequence[ToolCall]) -> list[ToolMessage]:
        """Results for client calls that a handoff or a stop in the same reply cut short."""
        return [
            ToolMessage(call_id=c.id, name=c.name, content=IGNORED, is_error=True, source=agent)
            for c in calls
        ]
