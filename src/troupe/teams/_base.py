"""The team run loop, shared by every kind of team.

``Team.run`` reads top to bottom: take the user's new messages (answering a
pending question if there is one), then step after step ask the team's
speaker policy who speaks next (``_next``), let them take their turns, and
dispatch on how each turn ended (``TurnEnd``, with ``match``): an answer, a
handoff, a wait for the human, a stop. Kinds of team differ only in their
policy (``_next``, ``_after_turn``); none copies the loop.

A team is an immutable definition; the conversation lives in the
``RunState`` it is given and returns. Everything the loop keeps between steps
is in ``RunState.run`` (``RunInFlight``), so a run checkpointed after a step
can be continued by any process: give ``run`` that state and no new messages.

Errors never escape as exceptions: they become a ``RunFailed`` event and a
``RunResult`` that keeps the completed turns. A stop through ``RunControl``
cancels the turn in progress (its model call, its tools) at once.
"""

from __future__ import annotations

__all__ = ["RunContext", "RunControl", "Team", "calling_run"]

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import anyio
import msgspec

from troupe.agents import (
    Agent,
    AgentOutcome,
    AgentTurn,
    Answered,
    AwaitingInput,
    Emit,
    HandedOff,
    Stopped,
    ToolsRequested,
)
from troupe.errors import ConfigError, ConfigIssue, RunError, TroupeError, first_error
from troupe.events import (
    ClientToolsRequested,
    Event,
    InputRequested,
    RunEnded,
    RunFailed,
    UsageReported,
)
from troupe.messages import AssistantMessage, Message, ToolMessage, Usage, UserMessage, text_of
from troupe.teams._client_tools import answer_calls, tool_results_problem
from troupe.teams._state import (
    PendingInput,
    RunInFlight,
    RunOptions,
    RunProgress,
    RunResult,
    RunState,
    RunStatus,
    StepEnd,
    settle,
)
from troupe.teams.termination import TerminationCondition

logger = logging.getLogger("troupe.teams")

# Without a termination condition a team stops after one round; with one, this
# many turns is the safety net against a condition that never fires.
DEFAULT_MAX_TURNS = 50

Checkpoint = Callable[[RunState], Awaitable[None]]

# The team run in progress in this task: (scope, conversation id). An inner team (a
# participant, a tool) runs for the same API key, so its sandboxes are that key's too.
_calling: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "troupe_calling_run", default=("", "")
)


def calling_run() -> tuple[str, str]:
    """(scope, conversation id) of the team run in progress; empty strings outside one."""
    return _calling.get()


