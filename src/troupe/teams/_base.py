"""The team run loop, shared by every kind of team.

``Team.run`` reads top to bottom: append the user's new messages, then turn
after turn pick a speaker, let it take its turn, check the termination
condition. A team is an immutable definition; the conversation lives in the
``RunState`` it is given and returns. Errors never escape as exceptions: they
become a ``RunFailed`` event and a ``RunResult`` whose state is the one from
before the run, so a failed run leaves the conversation as it was.
"""

from __future__ import annotations

__all__ = ["Team"]

import logging
import time
from collections.abc import Sequence

import msgspec

from troupe.agents import Agent, AgentTurn, Emit
from troupe.errors import ConfigError, ConfigIssue, RunError, TroupeError
from troupe.events import RunEnded, RunFailed
from troupe.messages import AssistantMessage, Message, Usage
from troupe.teams._state import RunProgress, RunResult, RunState
from troupe.teams.termination import TerminationCondition

logger = logging.getLogger("troupe.teams")

# Without a termination condition a team stops after one round; with one, this
# many turns is the safety net against a condition that never fires.
DEFAULT_MAX_TURNS = 50


class Team:
    """Base of all teams. Subclasses choose the next speaker (``_select``)."""

    kind = "team"

    def __init__(
        self,
        name: str,
        agents: Sequence[Agent],
        *,
        description: str = "",
        termination: TerminationCondition | None = None,
        max_turns: int | None = None,
        answer_agents: Sequence[str] | None = None,
    ) -> None:
        if not agents:
            raise ConfigError(ConfigIssue("$.agents", f"team {name!r} has no agents"))
        names = [agent.name for agent in agents]
        for agent_name in names:
            if names.count(agent_name) > 1:
                raise ConfigError(
                    ConfigIssue("$.agents", f"team {name!r} has two agents named {agent_name!r}")
                )
        unknown = sorted(set(answer_agents or ()) - set(names))
        if unknown:
            raise ConfigError(
                ConfigIssue(
                    "$.answer_agents", f"unknown agent {unknown[0]!r} (agents: {', '.join(names)})"
                )
            )
        self.name = name
        self.agents = tuple(agents)
        self.description = description or f"A {self.kind} team of {', '.join(names)}."
        self.termination = termination
        self.max_turns = max_turns or (
            len(self.agents) if termination is None else DEFAULT_MAX_TURNS
        )
        self.answer_agents = frozenset(answer_agents) if answer_agents else None

    @property
    def speaker_lines(self) -> bool:
        """Whether answers start with the speaker's name (more than one agent answers)."""
        answering = self.answer_agents if self.answer_agents is not None else self.agents
        return len(answering) > 1

    def new_state(self, conversation_id: str) -> RunState:
        return RunState(conversation_id=conversation_id, team=self.name)

    def _select(self, state: RunState) -> tuple[Agent, RunState]:
        raise NotImplementedError

    async def run(self, state: RunState, new_messages: Sequence[Message], emit: Emit) -> RunResult:
        """Run the team on ``new_messages``; events go to ``emit``."""
        started = time.monotonic()
        before = state
        run_messages: list[Message] = list(new_messages)
        state = msgspec.structs.replace(state, transcript=state.transcript + tuple(new_messages))
        usage = Usage()
        turns = 0
        stop_reason: str | None = None
        try:
            while stop_reason is None:
                if turns >= self.max_turns:
                    stop_reason = f"maximum number of turns {self.max_turns} reached"
                    break
                agent, state = self._select(state)
                outcome = await agent.run(
                    AgentTurn(transcript=state.transcript, conversation_id=state.conversation_id),
                    emit,
                )
                state = msgspec.structs.replace(
                    state, transcript=state.transcript + outcome.messages
                )
                usage += outcome.usage
                turns += 1
                final = _final_message(outcome.messages)
                if final is not None:
                    run_messages.append(final)
                if self.termination is not None:
                    progress = RunProgress(
                        messages=tuple(run_messages),
                        usage=usage,
                        turns=turns,
                        elapsed=time.monotonic() - started,
                    )
                    stop_reason = self.termination.check(progress)
        except TroupeError as err:
            return await self._fail(before, err, usage, turns, started, emit)
        except Exception as exc:  # a bug in an agent or a model: report it, keep serving
            logger.exception("team %r failed", self.name)
            failure = RunError(
                f"team '{self.name}' failed: {type(exc).__name__}: {exc}", code="internal_error"
            )
            return await self._fail(before, failure, usage, turns, started, emit)
        duration_ms = int((time.monotonic() - started) * 1000)
        state = msgspec.structs.replace(
            state, usage=state.usage + usage, turns=state.turns + turns, runs=state.runs + 1
        )
        await emit(
            RunEnded(
                agent=self.name,
                stop_reason=stop_reason,
                conversation_id=state.conversation_id,
                usage=usage,
                turns=turns,
                duration_ms=duration_ms,
            )
        )
        return RunResult(
            state=state, stop_reason=stop_reason, usage=usage, turns=turns, duration_ms=duration_ms
        )

    async def _fail(
        self,
        before: RunState,
        err: TroupeError,
        usage: Usage,
        turns: int,
        started: float,
        emit: Emit,
    ) -> RunResult:
        await emit(RunFailed(agent=self.name, code=err.code or "error", message=err.message))
        return RunResult(
            state=before,
            stop_reason=f"error: {err.message}",
            usage=usage,
            turns=turns,
            duration_ms=int((time.monotonic() - started) * 1000),
            error=err,
        )


def _final_message(messages: Sequence[Message]) -> Message | None:
    for message in reversed(messages):
        if isinstance(message, AssistantMessage) and not message.tool_calls:
            return message
    return messages[-1] if messages else None
