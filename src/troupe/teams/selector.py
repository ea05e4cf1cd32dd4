"""Selector: a model (or a Python function) picks who speaks next.

The model reads the agents' names and descriptions and the history, through
``selector_prompt`` (fields ``{roles}``, ``{participants}``, ``{history}``),
and answers with a name. A reply that names nobody valid is retried with
feedback up to ``max_selector_attempts`` times, then the previous speaker (or
the first candidate) speaks. The choice is a ``speaker_selected`` event and
the selector's tokens count in the run's usage.
"""

from __future__ import annotations

__all__ = ["DEFAULT_SELECTOR_PROMPT", "SelectorTeam"]

import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import msgspec

from troupe.agents import Agent
from troupe.errors import ConfigError, ConfigIssue
from troupe.events import SpeakerSelected
from troupe.messages import Message, SystemMessage, UserMessage, text_of
from troupe.models import ChatModel, ModelRequest, complete
from troupe.teams._base import RunContext, Team
from troupe.teams._state import RunState
from troupe.teams.termination import TerminationCondition

DEFAULT_SELECTOR_PROMPT = """You are in a role play game. The following roles are available:
{roles}.
Read the following conversation. Then select the next role from {participants} to play. Only return the role.

{history}

Read the above conversation. Then select the next role from {participants} to play. Only return the role."""

History = Sequence[Message]
SelectorFunc = Callable[[History], str | Awaitable[str | None] | None]
CandidateFunc = Callable[[History], Sequence[str] | Awaitable[Sequence[str]]]


T = TypeVar("T")


async def _maybe_await(value: T | Awaitable[T]) -> T:
    if inspect.isawaitable(value):
        return await value
    return value


class SelectorTeam(Team):
    kind = "selector"

    def __init__(
        self,
        name: str,
        agents: Sequence[Agent],
        *,
        model: ChatModel | None = None,
        selector_prompt: str = DEFAULT_SELECTOR_PROMPT,
        allow_repeated_speaker: bool = False,
        max_selector_attempts: int = 3,
        selector_func: SelectorFunc | None = None,
        candidate_func: CandidateFunc | None = None,
        description: str = "",
        termination: TerminationCondition | None = None,
        max_turns: int | None = None,
        answer_agents: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            name,
            agents,
            description=description,
            termination=termination,
            max_turns=max_turns,
            answer_agents=answer_agents,
        )
        if len(self.agents) < 2:
            raise ConfigError(
                ConfigIssue(
                    "$.agents", f"a selector team needs at least two agents, {name!r} has one"
                )
            )
        if model is None and selector_func is None:
            raise ConfigError(
                ConfigIssue("$.model", f"selector team {name!r} needs a model or a selector_func")
            )
        if max_selector_attempts < 1:
            raise ConfigError(ConfigIssue("$.max_selector_attempts", "must be at least 1"))
        self.model = model
        self.selector_prompt = selector_prompt
        self.allow_repeated_speaker = allow_repeated_speaker
        self.max_selector_attempts = max_selector_attempts
        self.selector_func = selector_func
        self.candidate_func = candidate_func

    async def _next(self, state: RunState, run: RunContext) -> tuple[Sequence[Agent], RunState]:
        chosen, reason = await self._choose(state, run)
        await run.emit(SpeakerSelected(agent=chosen, team=self.name, reason=reason))
        return [self.by_name[chosen]], msgspec.structs.replace(state, current_speaker=chosen)

    async def _choose(self, state: RunState, run: RunContext) -> tuple[str, str]:
        history = state.transcript
        if self.selector_func is not None:
            picked = await _maybe_await(self.selector_func(history))
            if picked in self.by_name:
                return picked, "selector_func"
        candidates = await self._candidates(state)
        if len(candidates) == 1:
            return candidates[0], "only candidate"
        if self.model is None:
            return candidates[0], "first candidate"
        return await self._ask_model(history, candidates, state, run)

    async def _candidates(self, state: RunState) -> list[str]:
        if self.candidate_func is not None:
            names = [
                n
                for n in await _maybe_await(self.candidate_func(state.transcript))
                if n in self.by_name
            ]
            if names:
                return names
        names = list(self.by_name)
        if not self.allow_repeated_speaker and state.current_speaker in names and len(names) > 1:
            names.remove(state.current_speaker)
        return names

    async def _ask_model(
        self, history: History, candidates: list[str], state: RunState, run: RunContext
    ) -> tuple[str, str]:
        assert self.model is not None
        prompt = self.selector_prompt.format(
            roles="\n".join(
                f"{a.name}: {a.description}" for a in self.agents if a.name in candidates
            ),
            participants=str(candidates),
            history="\n\n".join(f"{m.source}: {text_of(m)}" for m in history if text_of(m)),
        )
        messages: list[Message] = [SystemMessage(content=prompt, source=self.name)]
        for _ in range(self.max_selector_attempts):
            response = await complete(self.model, ModelRequest(messages=tuple(messages)))
            await run.add_usage(f"{self.name}.selector", response.usage)
            named = _mentioned(response.content, candidates)
            if len(named) == 1:
                return named[0], "selected by the model"
            feedback = (
                f"You named several roles: {named}. Name exactly one of {candidates}."
                if named
                else f"No valid role in your answer. Name exactly one of {candidates}."
            )
            messages += [
                UserMessage(content=response.content or "(empty)", source=self.name),
                UserMessage(content=feedback),
            ]
        fallback = state.current_speaker if state.current_speaker in candidates else candidates[0]
        return fallback, f"fallback after {self.max_selector_attempts} attempts"


def _mentioned(text: str, candidates: Sequence[str]) -> list[str]:
    found = []
    for name in candidates:
        if re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text):
            found.append(name)
    return found
