"""The agents of a team in config: one Struct per ``kind``, ``AgentSpec`` their union.

A field belongs to the kinds that use it: ``prompt:`` on an assistant, or
``tools:`` on a user proxy, is an error at its path, never silently ignored.
See ``troupe.config.spec`` for how to add a kind.
"""

from __future__ import annotations

__all__ = [
    "AgentSpec",
    "AssistantAgentSpec",
    "CodeExecutorAgentSpec",
    "HandoffSpec",
    "SocietyOfMindAgentSpec",
    "TeamAgentSpec",
    "UserProxyAgentSpec",
]

from typing import Annotated, Any, ClassVar, Literal, TypeAlias

import msgspec
from msgspec import Meta

from troupe.agents._code_executor import DEFAULT_CODER_MESSAGE
from troupe.agents._context import ContextPolicy
from troupe.agents._filter import MessageFilter, PerSourceFilters
from troupe.agents._user_proxy import DEFAULT_PROMPT

PositiveInt = Annotated[int, Meta(ge=1)]
AgentName = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class HandoffSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    target: str
    description: str = ""
    message: str = ""


class _AgentBase(
    msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True, tag_field="kind"
):
    """The fields every kind of agent has. ``kind`` is the tag, also readable as ``.kind``."""

    kind: ClassVar[str]
    name: AgentName
    description: str = ""
    # What the agent sees: per source, the first or last N messages (others: none).
    # Also in AutoGen's shape, {per_source: [...]}.
    message_filter: list[MessageFilter] | PerSourceFilters | None = None


class AssistantAgentSpec(_AgentBase, tag="assistant", kw_only=True, frozen=True):
    """A model-backed agent (the default kind): tools, handoffs, structured output."""

    kind: ClassVar[Literal["assistant"]] = "assistant"
    model: str
    system_message: str | None = "You are a helpful assistant."
    tools: list[str] = []
    # Other teams of this config the agent may call as tools (with a ``task``).
    team_tools: list[str] = []
    handoffs: list[str | HandoffSpec] = []
    # Give the agent a ``stop_run`` tool (see the ``stop_message`` condition).
    stop_tool: bool = False
    max_tool_iterations: PositiveInt = 1
    reflect_on_tool_use: bool = True
    # What the model sees: {last_messages: N} and/or {token_budget: N}; default all.
    context: ContextPolicy = ContextPolicy()
    # Structured output: the JSON schema the agent's answer must match.
    output_schema: dict[str, Any] | None = None
    tool_call_summary_format: str = "{result}"
    # A ``run_code`` tool in this executor (a name under ``executors:``).
    code_executor: str | None = None
    # Whether the agent may call the function tools a client passes in its request.
    client_tools: bool = True
    # Memories (names under ``memories:``) queried before each turn.
    memory: list[str] = []


class UserProxyAgentSpec(_AgentBase, tag="user_proxy", kw_only=True, frozen=True):
    """The human: on its turn the run pauses and asks ``prompt``."""

    kind: ClassVar[Literal["user_proxy"]] = "user_proxy"
    prompt: str = DEFAULT_PROMPT


class TeamAgentSpec(_AgentBase, tag="team", kw_only=True, frozen=True):
    """Another team of this config, taking part as one participant."""

    kind: ClassVar[Literal["team"]] = "team"
    team: str


class CodeExecutorAgentSpec(_AgentBase, tag="code_executor", kw_only=True, frozen=True):
    """Runs the code blocks of the previous message in ``executor``; with ``model``, it
    writes the code too and retries failed runs up to ``max_retries`` times."""

    kind: ClassVar[Literal["code_executor"]] = "code_executor"
    executor: str
    model: str | None = None
    system_message: str | None = DEFAULT_CODER_MESSAGE
    max_retries: Annotated[int, Meta(ge=0)] = 3


from troupe.config.society import SocietyOfMindAgentSpec  # noqa: E402  (it extends _AgentBase)

# The first member is the kind of an agent without ``kind:``.
AgentSpec: TypeAlias = (
    AssistantAgentSpec
    | UserProxyAgentSpec
    | TeamAgentSpec
    | CodeExecutorAgentSpec
    | SocietyOfMindAgentSpec
)
