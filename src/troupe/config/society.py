"""``kind: society_of_mind`` agents in config: the spec and its builder (wired in
agents.py / build.py)."""

from __future__ import annotations

__all__ = ["SocietyOfMindAgentSpec", "build_society_of_mind"]

from typing import TYPE_CHECKING, ClassVar, Literal

from troupe.agents import Agent
from troupe.config.agents import _AgentBase
from troupe.teams import SocietyOfMindAgent
from troupe.teams.society import DEFAULT_INSTRUCTION, DEFAULT_RESPONSE_PROMPT

if TYPE_CHECKING:
    from troupe.config.build import _Builder


class SocietyOfMindAgentSpec(_AgentBase, tag="society_of_mind", kw_only=True, frozen=True):
    """Another team of this config works on the conversation; ``model`` answers from its work."""

    kind: ClassVar[Literal["society_of_mind"]] = "society_of_mind"
    team: str
    model: str
    # Said before the inner team's messages, and after them (what to write).
    instruction: str = DEFAULT_INSTRUCTION
    response_prompt: str = DEFAULT_RESPONSE_PROMPT


def build_society_of_mind(b: _Builder, spec: SocietyOfMindAgentSpec, path: str) -> Agent | None:
    inner = b.team(spec.team, f"{path}.team")
    model = b.model(spec.model, f"{path}.model")
    if inner is None or model is None:
        return None
    return SocietyOfMindAgent(
        spec.name,
        inner,
        model,
        instruction=spec.instruction,
        response_prompt=spec.response_prompt,
        description=spec.description or f"Answers with the help of the team {spec.team!r}.",
    )
