"""Agents: immutable definitions that take one turn at a time."""

from troupe.agents._assistant import AssistantAgent
from troupe.agents._base import (
    Agent,
    AgentOutcome,
    AgentTurn,
    Answered,
    AwaitingInput,
    Emit,
    HandedOff,
    Stopped,
    ToolsRequested,
    TurnEnd,
    new_message_id,
)
from troupe.agents._code_executor import CodeAssistantAgent, CodeExecutorAgent
from troupe.agents._context import ContextPolicy, apply_context_policy
from troupe.agents._filter import FilteredAgent, MessageFilter, filter_messages
from troupe.agents._handoff import Handoff
from troupe.agents._user_proxy import UserProxyAgent
from troupe.agents._view import model_view

__all__ = [
    "Agent",
    "AgentOutcome",
    "AgentTurn",
    "Answered",
    "AssistantAgent",
    "AwaitingInput",
    "CodeAssistantAgent",
    "CodeExecutorAgent",
    "ContextPolicy",
    "Emit",
    "FilteredAgent",
    "HandedOff",
    "Handoff",
    "MessageFilter",
    "Stopped",
    "ToolsRequested",
    "TurnEnd",
    "UserProxyAgent",
    "apply_context_policy",
    "filter_messages",
    "model_view",
    "new_message_id",
]
