"""Agents that run code: ``CodeExecutorAgent``, and ``CodeAssistantAgent`` (``run_code``).

``CodeExecutorAgent`` without a model runs the fenced code blocks of the
previous message, as in AutoGen. With a model it writes code itself, runs
it, reads the output and tries again, up to ``max_retries`` failed runs.

With an executor that requires approval, the agent's turn ends with an
approval request showing the code (``AgentOutcome.approval``); the code is
kept as the agent's state, and the human's next message (``approve``, or
anything else as the reason to reject) decides on the agent's next turn.
"""

from __future__ import annotations

__all__ = ["CodeAssistantAgent", "CodeExecutorAgent", "is_approval"]

import contextlib
import re
from collections.abc import Awaitable, Sequence
from typing import Any

import msgspec

from troupe.agents._assistant import AssistantAgent, _TextStream, call_model
from troupe.agents._base import (
    AgentOutcome,
    AgentTurn,
    Answered,
    AwaitingInput,
    Emit,
    new_message_id,
)
from troupe.agents._view import model_view
from troupe.errors import ConfigError, ConfigIssue
from troupe.events import AgentFinished, AgentStarted, UsageReported
from troupe.execution import (
    ExecutionScope,
    Executor,
    PendingCode,
    RunCodeTool,
    Sandbox,
    execution_scope,
    extract_code_blocks,
    normalize_language,
    run_reported,
)
from troupe.messages import AssistantMessage, Message, Usage, UserMessage, text_of
from troupe.models._base import ChatModel, ModelRequest, ModelResponse

DEFAULT_CODER_MESSAGE = (
    "You solve tasks by writing code. Put the code to run in one fenced block "
    "(```python or ```sh). You will get its exit code and output; fix the code if it "
    "failed. When the task is solved, answer in plain text without code blocks."
)
_APPROVE = re.compile(r"^\s*(approve[d]?|yes|y|ok|okay|run( it)?|go( ahead)?|lgtm|sure)\b", re.I)
_REJECT_PREFIX = re.compile(r"^\s*(reject(ed)?|no|deny|denied)\b[\s:,.-]*", re.I)


class _Pending(msgspec.Struct, frozen=True, kw_only=True):
    """The agent's state: code waiting for approval (none: nothing waits)."""

    blocks: tuple[PendingCode, ...] = ()
    failures: int = 0


def _pending(state: Any) -> _Pending:
    if isinstance(state, _Pending):
        return state
    if isinstance(state, dict):
        with contextlib.suppress(msgspec.ValidationError):
            return msgspec.convert(state, _Pending)
    return _Pending()


def is_approval(answer: str) -> bool:
    """Whether the human's answer approves the code (``approve``, ``yes``, ``ok``, ...)."""
    return bool(_APPROVE.match(answer))


def _rejection(answer: str) -> str:
    reason = _REJECT_PREFIX.sub("", answer, count=1).strip()
    return reason or "no reason given"


def _last_text(transcript: Sequence[Message]) -> str:
    return text_of(transcript[-1]).strip() if transcript else ""


def approval_prompt(blocks: Sequence[PendingCode]) -> str:
    shown = "\n\n".join(f"```{b.language}\n{b.code.rstrip()}\n```" for b in blocks)
    return f"Approve running this code? Reply 'approve', or 'reject: <reason>'.\n\n{shown}"


async def _run_blocks(
    executor: Executor,
    blocks: Sequence[PendingCode],
    turn: AgentTurn,
    agent: str,
    emit: Emit,
) -> tuple[str, bool]:
    """Run ``blocks`` in order, stopping at the first failure; the report and whether all ran."""
    reports: list[str] = []
    for block in blocks:
        result = await run_reported(
            executor,
            sandbox=Sandbox(turn.conversation_id, turn.scope),
            agent=agent,
            language=block.language,
            code=block.code,
            emit=emit,
        )
        reports.append(result.describe())
        if not result.ok:
            return "\n\n".join(reports), False
    return "\n\n".join(reports), True


