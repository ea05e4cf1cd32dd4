"""troupe: multi-agent teams behind an OpenAI-compatible API.

The names below are imported on first use, so ``import troupe.adapters...``
or ``troupe.wire`` in a client process does not load the server or the teams.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Agent": "troupe.agents",
    "AssistantAgent": "troupe.agents",
    "UserProxyAgent": "troupe.agents",
    "ChatModel": "troupe.models",
    "FunctionModel": "troupe.models",
    "ScriptedModel": "troupe.models",
    "ConfigError": "troupe.errors",
    "TroupeError": "troupe.errors",
    "Event": "troupe.events",
    "Message": "troupe.messages",
    "Usage": "troupe.messages",
    "TroupePlugin": "troupe.server",
    "create_app": "troupe.server",
    "GraphTeam": "troupe.teams",
    "MaxMessages": "troupe.teams",
    "RoundRobinTeam": "troupe.teams",
    "RunState": "troupe.teams",
    "SelectorTeam": "troupe.teams",
    "SwarmTeam": "troupe.teams",
    "Team": "troupe.teams",
    "TextMention": "troupe.teams",
    "Tool": "troupe.tools",
    "function_tool": "troupe.tools",
}

__all__ = [
    "Agent",
    "AssistantAgent",
    "ChatModel",
    "ConfigError",
    "Event",
    "FunctionModel",
    "GraphTeam",
    "MaxMessages",
    "Message",
    "RoundRobinTeam",
    "RunState",
    "ScriptedModel",
    "SelectorTeam",
    "SwarmTeam",
    "Team",
    "TextMention",
    "Tool",
    "TroupeError",
    "TroupePlugin",
    "Usage",
    "UserProxyAgent",
    "__version__",
    "create_app",
    "function_tool",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'troupe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from troupe.agents import Agent, AssistantAgent, UserProxyAgent
    from troupe.errors import ConfigError, TroupeError
    from troupe.events import Event
    from troupe.messages import Message, Usage
    from troupe.models import ChatModel, FunctionModel, ScriptedModel
    from troupe.server import TroupePlugin, create_app
    from troupe.teams import (
        GraphTeam,
        MaxMessages,
        RoundRobinTeam,
        RunState,
        SelectorTeam,
        SwarmTeam,
        Team,
        TextMention,
    )
    from troupe.tools import Tool, function_tool
