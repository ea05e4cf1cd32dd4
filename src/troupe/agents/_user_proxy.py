"""``UserProxyAgent``: an agent that stands for the human.

When it is its turn the run pauses: the stream ends with an
``input_requested`` event, and the next user message in the conversation is
this agent's message; the run resumes where it stopped. No server task ever
waits for a human.
"""

from __future__ import annotations

__all__ = ["UserProxyAgent"]

from troupe.agents._base import AgentOutcome, AgentTurn, AwaitingInput, Emit
from troupe.errors import ConfigError, ConfigIssue

DEFAULT_PROMPT = "Your turn: reply to continue."


class UserProxyAgent:
    def __init__(
        self,
        name: str = "user_proxy",
        *,
        description: str = "A human user.",
        prompt: str = DEFAULT_PROMPT,
    ):
        if not name.isidentifier():
            raise ConfigError(ConfigIssue("$.name", f"agent name {name!r} must be an identifier"))
        self._name = name
        self._description = description
        self.prompt = prompt

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return self._description

    def __repr__(self) -> str:
        return f"UserProxyAgent({self._name!r})"

    async def run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome:
        return AgentOutcome(messages=(), end=AwaitingInput(prompt=self.prompt))
