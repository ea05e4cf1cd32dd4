"""Magentic-One: an orchestrator plans, picks who speaks, notices stalls and re-plans.

At the start of a task the orchestrator's model writes a fact sheet and a
plan: the **task ledger**, said to the team as the orchestrator's message.
Before each turn it fills in a **progress ledger** (JSON: is the request
satisfied, are we in a loop, is progress being made, who speaks next and
with what instruction). The instruction is said to the team and the named
agent speaks. Each step without progress (or in a loop) is a stall; after
``max_stalls`` of them the orchestrator rewrites the facts and the plan and
the agents start over from the new ledger. When the request is satisfied,
or after ``max_turns`` rounds, it writes the **final answer**: the team's
answer (the ledgers and instructions go to the reasoning channel).

A model that answers no valid ledger JSON is asked again with what was wrong,
up to ``max_ledger_retries`` times; then the run stops with that reason.
"""

from __future__ import annotations

__all__ = ["MagenticOneTeam"]

import json
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from troupe.agents import Agent, AgentTurn, new_message_id
from troupe.errors import ConfigError, ConfigIssue
from troupe.events import AgentFinished, AgentStarted, ReasoningDelta, SpeakerSelected, TextDelta
from troupe.messages import AssistantMessage, Message, UserMessage, text_of
from troupe.models import ChatModel, ModelRequest, OutputSchema, capabilities_of, complete
from troupe.teams import _magentic_prompts as prompts
from troupe.teams._base import RunContext, Team
from troupe.teams._state import RunState
from troupe.teams.termination import TerminationCondition

ORCHESTRATOR = "MagenticOneOrchestrator"
_LEDGER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        key: {
            "type": "object",
            "properties": {
                "reason": {"type": "string"},
                "answer": {
                    "type": "string"
                    if key in ("next_speaker", "instruction_or_question")
                    else "boolean"
                },
            },
            "required": ["reason", "answer"],
        }
        for key in prompts.LEDGER_KEYS
    },
    "required": list(prompts.LEDGER_KEYS),
}


class Ledger(msgspec.Struct, frozen=True, kw_only=True):
    """The orchestrator's state, kept between steps and runs (``RunState.inner``)."""

    task: str = ""
    facts: str = ""
    plan: str = ""
    rounds: int = 0
    stalls: int = 0
    # Where the agents' view of the conversation starts: the latest task ledger.
    start: int = 0
    # The run the ledger was written in (its first transcript index).
    run_start: int = -1
    # Set when the task is over: the run's stop reason.
    done: str | None = None


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    satisfied: bool
    in_loop: bool
    progressing: bool
    next_speaker: str
    instruction: str
    reason: str


