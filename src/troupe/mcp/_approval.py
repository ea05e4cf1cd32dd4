"""MCP tool calls that wait for the human's approval, the way code execution does.

A tool listed under a server's ``approval:`` does not run when the model calls
it: it records the call in the turn's approval scope. The agent (an
``McpApprovals`` agent) then ends its turn asking the human, keeps the calls
as its state, and on its next turn runs them if the answer approves
(``approve``, ``yes``, ``ok``...) or tells the model they were rejected and why.
"""

from __future__ import annotations

__all__ = [
    "McpApprovalAssistant",
    "McpApprovalCodeAssistant",
    "McpApprovals",
    "PendingCall",
    "approval_scope",
    "current_approvals",
]

import contextlib
import contextvars
import secrets
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec

from troupe.agents import AssistantAgent, CodeAssistantAgent
from troupe.agents._base import AgentOutcome, AgentTurn, Answered, AwaitingInput, Emit
from troupe.agents._code_executor import _last_text, _rejection, is_approval
from troupe.events import ToolCalled, ToolResultReturned
from troupe.messages import Message, UserMessage
from troupe.tools import ToolOutput


class PendingCall(msgspec.Struct, frozen=True, kw_only=True):
    """A tool call waiting for the human: the tool (as the model named it) and its arguments."""

    tool: str
    arguments: str


class _State(msgspec.Struct, frozen=True, kw_only=True):
    calls: tuple[PendingCall, ...] = ()
    # The state of the agent this one extends (a code assistant's pending code).
    inner: Any = None


def _state(state: Any) -> _State:
    if isinstance(state, _State):
        return state
    if isinstance(state, dict) and set(state) <= {"calls", "inner"}:
        with contextlib.suppress(msgspec.ValidationError):
            return msgspec.convert(state, _State)
    return _State(inner=state)


_scope: contextvars.ContextVar[list[PendingCall] | None] = contextvars.ContextVar(
    "troupe_mcp_approvals", default=None
)


@contextlib.contextmanager
def approval_scope(pending: list[PendingCall]) -> Iterator[list[PendingCall]]:
    token = _scope.set(pending)
    try:
        yield pending
    finally:
        _scope.reset(token)


def current_approvals() -> list[PendingCall] | None:
    """Where a tool call needing approval is recorded this turn (None: outside an agent's turn)."""
    return _scope.get()


def approval_prompt(calls: Sequence[PendingCall]) -> str:
    shown = "\n".join(f"- {call.tool}({call.arguments})" for call in calls)
    return f"Approve calling these tools? Reply 'approve', or 'reject: <reason>'.\n\n{shown}"


class McpApprovals:
    """Mixed into an assistant agent whose MCP tools include ones needing approval."""

    name: str
    turn_tools: Any
    # The class this one is mixed into.
    _inner_run: Any

    async def _decide(self, calls: Sequence[PendingCall], answer: str, emit: Emit) -> list[Message]:
        from troupe.mcp._tools import McpTool

        if not is_approval(answer):
            reason = _rejection(answer)
            names = ", ".join(call.tool for call in calls)
            return [UserMessage(content=f"The user rejected calling {names}: {reason}")]
        tools, _ = await self.turn_tools()
        results: list[Message] = []
        for call in calls:
            call_id = f"call_{secrets.token_hex(12)}"
            await emit(
                ToolCalled(
                    agent=self.name, call_id=call_id, name=call.tool, arguments=call.arguments
                )
            )
            tool = tools.get(call.tool)
            if not isinstance(tool, McpTool):
                output = ToolOutput(content=f"Error: the tool {call.tool!r} is gone", is_error=True)
            else:
                output = await tool.run(msgspec.json.decode(call.arguments or "{}"))
            await emit(
                ToolResultReturned(
                    agent=self.name,
                    call_id=call_id,
                    name=call.tool,
                    content=output.content,
                    is_error=output.is_error,
                )
            )
            results.append(
                UserMessage(content=f"Result of {call.tool} (approved):\n{output.content}")
            )
        return results

    async def run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome:
        state = _state(turn.state)
        before: list[Message] = []
        if state.calls:
            before = await self._decide(state.calls, _last_text(turn.transcript), emit)
            turn = msgspec.structs.replace(turn, transcript=turn.transcript + tuple(before))
        pending: list[PendingCall] = []
        with approval_scope(pending):
            outcome: AgentOutcome = await self._inner_run(
                msgspec.structs.replace(turn, state=state.inner), emit
            )
        messages = (*before, *outcome.messages)
        if pending and isinstance(outcome.end, Answered):
            return msgspec.structs.replace(
                outcome,
                messages=messages,
                end=AwaitingInput(prompt=approval_prompt(pending), approval=True),
                state=_State(calls=tuple(pending), inner=outcome.state),
            )
        inner = outcome.state
        return msgspec.structs.replace(
            outcome, messages=messages, state=None if inner is None else _State(inner=inner)
        )


class McpApprovalAssistant(McpApprovals, AssistantAgent):
    """An ``AssistantAgent`` whose MCP tool calls may wait for approval."""

    async def _inner_run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome:
        return await AssistantAgent.run(self, turn, emit)


class McpApprovalCodeAssistant(McpApprovals, CodeAssistantAgent):
    """A ``CodeAssistantAgent`` whose MCP tool calls may wait for approval."""

    async def _inner_run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome:
        return await CodeAssistantAgent.run(self, turn, emit)
