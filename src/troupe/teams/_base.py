"""The team run loop, shared by every kind of team.

``Team.run`` reads top to bottom: take the user's new messages (answering a
pending question if there is one), then step after step ask the team's
speaker policy who speaks next (``_next``), let them take their turns, and
look at what came back: a pause for the human, a handoff, or a termination
condition that fired. Kinds of team differ only in their policy (``_next``,
``_after_turn``); none copies the loop.

A team is an immutable definition; the conversation lives in the
``RunState`` it is given and returns. Errors never escape as exceptions:
they become a ``RunFailed`` event and a ``RunResult`` whose state is the one
from before the run, so a failed run leaves the conversation as it was.
"""

from __future__ import annotations

__all__ = ["RunContext", "Team"]

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

import anyio
import msgspec

from troupe.agents import Agent, AgentOutcome, AgentTurn, Emit
from troupe.errors import ConfigError, ConfigIssue, RunError, TroupeError
from troupe.events import InputRequested, RunEnded, RunFailed, UsageReported
from troupe.messages import AssistantMessage, Message, Usage, UserMessage, text_of
from troupe.teams._state import PendingInput, RunProgress, RunResult, RunState
from troupe.teams.termination import TerminationCondition

logger = logging.getLogger("troupe.teams")

# Without a termination condition a team stops after one round; with one, this
# many turns is the safety net against a condition that never fires.
DEFAULT_MAX_TURNS = 50

StopCheck = Callable[[], Awaitable[bool]]


class RunContext:
    """What a speaker policy may use during a run: the events, and the run's usage."""

    def __init__(self, team: str, emit: Emit) -> None:
        self.team = team
        self.emit = emit
        self.usage = Usage()
        self.messages: list[Message] = []
        # The outcomes of the last step, in speaker order (empty before the first step).
        self.last: list[tuple[Agent, AgentOutcome]] = []
        # The run continues a paused one (the user answered a pending question).
        self.resumed = False

    async def add_usage(self, agent: str, usage: Usage) -> None:
        """Count a model call the team itself made (a speaker selector's)."""
        self.usage += usage
        await self.emit(UsageReported(agent=agent, usage=usage))


