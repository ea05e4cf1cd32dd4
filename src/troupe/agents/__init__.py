"""Agents: immutable definitions that take one turn at a time."""

from troupe.agents._assistant import AssistantAgent
from troupe.agents._base import Agent, AgentOutcome, AgentTurn, Emit, new_message_id
from troupe.agents._handoff import Handoff
from troupe.agents._user_proxy import UserProxyAgent
from troupe.agents._view import model_view

__all__ = [
    "Agent",
    "AgentOutcome",
    "AgentTurn",
    "AssistantAgent",
    "Emit",
    "Handoff",
    "UserProxyAgent",
    "model_view",
    "new_message_id",
]
