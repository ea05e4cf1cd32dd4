"""The configuration schema: msgspec Structs that YAML is decoded into.

Unknown fields are errors (``forbid_unknown_fields``) so a typo never passes
silently. Cross-references (an agent's model, its tools) are checked when the
config is built, so every error can be reported with its path at once.
"""

from __future__ import annotations

__all__ = [
    "AgentSpec",
    "ConfigSpec",
    "EdgeSpec",
    "ExecutorSpec",
    "HandoffSpec",
    "ModelSpec",
    "SelectorSpec",
    "ServerSpec",
    "TeamSpec",
    "TerminationSpec",
    "TextMentionSpec",
    "TokenUsageSpec",
]

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from troupe.agents._context import ContextPolicy
from troupe.config.executors import ExecutorSpec
from troupe.config.models import ModelSpec

PositiveInt = Annotated[int, Meta(ge=1)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class _Spec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class HandoffSpec(_Spec, kw_only=True, frozen=True):
    target: str
    description: str = ""
    message: str = ""


class AgentSpec(_Spec, kw_only=True, frozen=True):
    """An agent. ``kind`` decides which of the other fields apply."""

    name: Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    kind: Literal["assistant", "user_proxy", "team", "code_executor"] = "assistant"
    description: str = ""
    # assistant
    model: str | None = None
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
    # user_proxy: what the human is asked
    prompt: str | None = None
    # team: another team of this config, taking part as one participant
    team: str | None = None
    # assistant: a ``run_code`` tool in this executor (a name under ``executors:``)
    code_executor: str | None = None
    # code_executor: the executor it runs code in; with ``model``, it writes the code too
    # and retries failed runs up to ``max_retries`` times
    executor: str | None = None
    max_retries: Annotated[int, Meta(ge=0)] = 3


class TextMentionSpec(_Spec, kw_only=True, frozen=True):
    text: Annotated[str, Meta(min_length=1)]
    sources: list[str] | None = None


class TokenUsageSpec(_Spec, kw_only=True, frozen=True):
    total: PositiveInt | None = None
    prompt: PositiveInt | None = None
    completion: PositiveInt | None = None


class TerminationSpec(_Spec, kw_only=True, frozen=True):
    """Conditions listed together stop the run when any of them fires.

    ``any:`` and ``all:`` nest lists of such mappings.
    """

    any: list[TerminationSpec] | None = None
    all: list[TerminationSpec] | None = None
    max_messages: PositiveInt | None = None
    text_mention: Annotated[str, Meta(min_length=1)] | TextMentionSpec | None = None
    stop_message: bool = False
    token_usage: TokenUsageSpec | None = None
    # The target of a handoff that ends the run, e.g. ``user``.
    handoff: str | None = None
    # Seconds of run time.
    timeout: Annotated[float, Meta(gt=0)] | None = None
    # Stop on ``POST /v1/conversations/{id}/stop``.
    external: bool = False
    source_match: list[str] | None = None
    # ``true`` for any agent's text message, or an agent's name.
    text_message: bool | str | None = None
    function_call: str | None = None


class SelectorSpec(_Spec, kw_only=True, frozen=True):
    model: str | None = None
    prompt: str | None = None
    allow_repeated_speaker: bool = False
    max_attempts: PositiveInt = 3
    # Import paths ``package.module:function``.
    selector_func: str | None = None
    candidate_func: str | None = None


class EdgeSpec(_Spec, kw_only=True, frozen=True, rename={"source": "from", "target": "to"}):
    source: str
    target: str
    # Taken only when the source's message contains this text.
    when: str | None = None
    # Or when this predicate ``package.module:function`` (message -> bool) is true.
    when_func: str | None = None


class TeamSpec(_Spec, kw_only=True, frozen=True):
    kind: Literal["round_robin", "selector", "swarm", "graph"] = "round_robin"
    description: str = ""
    agents: Annotated[list[AgentSpec], Meta(min_length=1)]
    termination: TerminationSpec | None = None
    max_turns: PositiveInt | None = None
    # The agents whose messages are the answer (``content``); default: all.
    answer_agents: list[str] | None = None
    # selector
    selector: SelectorSpec | None = None
    # graph
    edges: list[EdgeSpec] = []
    entry: list[str] | None = None
    activation: dict[str, Literal["all", "any"]] = {}


class ServerSpec(_Spec, kw_only=True, frozen=True):
    # Bearer keys accepted by the API; empty means no authentication.
    api_keys: list[str] = []
    max_body_bytes: PositiveInt = 8 * 1024 * 1024
    keepalive_seconds: Annotated[float, Meta(gt=0)] = 15.0
    cors_origins: list[str] = []
    # Where conversations are kept: ``sqlite:///path.db`` (relative to the working
    # directory), ``postgresql://user:password@host:5432/db`` (several replicas), or
    # ``memory``. Unset: ``sqlite:///.troupe/troupe.db`` for a config file, memory for
    # teams built in Python. ``TROUPE_DATABASE_URL`` overrides it.
    database_url: str | None = None
    # A request for a conversation that another request is advancing: ``reject`` it
    # (409 ``conversation_busy``) or ``enqueue`` it (wait up to ``busy_wait_seconds``).
    busy_policy: Literal["reject", "enqueue"] = "reject"
    busy_wait_seconds: Annotated[float, Meta(gt=0)] = 30.0
    # Conversations unused this long are deleted; unset: kept until deleted.
    conversation_ttl_seconds: Annotated[float, Meta(gt=0)] | None = None
    # A conversation whose stored transcript is this large takes no more messages (413).
    max_transcript_bytes: PositiveInt | None = 16 * 1024 * 1024
    # How long a conversation stays busy after the process advancing it died (leases
    # of live processes are renewed every third of this).
    lease_seconds: Annotated[float, Meta(ge=1)] = 30.0
    # A client that goes away while its run goes on: ``cancel`` the run (a plain client's
    # Stop button stops the team) or let it ``continue`` (then follow it again with
    # GET /v1/runs/{id}/stream). A request with ``"background": true`` always continues.
    on_disconnect: Literal["cancel", "continue"] = "cancel"
    # Runs and their event logs are kept this long after they end (and go with their
    # conversation when it is deleted or expires).
    run_retention_seconds: Annotated[float, Meta(gt=0)] = 7 * 24 * 3600.0
    # How often a run's events are written while no step ends (what a follower on another
    # replica waits at most).
    run_log_flush_seconds: Annotated[float, Meta(gt=0)] = 0.25
    # On SIGTERM, runs in progress get this long to finish; background runs still going
    # then are left, checkpointed, for another replica.
    shutdown_grace_seconds: Annotated[float, Meta(ge=0)] = 30.0


class ConfigSpec(_Spec, kw_only=True, frozen=True):
    models: dict[str, ModelSpec] = {}
    executors: dict[Annotated[str, Meta(pattern=NAME_PATTERN)], ExecutorSpec] = {}
    teams: dict[Annotated[str, Meta(pattern=NAME_PATTERN)], TeamSpec] = {}
    server: ServerSpec = ServerSpec()