class Team:
    """Base of all teams. Subclasses choose who speaks next (``_next``)."""

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
        self.by_name = {agent.name: agent for agent in self.agents}
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

    # --- the speaker policy -----------------------------------------------------------

    async def _next(
        self, state: RunState, run: RunContext
    ) -> tuple[Sequence[Agent], RunState] | None:
        """Who speaks next (several agents run concurrently), or None when the team is done."""
        raise NotImplementedError

    def _after_turn(self, state: RunState, agent: Agent, outcome: AgentOutcome) -> RunState:
        """The policy's bookkeeping after an agent's turn."""
        return state

    def _resume(
        self, state: RunState, pending: PendingInput, answer: Sequence[Message]
    ) -> RunState:
        """The policy's bookkeeping when the human answers ``pending`` with ``answer``."""
        if pending.kind == "handoff":
            return msgspec.structs.replace(state, current_speaker=pending.agent)
        if pending.kind == "approval":
            return msgspec.structs.replace(state, resume_with=pending.agent)
        return state

    # --- the loop ---------------------------------------------------------------------

    async def run(
        self,
        state: RunState,
        new_messages: Sequence[Message],
        emit: Emit,
        *,
        should_stop: StopCheck | None = None,
    ) -> RunResult:
        """Run the team on ``new_messages``; events go to ``emit``."""
        started = time.monotonic()
        before = state
        run = RunContext(self.name, emit)
        try:
            run.resumed = state.pending_input is not None
            state, incoming = self._answer_pending(state, new_messages)
            run.messages.extend(incoming)
            items: list[Message] = list(incoming)
            handoffs: list[tuple[str, str]] = []
            turns = 0
            stop_reason: str | None = None
            if run.resumed and self.termination is not None:
                # The human's answer may itself end the run ("APPROVE").
                stop_reason = self.termination.check(
                    self._progress(run, items, handoffs, 0, started, False)
                )
            while stop_reason is None:
                if turns >= self.max_turns:
                    stop_reason = f"maximum number of turns {self.max_turns} reached"
                    break
                if state.resume_with in self.by_name:
                    # An agent waiting on the human's approval decides before the policy goes on.
                    step: tuple[Sequence[Agent], RunState] | None = (
                        [self.by_name[state.resume_with or ""]],
                        msgspec.structs.replace(state, resume_with=None),
                    )
                else:
                    step = await self._next(state, run)
                if step is None:
                    stop_reason = f"{self.kind} team finished"
                    break
                speakers, state = step
                outcomes = await self._take_turns(speakers, state, emit)
                pause: tuple[Agent, AgentOutcome] | None = None
                run.last = list(zip(speakers, outcomes, strict=True))
                for agent, outcome in run.last:
                    state = self._record(state, agent, outcome)
                    state = self._after_turn(state, agent, outcome)
                    items.extend(outcome.messages)
                    run.usage += outcome.usage
                    turns += 1
                    final = _final_message(outcome)
                    if final is not None:
                        run.messages.append(final)
                    if outcome.handoff:
                        handoffs.append((agent.name, outcome.handoff))
                    if pause is None and (
                        outcome.input_request is not None or outcome.handoff == "user"
                    ):
                        pause = (agent, outcome)
                if pause is not None:
                    state, stop_reason = await self._pause(state, *pause, emit)
                    break
                if self.termination is not None:
                    stop_requested = bool(should_stop and await should_stop())
                    progress = self._progress(run, items, handoffs, turns, started, stop_requested)
                    stop_reason = self.termination.check(progress)
        except TroupeError as err:
            return await self._fail(before, err, run.usage, started, emit)
        except Exception as exc:  # a bug in an agent or a model: report it, keep serving
            logger.exception("team %r failed", self.name)
            failure = RunError(
                f"team '{self.name}' failed: {type(exc).__name__}: {exc}", code="internal_error"
            )
            return await self._fail(before, failure, run.usage, started, emit)
        duration_ms = int((time.monotonic() - started) * 1000)
        state = msgspec.structs.replace(
            state, usage=state.usage + run.usage, turns=state.turns + turns, runs=state.runs + 1
        )
        await emit(
            RunEnded(
                agent=self.name,
                stop_reason=stop_reason,
                conversation_id=state.conversation_id,
                usage=run.usage,
                turns=turns,
                duration_ms=duration_ms,
            )
        )
        return RunResult(
            state=state,
            stop_reason=stop_reason,
            usage=run.usage,
            turns=turns,
            duration_ms=duration_ms,
        )

    def _progress(
        self,
        run: RunContext,
        items: list[Message],
        handoffs: list[tuple[str, str]],
        turns: int,
        started: float,
        stop_requested: bool,
    ) -> RunProgress:
        return RunProgress(
            messages=tuple(run.messages),
            items=tuple(items),
            handoffs=tuple(handoffs),
            usage=run.usage,
            turns=turns,
            elapsed=time.monotonic() - started,
            stop_requested=stop_requested,
        )

    def _answer_pending(
        self, state: RunState, new_messages: Sequence[Message]
    ) -> tuple[RunState, list[Message]]:
        """Append the user's messages; if the run was waiting for them, they answer it."""
        incoming = list(new_messages)
        pending = state.pending_input
        if pending is not None:
            if pending.kind == "proxy":
                # The human speaks as the proxy agent that asked.
                incoming = [
                    UserMessage(content=m.content, source=pending.agent)
                    if isinstance(m, UserMessage)
                    else m
                    for m in incoming
                ]
            state = self._resume(
                msgspec.structs.replace(state, pending_input=None), pending, incoming
            )
        return msgspec.structs.replace(
            state, transcript=state.transcript + tuple(incoming)
        ), incoming

    async def _take_turns(
        self, speakers: Sequence[Agent], state: RunState, emit: Emit
    ) -> list[AgentOutcome]:
        if len(speakers) == 1:
            return [await speakers[0].run(self._turn(state, speakers[0]), emit)]
        outcomes: list[AgentOutcome | None] = [None] * len(speakers)

        async def take(index: int, agent: Agent) -> None:
            outcomes[index] = await agent.run(self._turn(state, agent), emit)

        async with anyio.create_task_group() as tg:
            for index, agent in enumerate(speakers):
                tg.start_soon(take, index, agent)
        return [outcome for outcome in outcomes if outcome is not None]

    def _turn(self, state: RunState, agent: Agent) -> AgentTurn:
        return AgentTurn(
            transcript=state.transcript,
            conversation_id=state.conversation_id,
            state=state.inner.get(agent.name),
        )

    def _record(self, state: RunState, agent: Agent, outcome: AgentOutcome) -> RunState:
        inner = state.inner
        if outcome.state is not None:
            inner = {**inner, agent.name: outcome.state}
        return msgspec.structs.replace(
            state, transcript=state.transcript + outcome.messages, inner=inner
        )

    async def _pause(
        self, state: RunState, agent: Agent, outcome: AgentOutcome, emit: Emit
    ) -> tuple[RunState, str]:
        if outcome.input_request is not None:
            kind: Literal["proxy", "approval"] = "approval" if outcome.approval else "proxy"
            pending = PendingInput(agent=agent.name, prompt=outcome.input_request, kind=kind)
        else:
            final = _final_message(outcome)
            prompt = (text_of(final) if final is not None else "") or outcome.handoff_message
            pending = PendingInput(agent=agent.name, prompt=prompt, kind="handoff")
        await emit(InputRequested(agent=pending.agent, prompt=pending.prompt, kind=pending.kind))
        return msgspec.structs.replace(
            state, pending_input=pending
        ), f"input requested by {agent.name}"

    async def _fail(
        self, before: RunState, err: TroupeError, usage: Usage, started: float, emit: Emit
    ) -> RunResult:
        await emit(RunFailed(agent=self.name, code=err.code or "error", message=err.message))
        return RunResult(
            state=before,
            stop_reason=f"error: {err.message}",
            usage=usage,
            turns=0,
            duration_ms=int((time.monotonic() - started) * 1000),
            error=err,
        )


def _final_message(outcome: AgentOutcome) -> Message | None:
    for message in reversed(outcome.messages):
        if isinstance(message, AssistantMessage) and not message.tool_calls:
            return message
    return outcome.messages[-1] if outcome.messages else None