class MagenticOneTeam(Team):
    kind = "magentic_one"

    def __init__(
        self,
        name: str,
        agents: Sequence[Agent],
        *,
        model: ChatModel,
        max_stalls: int = 3,
        max_ledger_retries: int = 3,
        final_answer_prompt: str = prompts.FINAL_ANSWER_PROMPT,
        orchestrator_name: str = ORCHESTRATOR,
        description: str = "",
        termination: TerminationCondition | None = None,
        max_turns: int | None = None,
        answer_agents: Sequence[str] | None = None,
    ) -> None:
        rounds = max_turns or 20
        # The base loop's limit is a safety net: the orchestrator answers after ``rounds``.
        super().__init__(
            name,
            agents,
            description=description,
            termination=termination,
            max_turns=rounds + 1,
            answer_agents=answer_agents,
        )
        if max_stalls < 1:
            raise ConfigError(ConfigIssue("$.max_stalls", "must be at least 1"))
        if max_ledger_retries < 1:
            raise ConfigError(ConfigIssue("$.max_ledger_retries", "must be at least 1"))
        if orchestrator_name in self.by_name:
            raise ConfigError(
                ConfigIssue("$.agents", f"an agent may not be named {orchestrator_name!r}")
            )
        self.model = model
        self.rounds = rounds
        self.max_stalls = max_stalls
        self.max_ledger_retries = max_ledger_retries
        self.final_answer_prompt = final_answer_prompt
        self.orchestrator = orchestrator_name
        if answer_agents is None:
            self.answer_agents = frozenset({orchestrator_name})
        self._team_text = "\n".join(f"{a.name}: {a.description}" for a in self.agents)

    # --- the policy -------------------------------------------------------------------

    async def _next(
        self, state: RunState, run: RunContext
    ) -> tuple[Sequence[Agent], RunState] | None:
        ledger = self._ledger(state)
        flight = state.run
        assert flight is not None
        if ledger.run_start != flight.start:
            if not run.resumed or not ledger.task:
                state, ledger = await self._plan(state, run, _task_of(state, flight.start))
            ledger = msgspec.structs.replace(ledger, run_start=flight.start)
        if ledger.done is not None:
            return None
        while True:
            ledger = msgspec.structs.replace(ledger, rounds=ledger.rounds + 1)
            if ledger.rounds > self.rounds:
                return await self._finish(
                    state, run, ledger, f"maximum rounds {self.rounds} reached"
                )
            progress, problem = await self._progress_ledger(state, run, ledger)
            if progress is None:
                done = (
                    f"the orchestrator gave no valid progress ledger in "
                    f"{self.max_ledger_retries} attempts: {problem}"
                )
                return (), self._keep(state, msgspec.structs.replace(ledger, done=done))
            if progress.satisfied:
                return await self._finish(state, run, ledger, "the request is satisfied")
            stalled = progress.in_loop or not progress.progressing
            stalls = ledger.stalls + 1 if stalled else max(0, ledger.stalls - 1)
            ledger = msgspec.structs.replace(ledger, stalls=stalls)
            if stalls < self.max_stalls:
                break
            state, ledger = await self._replan(state, run, ledger)
        state = await self._say(state, run, progress.instruction, answer=False)
        await run.emit(
            SpeakerSelected(agent=progress.next_speaker, team=self.name, reason=progress.reason)
        )
        speaker = self.by_name[progress.next_speaker]
        return [speaker], self._keep(
            msgspec.structs.replace(state, current_speaker=speaker.name), ledger
        )

    def _stop_reason(self, state: RunState) -> str:
        return self._ledger(state).done or super()._stop_reason(state)

    def _turn(self, state: RunState, agent: Agent, run: RunContext) -> AgentTurn:
        # The agents work from the latest task ledger on (a re-plan starts them afresh).
        turn = super()._turn(state, agent, run)
        start = self._ledger(state).start
        return msgspec.structs.replace(turn, transcript=state.transcript[start:])

    # --- the ledgers ------------------------------------------------------------------

    def _ledger(self, state: RunState) -> Ledger:
        kept = state.inner.get(self._key)
        if kept is None:
            return Ledger()
        return kept if isinstance(kept, Ledger) else msgspec.convert(kept, Ledger)

    @property
    def _key(self) -> str:
        # Not an identifier, so no agent's name.
        return f"{self.orchestrator}:ledger"

    def _keep(self, state: RunState, ledger: Ledger) -> RunState:
        return msgspec.structs.replace(state, inner={**state.inner, self._key: ledger})

    async def _ask(self, run: RunContext, messages: Sequence[Message], **kwargs: Any) -> str:
        response = await complete(self.model, ModelRequest(messages=tuple(messages), **kwargs))
        await run.add_usage(self.orchestrator, response.usage)
        return response.content

    async def _plan(self, state: RunState, run: RunContext, task: str) -> tuple[RunState, Ledger]:
        asked: list[Message] = [UserMessage(content=prompts.FACTS_PROMPT.format(task=task))]
        facts = await self._ask(run, asked)
        asked += [
            AssistantMessage(content=facts, source=self.orchestrator),
            UserMessage(content=prompts.PLAN_PROMPT.format(team=self._team_text)),
        ]
        plan = await self._ask(run, asked)
        return await self._write_ledger(state, run, Ledger(task=task, facts=facts, plan=plan))

    async def _replan(
        self, state: RunState, run: RunContext, ledger: Ledger
    ) -> tuple[RunState, Ledger]:
        asked = [
            *self._thread(state, ledger),
            UserMessage(
                content=prompts.UPDATE_FACTS_PROMPT.format(task=ledger.task, facts=ledger.facts)
            ),
        ]
        facts = await self._ask(run, asked)
        asked += [
            AssistantMessage(content=facts, source=self.orchestrator),
            UserMessage(content=prompts.UPDATE_PLAN_PROMPT.format(team=self._team_text)),
        ]
        plan = await self._ask(run, asked)
        ledger = msgspec.structs.replace(ledger, facts=facts, plan=plan, stalls=0)
        return await self._write_ledger(state, run, ledger)

    async def _write_ledger(
        self, state: RunState, run: RunContext, ledger: Ledger
    ) -> tuple[RunState, Ledger]:
        text = prompts.TASK_LEDGER.format(
            task=ledger.task, team=self._team_text, facts=ledger.facts, plan=ledger.plan
        )
        ledger = msgspec.structs.replace(ledger, start=len(state.transcript))
        state = await self._say(state, run, text, answer=False)
        return self._keep(state, ledger), ledger

    async def _progress_ledger(
        self, state: RunState, run: RunContext, ledger: Ledger
    ) -> tuple[Progress | None, str]:
        names = ", ".join(self.by_name)
        asked: list[Message] = [
            *self._thread(state, ledger),
            UserMessage(
                content=prompts.PROGRESS_PROMPT.format(
                    task=ledger.task, team=self._team_text, names=names
                )
            ),
        ]
        schema = (
            OutputSchema(schema=_LEDGER_SCHEMA, name="progress_ledger", strict=False)
            if capabilities_of(self.model).structured_output
            else None
        )
        problem = ""
        for _ in range(self.max_ledger_retries):
            answer = await self._ask(run, asked, output_schema=schema)
            progress, problem = self._read_progress(answer)
            if progress is not None:
                return progress, ""
            asked += [
                AssistantMessage(content=answer, source=self.orchestrator),
                UserMessage(
                    content=f"That is not a valid progress ledger: {problem}. Answer again, with JSON only."
                ),
            ]
        return None, problem

    def _read_progress(self, answer: str) -> tuple[Progress | None, str]:
        data = _json_object(answer)
        if data is None:
            return None, "no JSON object found"
        for key in prompts.LEDGER_KEYS:
            item = data.get(key)
            if not isinstance(item, dict) or "answer" not in item:
                return None, f"{key!r} must be an object with an 'answer'"
        speaker = str(data["next_speaker"]["answer"]).strip()
        if speaker not in self.by_name:
            return None, f"next_speaker {speaker!r} is none of {', '.join(self.by_name)}"
        return Progress(
            satisfied=_true(data["is_request_satisfied"]["answer"]),
            in_loop=_true(data["is_in_loop"]["answer"]),
            progressing=_true(data["is_progress_being_made"]["answer"]),
            next_speaker=speaker,
            instruction=str(data["instruction_or_question"]["answer"]),
            reason=str(data["next_speaker"].get("reason") or "progress ledger"),
        ), ""

    async def _finish(
        self, state: RunState, run: RunContext, ledger: Ledger, why: str
    ) -> tuple[Sequence[Agent], RunState]:
        asked = [
            *self._thread(state, ledger),
            UserMessage(content=self.final_answer_prompt.format(task=ledger.task)),
        ]
        answer = await self._ask(run, asked)
        state = await self._say(state, run, answer, answer=True)
        return (), self._keep(state, msgspec.structs.replace(ledger, done=why))

    def _thread(self, state: RunState, ledger: Ledger) -> list[Message]:
        """The conversation since the latest task ledger, as the orchestrator's model sees it."""
        out: list[Message] = []
        for message in state.transcript[ledger.start :]:
            text = text_of(message)
            if isinstance(message, AssistantMessage):
                if message.tool_calls or not text:
                    continue
                if message.source == self.orchestrator:
                    out.append(AssistantMessage(content=text, source=self.orchestrator))
                    continue
            elif not isinstance(message, UserMessage) or not text:
                continue
            out.append(UserMessage(content=text, source=message.source))
        return out

    async def _say(self, state: RunState, run: RunContext, text: str, *, answer: bool) -> RunState:
        """The orchestrator says ``text`` to the team: the final answer goes to the answer,
        ledgers and instructions to the reasoning channel."""
        message_id = new_message_id()
        await run.emit(AgentStarted(agent=self.orchestrator, message_id=message_id))
        if answer:
            await run.emit(TextDelta(agent=self.orchestrator, message_id=message_id, text=text))
        else:
            await run.emit(
                ReasoningDelta(agent=self.orchestrator, message_id=message_id, text=text)
            )
        await run.emit(AgentFinished(agent=self.orchestrator, message_id=message_id))
        said = AssistantMessage(content=text, source=self.orchestrator)
        return msgspec.structs.replace(state, transcript=(*state.transcript, said))


def _task_of(state: RunState, start: int) -> str:
    """The run's task: the text of its new messages."""
    return "\n\n".join(text_of(m) for m in state.transcript[start:] if text_of(m))


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in a model's answer: bare, in a code fence, or amid prose."""
    candidates = [text.strip(), *_FENCE.findall(text)]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first : last + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None


def _true(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes")
    return bool(value)
