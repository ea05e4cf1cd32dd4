"""Teams: how agents take turns, and when a run stops."""

from troupe.teams._base import RunContext, RunControl, Team
from troupe.teams._nested import TeamAgent, TeamTool
from troupe.teams._state import (
    GraphProgress,
    PendingInput,
    RunInFlight,
    RunOptions,
    RunProgress,
    RunResult,
    RunState,
    RunStatus,
    StepEnd,
    settle,
)
from troupe.teams.graph import Edge, GraphTeam
from troupe.teams.magentic import MagenticOneTeam
from troupe.teams.round_robin import RoundRobinTeam
from troupe.teams.selector import DEFAULT_SELECTOR_PROMPT, SelectorTeam
from troupe.teams.society import SocietyOfMindAgent
from troupe.teams.swarm import SwarmTeam
from troupe.teams.termination import (
    AllOf,
    AnyOf,
    External,
    Functional,
    FunctionCall,
    Handoff,
    MaxMessages,
    SourceMatch,
    StopMessage,
    TerminationCondition,
    TextMention,
    TextMessage,
    Timeout,
    TokenUsage,
)

__all__ = [
    "DEFAULT_SELECTOR_PROMPT",
    "AllOf",
    "AnyOf",
    "Edge",
    "External",
    "FunctionCall",
    "Functional",
    "GraphProgress",
    "GraphTeam",
    "Handoff",
    "MagenticOneTeam",
    "MaxMessages",
    "PendingInput",
    "RoundRobinTeam",
    "RunContext",
    "RunControl",
    "RunInFlight",
    "RunOptions",
    "RunProgress",
    "RunResult",
    "RunState",
    "RunStatus",
    "SelectorTeam",
    "SocietyOfMindAgent",
    "SourceMatch",
    "StepEnd",
    "StopMessage",
    "SwarmTeam",
    "Team",
    "TeamAgent",
    "TeamTool",
    "TerminationCondition",
    "TextMention",
    "TextMessage",
    "Timeout",
    "TokenUsage",
    "settle",
]
