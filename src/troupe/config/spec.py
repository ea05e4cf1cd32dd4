"""The configuration schema: msgspec Structs that YAML is decoded into.

Unknown fields are errors (``forbid_unknown_fields``) so a typo never passes
silently. Teams, agents and executors are tagged unions on ``kind``: each kind
is a Struct with its own fields, so a field of another kind (``edges:`` on a
round-robin team) is an error at its path too. A mapping without ``kind`` is
of the first kind of its union (``round_robin``, ``assistant``, ``docker``).
Decoding (``troupe.config.load``) reports every field error at once, and
cross-references (an agent's model, its tools) are checked when the config
is built (``troupe.config.build``), also all at once.

Adding a kind of team (agents alike, in ``troupe.config.agents``):

1. a Struct ``class MyTeamSpec(_TeamBase, tag="my_kind", kw_only=True,
   frozen=True)`` with ``kind: ClassVar[Literal["my_kind"]] = "my_kind"`` and
   the fields only that kind has;
2. its name in the ``TeamSpec`` union below (and in ``__all__``);
3. a function building it, registered in ``build.py``'s ``TEAM_BUILDERS``
   (``AGENT_BUILDERS`` for an agent kind);
4. a row in docs/configuration.md.

A field that every kind has goes in ``_TeamBase`` (``_AgentBase``).
"""

from __future__ import annotations

__all__ = [
    "AgentSpec",
    "AssistantAgentSpec",
    "CodeExecutorAgentSpec",
    "ConfigSpec",
    "EdgeSpec",
    "ExecutorSpec",
    "GraphTeamSpec",
    "HandoffSpec",
    "MagenticOneTeamSpec",
    "MetricsSpec",
    "ModelSpec",
    "RoundRobinTeamSpec",
    "SelectorSpec",
    "SelectorTeamSpec",
    "ServerSpec",
    "SwarmTeamSpec",
    "TeamAgentSpec",
    "TeamSpec",
    "TerminationSpec",
    "TextMentionSpec",
    "TokenUsageSpec",
    "UserProxyAgentSpec",
]

from typing import Annotated, ClassVar, Literal, TypeAlias

import msgspec
from msgspec import Meta

from troupe.config.agents import (
    AgentSpec,
    AssistantAgentSpec,
    CodeExecutorAgentSpec,
    HandoffSpec,
    TeamAgentSpec,
    UserProxyAgentSpec,
)
from troupe.config.executors import ExecutorSpec
from troupe.config.mcp import SERVER_NAME, McpServerSpec
from troupe.config.memory import MemorySpec
from troupe.config.models import ModelSpec

PositiveInt = Annotated[int, Meta(ge=1)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class _Spec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


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
    # A predicate ``package.module:function`` (the run's messages -> bool).
    function: str | None = None


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
    # GraphFlow's activation group: the target runs when all (or any) edges of a group fired.
    group: str | None = None
    activation: Literal["all", "any"] | None = None


class _TeamBase(_Spec, kw_only=True, frozen=True, tag_field="kind"):
    """The fields every kind of team has. ``kind`` is the tag, also readable as ``.kind``."""

    kind: ClassVar[str]
    description: str = ""
    agents: Annotated[list[AgentSpec], Meta(min_length=1)]
    termination: TerminationSpec | None = None
    max_turns: PositiveInt | None = None
    # The agents whose messages are the answer (``content``); default: all.
    answer_agents: list[str] | None = None


class RoundRobinTeamSpec(_TeamBase, tag="round_robin", kw_only=True, frozen=True):
    """Agents speak in turn (the default kind)."""

    kind: ClassVar[Literal["round_robin"]] = "round_robin"


class SelectorTeamSpec(_TeamBase, tag="selector", kw_only=True, frozen=True):
    """A model (or a function) picks who speaks next."""

    kind: ClassVar[Literal["selector"]] = "selector"
    selector: SelectorSpec


class SwarmTeamSpec(_TeamBase, tag="swarm", kw_only=True, frozen=True):
    """The speaker hands off to the next one; the first agent speaks first."""

    kind: ClassVar[Literal["swarm"]] = "swarm"


class GraphTeamSpec(_TeamBase, tag="graph", kw_only=True, frozen=True):
    """Agents run along the edges of a directed graph, parallel branches at once."""

    kind: ClassVar[Literal["graph"]] = "graph"
    edges: list[EdgeSpec] = []
    # The agents that start; default: those no edge leads to.
    entry: list[str] | None = None
    # A node with several parents waits for ``all`` of them (default) or ``any``.
    activation: dict[str, Literal["all", "any"]] = {}


from troupe.config.magentic import MagenticOneTeamSpec  # noqa: E402  (it extends _TeamBase)

# The first member is the kind of a team without ``kind:``.
TeamSpec: TypeAlias = (
    RoundRobinTeamSpec | SelectorTeamSpec | SwarmTeamSpec | GraphTeamSpec | MagenticOneTeamSpec
)


class MetricsSpec(_Spec, kw_only=True, frozen=True):
    """Prometheus metrics: ``GET /metrics`` on the API's port, or on ``port`` of its own."""

    enabled: bool = False
    # A port of its own for ``/metrics`` (0: any free port); unset: the API's port.
    port: Annotated[int, Meta(ge=0, le=65535)] | None = None
    host: str = "127.0.0.1"


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
    run_log_flush_seconds: Annotated[float, Meta(gt=0)] = 1.0
    # On SIGTERM, runs in progress get this long to finish; background runs still going
    # then are left, checkpointed, for another replica.
    shutdown_grace_seconds: Annotated[float, Meta(ge=0)] = 30.0
    metrics: MetricsSpec = MetricsSpec()
    # The studio at ``/studio``: on loopback without keys, elsewhere behind the API keys.
    studio: bool = True
    # Where API keys' request and token counts are kept: ``memory://`` (this replica) or
    # ``redis://host:6379/0`` (shared by every replica; needs the ``redis`` extra).
    rate_limit_storage: Annotated[str, Meta(pattern=r"^(memory|redis|rediss)://")] = "memory://"
    # Stored keys are looked up again after this long: a revoked key stops working on
    # every replica within it.
    key_cache_seconds: Annotated[float, Meta(ge=0)] = 2.0


class ConfigSpec(_Spec, kw_only=True, frozen=True):
    models: dict[str, ModelSpec] = {}
    executors: dict[Annotated[str, Meta(pattern=NAME_PATTERN)], ExecutorSpec] = {}
    teams: dict[Annotated[str, Meta(pattern=NAME_PATTERN)], TeamSpec] = {}
    server: ServerSpec = ServerSpec()
    mcp_servers: dict[Annotated[str, Meta(pattern=SERVER_NAME)], McpServerSpec] = {}
    # Agent memories by name (``memory: [name]`` on an assistant): list or vector.
    memories: dict[Annotated[str, Meta(pattern=NAME_PATTERN)], MemorySpec] = {}
