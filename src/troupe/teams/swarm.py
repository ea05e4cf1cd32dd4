"""Swarm: the agent with the floor speaks until it hands off with a ``transfer_to_<agent>`` tool.

The current speaker is run state, so it persists across requests: the next
user message goes to whoever had the floor. A handoff to ``user`` pauses the
run (``input_requested``); the answer goes back to the agent that asked.
A run also ends when the speaker answers without handing off: in a chat,
an answer is the user's turn (AutoGen would let the same agent speak again).
"""

from __future__ import annotations

__all__ = ["SwarmTeam"]

from collections.abc import Sequence

import msgspec

from troupe.agents import Agent, AgentOutcome, AssistantAgent, HandedOff
from troupe.errors import ConfigError, ConfigIssue
from troupe.teams._base import RunContext, Team
from troupe.teams._state import RunState
from troupe.teams.termination import TerminationCondition


def handoff_targets(agent: Agent) -> list[str]:
    handoffs = getattr(agent, "handoffs", None) or {}
    return [h.target for h in handoffs.values()]


class SwarmTeam(Team):
    kind = "swarm"

    def __init__(
        self,
        name: str,
        agents: Sequence[Agent],
        *,
        description: str = "",
        termination: TerminationCondition | None = None,
        max_turns: int | None = None,
        answer_agents: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            name,
            agents,
            description=description,
            termination=termination,
            # Handoffs take turns too: one round is too few for a swarm.
            max_turns=max_turns or (10 * len(agents) if termination is None else None),
            answer_agents=answer_agents,
        )
        names = set(self.by_name)
        issues = []
        for index, agent in enumerate(self.agents):
            for target in handoff_targets(agent):
                if target != "user" and target not in names:
                    issues.append(
                        ConfigIssue(
                            f"$.agents[{index}].handoffs", f"handoff to unknown agent {target!r}"
                        )
                    )
        first = self.agents[0]
        if len(self.agents) > 1 and not (
            isinstance(first, AssistantAgent) and handoff_targets(first)
        ):
            issues.append(
                ConfigIssue(
                    "$.agents[0].handoffs", f"the first agent {first.name!r} cannot hand off"
                )
            )
        if issues:
            raise ConfigError(issues)

    async def _next(
        self, state: RunState, run: RunContext
    ) -> tuple[Sequence[Agent], RunState] | None:
        if run.last and not isinstance(run.last[-1].end, HandedOff):
            return None  # the speaker answered: the user's turn
        speaker = self.by_name.get(state.current_speaker or "", self.agents[0])
        return [speaker], msgspec.structs.replace(state, current_speaker=speaker.name)

    def _after_turn(self, state: RunState, agent: Agent, outcome: AgentOutcome) -> RunState:
        match outcome.end:
            case HandedOff(target=target) if target in self.by_name:
                return msgspec.structs.replace(state, current_speaker=target)
        return state
