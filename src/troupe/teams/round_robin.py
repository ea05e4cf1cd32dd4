"""Round-robin: agents speak in a fixed order that carries over between runs."""

from __future__ import annotations

__all__ = ["RoundRobinTeam"]

import msgspec

from troupe.agents import Agent
from troupe.teams._base import Team
from troupe.teams._state import RunState


class RoundRobinTeam(Team):
    kind = "round_robin"

    def _select(self, state: RunState) -> tuple[Agent, RunState]:
        index = state.next_speaker % len(self.agents)
        return self.agents[index], msgspec.structs.replace(state, next_speaker=index + 1)
