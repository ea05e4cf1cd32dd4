"""Teams: how agents take turns, and when a run stops."""

from troupe.teams._base import Team
from troupe.teams._state import RunProgress, RunResult, RunState
from troupe.teams.round_robin import RoundRobinTeam
from troupe.teams.termination import AllOf, AnyOf, MaxMessages, TerminationCondition, TextMention

__all__ = [
    "AllOf",
    "AnyOf",
    "MaxMessages",
    "RoundRobinTeam",
    "RunProgress",
    "RunResult",
    "RunState",
    "Team",
    "TerminationCondition",
    "TextMention",
]
