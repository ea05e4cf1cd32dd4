"""The configuration schema: msgspec Structs that YAML is decoded into.

Unknown fields are errors (``forbid_unknown_fields``) so a typo never passes
silently. Cross-references (an agent's model, its tools) are checked when the
config is built, so every error can be reported with its path at once.
"""

from __future__ import annotations

__all__ = [
    "AgentSpec",
    "ConfigSpec",
    "ModelSpec",
    "ServerSpec",
    "TeamSpec",
    "TerminationSpec",
    "TextMentionSpec",
]

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from troupe.config.models import ModelSpec

PositiveInt = Annotated[int, Meta(ge=1)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class _Spec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class AgentSpec(_Spec, kw_only=True, frozen=True):
    name: Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    kind: Literal["assistant"] = "assistant"
    model: str
    description: str = ""
    system_message: str | None = "You are a helpful assistant."
    tools: list[str] = []
    max_tool_iterations: PositiveInt = 1
    reflect_on_tool_use: bool = True
    tool_call_summary_format: str = "{result}"


class TextMentionSpec(_Spec, kw_only=True, frozen=True):
    text: Annotated[str, Meta(min_length=1)]
    sources: list[str] | None = None


class TerminationSpec(_Spec, kw_only=True, frozen=True):
    """Conditions listed together stop the run when any of them fires."""

    max_messages: PositiveInt | None = None
    text_mention: Annotated[str, Meta(min_length=1)] | TextMentionSpec | None = None


class TeamSpec(_Spec, kw_only=True, frozen=True):
    kind: Literal["round_robin"] = "round_robin"
    description: str = ""
    agents: Annotated[list[AgentSpec], Meta(min_length=1)]
    termination: TerminationSpec | None = None
    max_turns: PositiveInt | None = None
    # The agents whose messages are the answer (``content``); default: all.
    answer_agents: list[str] | None = None


class ServerSpec(_Spec, kw_only=True, frozen=True):
    # Bearer keys accepted by the API; empty means no authentication.
    api_keys: list[str] = []
    max_body_bytes: PositiveInt = 8 * 1024 * 1024
    keepalive_seconds: Annotated[float, Meta(gt=0)] = 15.0
    cors_origins: list[str] = []


class ConfigSpec(_Spec, kw_only=True, frozen=True):
    models: dict[str, ModelSpec] = {}
    teams: dict[Annotated[str, Meta(pattern=NAME_PATTERN)], TeamSpec] = {}
    server: ServerSpec = ServerSpec()
