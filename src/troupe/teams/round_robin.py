"""Round-robin: agents speak in a fixed order that carries over between runs."""

from __future__ import annotations

__all__ = ["RoundRobinTeam"]

from collections.abc import Sequence

import msgspec

from troupe.agents import Agent
from troupe.teams._base import RunContext, Team
from troupe.teams._state import RunState


class RoundRobinTeam(Team):
    kind = "round_robin"

    async def _next(self, state: RunState, run: RunContext) -> tuple[Sequence[Agent], RunState]:
        index = state.next_speaker % len(self.agents)
        return [self.agents[index]], msgspec.structs.replace(state, next_speaker=index + 1)