class RunControl:
    """What the owner of a run gives it: who it is, where to checkpoint, and a stop.

    ``checkpoint`` is awaited with the state after every step that the run goes on
    from (the last step's state is the run's result). ``stop`` ends the run now: the
    turn in progress is cancelled and the run ends ``cancelled`` with its completed
    turns.
    """

    def __init__(
        self, *, run_id: str = "", scope: str = "", checkpoint: Checkpoint | None = None
    ) -> None:
        self.run_id = run_id
        self.scope = scope
        self.checkpoint = checkpoint
        self.stop_reason: str | None = None
        self.stop_error: TroupeError | None = None
        self._cancel: anyio.CancelScope | None = None

    @property
    def stop_requested(self) -> bool:
        return self.stop_reason is not None

    def stop(self, reason: str = "cancelled", *, error: TroupeError | None = None) -> None:
        """End the run now. With ``error`` it ends ``failed`` with that error (a shutdown),
        else ``cancelled``."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stop_error = error
        if self._cancel is not None:
            self._cancel.cancel()

    def _attach(self, scope: anyio.CancelScope) -> None:
        self._cancel = scope
        if self.stop_reason is not None:
            scope.cancel()

    def release(self) -> None:
        """The run is over: drop its checkpoint and cancel scope (a stop changes nothing now)."""
        self.checkpoint = None
        self._cancel = None


class RunContext:
    """What a speaker policy may use during a run: the events, the run's usage, and how
    the speakers of the last step ended.

    ``emit`` counts the usage of every model call reported in the run (agents', the
    selector's, inner teams'), so the run's usage is the sum of its model calls even
    when a turn is cut short.
    """

    def __init__(
        self,
        team: str,
        emit: Emit,
        flight: RunInFlight,
        clock: float,
        scope: str = "",
        options: RunOptions | None = None,
    ) -> None:
        self.team = team
        self.scope = scope
        self.options = options or RunOptions()
        self.usage = flight.usage
        self.last = flight.last
        # The run answered a pending question (the human's answer to the team).
        self.resumed = flight.resumed
        self._emit = emit
        self._clock = clock
        self._elapsed = flight.elapsed

    @property
    def elapsed(self) -> float:
        """Seconds the run has been running, over every process that ran it."""
        return self._elapsed + (time.monotonic() - self._clock)

    def emit(self, event: Event) -> Awaitable[None]:
        """The run's ``emit``, counting usage (returns its awaitable: no layer of its own)."""
        if type(event) is UsageReported:
            self.usage += event.usage
        return self._emit(event)

    async def add_usage(self, agent: str, usage: Usage) -> None:
        """Count a model call the team itself made (a speaker selector's)."""
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
        """Who speaks next (several agents run concurrently), or None when the team is done.

        No speakers (an empty sequence) is a step of the policy's own: its state goes on."""
        raise NotImplementedError

    def _stop_reason(self, state: RunState) -> str:
        """Why the run ends when ``_next`` says the team is done."""
        return f"{self.kind} team finished"

    def _after_turn(self, state: RunState, agent: Agent, outcome: AgentOutcome) -> RunState:
        """The policy's bookkeeping after an agent's turn."""
        return state

    def _resume(
        self, state: RunState, pending: PendingInput, answer: Sequence[Message]
    ) -> RunState:
        """The policy's bookkeeping when the human answers ``pending`` with ``answer``."""
        if pending.inner:
            return msgspec.structs.replace(state, resume_with=pending.agent)
        if pending.kind == "handoff":
            return msgspec.structs.replace(state, current_speaker=pending.agent)
        if pending.kind in ("approval", "client_tools"):
            return msgspec.structs.replace(state, resume_with=pending.agent)
        return state

    def input_problem(self, state: RunState, new_messages: Sequence[Message]) -> str | None:
        """Why ``new_messages`` cannot start a run on ``state`` (checked before it starts)."""
        return tool_results_problem(state.pending_input, new_messages)

    # --- the loop ---------------------------------------------------------------------

    async def run(
        self,
        state: RunState,
        new_messages: Sequence[Message],
        emit: Emit,
        *,
        control: RunControl | None = None,
        options: RunOptions | None = None,
    ) -> RunResult:
        """Run the team on ``new_messages``; events go to ``emit``. ``options`` are what the
        client's request asked beside its messages (its tools, the answer's shape).

        Given a state with a run in progress (``state.run``, from a checkpoint), the
        run continues from its last completed step; ``new_messages`` must then be empty.
        Without ``control``, an inner team runs for the API key of the run calling it.
        """
        control = control or RunControl(scope=_calling.get()[0])
        token = _calling.set((control.scope, state.conversation_id))
        try:
            return await self._run(state, new_messages, emit, control, options)
        finally:
            _calling.reset(token)

    async def _run(
        self,
        state: RunState,
        new_messages: Sequence[Message],
        emit: Emit,
        control: RunControl,
        options: RunOptions | None,
    ) -> RunResult:
        clock = time.monotonic()
        before = state
        if state.run is None:
            state = self._begin(state, new_messages, control.run_id)
        elif new_messages:
            raise ValueError("a run in progress takes no new messages")
        done = state  # the state after the last completed step
        flight = state.run
        assert flight is not None
        run = RunContext(self.name, emit, flight, clock, control.scope, options)
        stop_reason: str | None = None
        try:
            with anyio.CancelScope() as cancel:
                control._attach(cancel)
                if flight.resumed and flight.turns == 0 and self.termination is not None:
                    # The human's answer may itself end the run ("APPROVE").
                    stop_reason = self.termination.check(self._progress(state, control))
                while stop_reason is None:
                    state, stop_reason = await self._step(state, run, control)
                    done = state
                    if stop_reason is None:
                        # Out of turns: the run ends now, its end commit is the checkpoint.
                        stop_reason = self._out_of_turns(state)
                    if stop_reason is None and control.checkpoint is not None:
                        with anyio.CancelScope(shield=True):
                            await control.checkpoint(done)
            if cancel.cancelled_caught:
                stop_reason = control.stop_reason or "cancelled"
        except TroupeError as err:
            return await self._end(before, done, "failed", f"error: {err.message}", run, err)
        except Exception as exc:  # a bug in an agent or a model: report it, keep serving
            logger.exception("team %r failed", self.name)
            failure = RunError(
                f"team '{self.name}' failed: {type(exc).__name__}: {exc}", code="internal_error"
            )
            return await self._end(
                before, done, "failed", f"error: {failure.message}", run, failure
            )
        assert stop_reason is not None
        status: RunStatus = "completed"
        if cancel.cancelled_caught and control.stop_error is not None:
            error = control.stop_error
            return await self._end(before, done, "failed", f"error: {error.message}", run, error)
        if cancel.cancelled_caught:
            status = "cancelled"
        elif done.pending_input is not None:
            status = "requires_input"
        return await self._end(before, done, status, stop_reason, run)

    def _begin(self, state: RunState, new_messages: Sequence[Message], run_id: str) -> RunState:
        """Append the user's messages; if the team was waiting for them, they answer it."""
        incoming = list(new_messages)
        pending = state.pending_input
        if pending is not None:
            if pending.kind == "client_tools":
                incoming = answer_calls(pending, incoming)
            elif pending.kind == "proxy" and not pending.inner:
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
        start = len(state.transcript)
        flight = RunInFlight(
            id=run_id,
            start=start,
            finals=tuple(
                start + i for i, m in enumerate(incoming) if not isinstance(m, ToolMessage)
            ),
            resumed=pending is not None and pending.kind != "client_tools",
        )
        return msgspec.structs.replace(
            state, transcript=state.transcript + tuple(incoming), run=flight
        )

    def _out_of_turns(self, state: RunState) -> str | None:
        flight = state.run
        if flight is not None and flight.turns >= self.max_turns:
            return f"maximum number of turns {self.max_turns} reached"
        return None

    async def _step(
        self, state: RunState, run: RunContext, control: RunControl
    ) -> tuple[RunState, str | None]:
        """One step: who speaks, their turns, and whether the run ends after it."""
        flight = state.run
        assert flight is not None
        out = self._out_of_turns(state)
        if out is not None:
            return state, out
        step: tuple[Sequence[Agent], RunState] | None
        if state.resume_with in self.by_name:
            # An agent waiting on the human's approval decides before the policy goes on.
            step = (
                [self.by_name[state.resume_with or ""]],
                msgspec.structs.replace(state, resume_with=None),
            )
        else:
            step = await self._next(state, run)
        if step is None:
            return state, self._stop_reason(state)
        speakers, state = step
        outcomes = await self._take_turns(speakers, state, run)
        pause: tuple[Agent, AgentOutcome] | None = None
        finals, handoffs = list(flight.finals), list(flight.handoffs)
        for agent, outcome in zip(speakers, outcomes, strict=True):
            at = len(state.transcript)
            state = self._after_turn(self._record(state, agent, outcome), agent, outcome)
            final = _final_index(outcome)
            if final is not None:
                finals.append(at + final)
            match outcome.end:
                case HandedOff(target="user"):
                    handoffs.append((agent.name, "user"))
                    pause = pause or (agent, outcome)
                case HandedOff(target=target):
                    handoffs.append((agent.name, target))
                case AwaitingInput() | ToolsRequested():
                    pause = pause or (agent, outcome)
                case Answered() | Stopped():
                    pass
        run.last = tuple(
            StepEnd(agent=a.name, end=o.end) for a, o in zip(speakers, outcomes, strict=True)
        )
        flight = msgspec.structs.replace(
            flight,
            finals=tuple(finals),
            handoffs=tuple(handoffs),
            turns=flight.turns + len(outcomes),
            usage=run.usage,
            elapsed=run.elapsed,
            last=run.last,
        )
        state = msgspec.structs.replace(state, run=flight)
        if pause is not None:
            return await self._pause(state, *pause, run.emit)
        if self.termination is None:
            return state, None
        return state, self.termination.check(self._progress(state, control))

    def _progress(self, state: RunState, control: RunControl) -> RunProgress:
        flight = state.run
        assert flight is not None
        return RunProgress(
            messages=tuple(state.transcript[i] for i in flight.finals),
            items=state.transcript[flight.start :],
            handoffs=flight.handoffs,
            usage=flight.usage,
            turns=flight.turns,
            elapsed=flight.elapsed,
            stop_requested=control.stop_requested,
        )

    async def _take_turns(
        self, speakers: Sequence[Agent], state: RunState, run: RunContext
    ) -> list[AgentOutcome]:
        if len(speakers) == 1:
            return [await speakers[0].run(self._turn(state, speakers[0], run), run.emit)]
        outcomes: list[AgentOutcome | None] = [None] * len(speakers)

        async def take(index: int, agent: Agent) -> None:
            outcomes[index] = await agent.run(self._turn(state, agent, run), run.emit)

        try:
            async with anyio.create_task_group() as tg:
                for index, agent in enumerate(speakers):
                    tg.start_soon(take, index, agent)
        except ExceptionGroup as group:
            # A 429 in one parallel branch is reported as that 429.
            raise first_error(group) from None
        return [outcome for outcome in outcomes if outcome is not None]

    def _turn(self, state: RunState, agent: Agent, run: RunContext) -> AgentTurn:
        options = run.options
        first = state.run is None or state.run.turns == 0
        return AgentTurn(
            transcript=state.transcript,
            conversation_id=state.conversation_id,
            scope=run.scope,
            state=state.inner.get(agent.name),
            client_tools=options.client_tools,
            tool_choice=options.tool_choice if first else "auto",
            output_schema=options.output_schema if self.answers(agent.name) else None,
            instructions=options.instructions,
        )

    def answers(self, agent: str) -> bool:
        """Whether ``agent``'s messages are the team's answer (``answer_agents``)."""
        return self.answer_agents is None or agent in self.answer_agents

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
        match outcome.end:
            case ToolsRequested(calls=calls):
                pending = PendingInput(
                    agent=agent.name, prompt="", kind="client_tools", calls=calls
                )
                await emit(ClientToolsRequested(agent=agent.name, calls=calls))
                state = msgspec.structs.replace(state, pending_input=pending)
                return state, f"client tools requested by {agent.name}"
            case AwaitingInput(prompt=prompt, inner=True):
                # The nested team asked (its input_requested event came through): the
                # answer goes back into it.
                pending = PendingInput(agent=agent.name, prompt=prompt, inner=True)
                return msgspec.structs.replace(
                    state, pending_input=pending
                ), f"input requested by {agent.name}"
            case AwaitingInput(prompt=prompt, approval=approval):
                pending = PendingInput(
                    agent=agent.name, prompt=prompt, kind="approval" if approval else "proxy"
                )
            case _:
                # A handoff to the user: the question is what the agent said with it.
                said = next(
                    (
                        text_of(m)
                        for m in reversed(outcome.messages)
                        if isinstance(m, AssistantMessage) and m.tool_calls and text_of(m)
                    ),
                    "",
                )
                handoff_message = outcome.end.message if isinstance(outcome.end, HandedOff) else ""
                pending = PendingInput(
                    agent=agent.name, prompt=said or handoff_message, kind="handoff"
                )
        await emit(InputRequested(agent=pending.agent, prompt=pending.prompt, kind=pending.kind))
        return msgspec.structs.replace(
            state, pending_input=pending
        ), f"input requested by {agent.name}"

    async def _end(
        self,
        before: RunState,
        done: RunState,
        status: RunStatus,
        stop_reason: str,
        run: RunContext,
        error: TroupeError | None = None,
    ) -> RunResult:
        """Close the run: its completed turns are kept; with none (a failure or a stop
        in the first step), the conversation stays as it was."""
        flight = done.run
        assert flight is not None
        if flight.turns or before.run is not None or status not in ("failed", "cancelled"):
            # The usage of every model call, a turn cut short included.
            flight = msgspec.structs.replace(flight, usage=run.usage)
            state = settle(msgspec.structs.replace(done, run=flight))
        else:
            state = before
        duration_ms = int(run.elapsed * 1000)
        if error is not None:
            await run.emit(
                RunFailed(agent=self.name, code=error.code or "error", message=error.message)
            )
        await run.emit(
            RunEnded(
                agent=self.name,
                stop_reason=stop_reason,
                conversation_id=state.conversation_id,
                run_id=flight.id,
                usage=run.usage,
                turns=flight.turns,
                duration_ms=duration_ms,
            )
        )
        return RunResult(
            state=state,
            status=status,
            stop_reason=stop_reason,
            usage=run.usage,
            turns=flight.turns,
            duration_ms=duration_ms,
            error=error,
        )


def _final_index(outcome: AgentOutcome) -> int | None:
    """Where the turn's final message is in ``outcome.messages`` (its answer)."""
    for index in range(len(outcome.messages) - 1, -1, -1):
        message = outcome.messages[index]
        if isinstance(message, AssistantMessage) and not message.tool_calls:
            return index
    return len(outcome.messages) - 1 if outcome.messages else None


def _final_message(outcome: AgentOutcome) -> Message | None:
    index = _final_index(outcome)
    return outcome.messages[index] if index is not None else None