class CodeExecutorAgent:
    """Runs code blocks in an executor; with a ``model``, writes the code too."""

    def __init__(
        self,
        name: str,
        executor: Executor,
        *,
        model: ChatModel | None = None,
        system_message: str | None = DEFAULT_CODER_MESSAGE,
        description: str = "",
        max_retries: int = 3,
    ) -> None:
        if not name.isidentifier():
            raise ConfigError(ConfigIssue("$.name", f"agent name {name!r} must be an identifier"))
        if max_retries < 0:
            raise ConfigError(ConfigIssue("$.max_retries", "must be 0 or more"))
        self._name = name
        self._description = description or (
            f"A code executor named {name}: it runs the code blocks it is given."
            if model is None
            else f"A coding agent named {name}: it writes and runs code to solve tasks."
        )
        self.executor = executor
        self.model = model
        self.system_message = system_message
        self.max_retries = max_retries

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return self._description

    def __repr__(self) -> str:
        return f"CodeExecutorAgent({self._name!r}, executor={self.executor.name!r})"

    def _result(self, content: str) -> AssistantMessage:
        # Results are input for the coding model: from the executor, not from the model.
        source = self._name if self.model is None else f"{self._name}_executor"
        return AssistantMessage(content=content, source=source)

    def _ask(
        self, messages: Sequence[Message], blocks: Sequence[PendingCode], **kw: Any
    ) -> AgentOutcome:
        return AgentOutcome(
            messages=tuple(messages),
            end=AwaitingInput(prompt=approval_prompt(blocks), approval=True),
            state=_Pending(blocks=tuple(blocks), **kw),
        )

    async def run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome:
        message_id = new_message_id()
        await emit(AgentStarted(agent=self._name, message_id=message_id))
        stream = _TextStream(self._name, message_id, emit)
        produced: list[Message] = []
        pending = _pending(turn.state)
        failures = pending.failures
        if pending.blocks:
            answer = _last_text(turn.transcript)
            if is_approval(answer):
                report, ok = await _run_blocks(
                    self.executor, pending.blocks, turn, self._name, emit
                )
                failures += 0 if ok else 1
            else:
                report = f"The user rejected running the code: {_rejection(answer)}"
            produced.append(self._result(report))
            if self.model is None:
                await stream.write(report)
                await emit(AgentFinished(agent=self._name, message_id=message_id))
                return AgentOutcome(messages=tuple(produced), state=_Pending())
        outcome = await (
            self._execute_previous(turn, stream, emit)
            if self.model is None
            else self._write_and_run(turn, produced, failures, stream, emit)
        )
        await emit(AgentFinished(agent=self._name, message_id=message_id))
        return outcome

    async def _execute_previous(
        self, turn: AgentTurn, stream: _TextStream, emit: Emit
    ) -> AgentOutcome:
        previous = next((m for m in reversed(turn.transcript) if text_of(m).strip()), None)
        blocks = [
            PendingCode(language=b.language, code=b.code)
            for b in extract_code_blocks(text_of(previous) if previous else "")
            if normalize_language(b.language)
        ]
        if not blocks:
            text = "No code blocks found to execute (use ```python or ```sh fences)."
            await stream.write(text)
            return AgentOutcome(messages=(self._result(text),), state=_Pending())
        if self.executor.approval == "always":
            return self._ask((), blocks)
        report, _ = await _run_blocks(self.executor, blocks, turn, self._name, emit)
        await stream.write(report)
        return AgentOutcome(messages=(self._result(report),), state=_Pending())

    async def _write_and_run(
        self,
        turn: AgentTurn,
        produced: list[Message],
        failures: int,
        stream: _TextStream,
        emit: Emit,
    ) -> AgentOutcome:
        assert self.model is not None
        usage = Usage()
        # Each round is one model reply; successful runs are bounded too, so a model
        # that never stops writing code cannot loop forever.
        for _ in range(2 * self.max_retries + 2):
            request = ModelRequest(
                messages=model_view(
                    self._name, self.system_message, turn.transcript + tuple(produced)
                )
            )
            response = await self._call_model(request, stream)
            usage += response.usage
            await emit(UsageReported(agent=self._name, usage=response.usage))
            produced.append(
                AssistantMessage(content=response.content, source=self._name, usage=response.usage)
            )
            blocks = [
                PendingCode(language=b.language, code=b.code)
                for b in extract_code_blocks(response.content)
                if normalize_language(b.language)
            ]
            if not blocks:
                break
            if self.executor.approval == "always":
                outcome = self._ask(produced, blocks, failures=failures)
                return msgspec.structs.replace(outcome, usage=usage)
            report, ok = await _run_blocks(self.executor, blocks, turn, self._name, emit)
            produced.append(self._result(report))
            if not ok:
                failures += 1
                if failures > self.max_retries:
                    note = f"Giving up: the code failed {failures} times."
                    stream.new_part()
                    await stream.write(note)
                    produced.append(AssistantMessage(content=note, source=self._name))
                    break
        return AgentOutcome(messages=tuple(produced), usage=usage, state=_Pending())

    def _call_model(self, request: ModelRequest, stream: _TextStream) -> Awaitable[ModelResponse]:
        assert self.model is not None
        return call_model(self._name, self.model, request, stream)


class CodeAssistantAgent(AssistantAgent):
    """An ``AssistantAgent`` with a ``run_code`` tool in ``executor``.

    It scopes each turn to its conversation (the container to use) and turns a
    ``run_code`` call that needs approval into an approval request.
    """

    def __init__(self, name: str, model: ChatModel, *, executor: Executor, **kwargs: Any) -> None:
        tools = [*kwargs.pop("tools", ()), RunCodeTool(executor)]
        super().__init__(name, model, tools=tools, **kwargs)
        self.executor = executor

    async def run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome:
        pending = _pending(turn.state)
        before: list[Message] = []
        if pending.blocks:
            answer = _last_text(turn.transcript)
            if is_approval(answer):
                report, _ = await _run_blocks(self.executor, pending.blocks, turn, self.name, emit)
                before.append(
                    UserMessage(content=f"Result of run_code:\n{report}", source="run_code")
                )
            else:
                before.append(
                    UserMessage(
                        content=f"The user rejected running the code: {_rejection(answer)}",
                        source="run_code",
                    )
                )
            turn = msgspec.structs.replace(turn, transcript=turn.transcript + tuple(before))
        scope = ExecutionScope(Sandbox(turn.conversation_id, turn.scope), self.name)
        with execution_scope(scope):
            outcome = await super().run(turn, emit)
        messages = (*before, *outcome.messages)
        if scope.pending and isinstance(outcome.end, Answered):
            return msgspec.structs.replace(
                outcome,
                messages=messages,
                end=AwaitingInput(prompt=approval_prompt(scope.pending), approval=True),
                state=_Pending(blocks=tuple(scope.pending)),
            )
        return msgspec.structs.replace(outcome, messages=messages, state=_Pending())
