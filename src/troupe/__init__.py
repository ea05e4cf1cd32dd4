"""troupe: multi-agent teams behind an OpenAI-compatible API."""

from troupe.agents import Agent, AssistantAgent
from troupe.errors import ConfigError, TroupeError
from troupe.events import Event
from troupe.messages import Message, Usage
from troupe.models import ChatModel, FunctionModel, ScriptedModel
from troupe.server import TroupePlugin, create_app
from troupe.teams import MaxMessages, RoundRobinTeam, RunState, Team, TextMention
from troupe.tools import Tool, function_tool

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AssistantAgent",
    "ChatModel",
    "ConfigError",
    "Event",
    "FunctionModel",
    "MaxMessages",
    "Message",
    "RoundRobinTeam",
    "RunState",
    "ScriptedModel",
    "Team",
    "TextMention",
    "Tool",
    "TroupeError",
    "TroupePlugin",
    "Usage",
    "__version__",
    "create_app",
    "function_tool",
]
