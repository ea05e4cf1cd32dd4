"""Running one model reply's tool calls: concurrently, in call order, control tools first.

A control tool (a handoff, the stop tool) ends the agent's turn; only the
first one in a reply counts, as in AutoGen. Every other call runs
concurrently; a failing or unknown tool becomes an error result the model can
read, never an exception.
"""

from __future__ import annotations

__all__ = ["Control", "run_tool_calls"]

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import anyio
import msgspec

from troupe.agents._base import Emit, HandedOff, Stopped
from troupe.agents._handoff import Handoff
from troupe.errors import first_error
from troupe.events import HandoffOccurred, ToolCalled, ToolResultReturned
from troupe.messages import (
    AssistantMessage,
    ImagePart,
    TextPart,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from troupe.tools import Tool, ToolOutput


class Control(msgspec.Struct, frozen=True, kw_only=True):
    """A control tool ended the turn: a handoff or a stop, with the agent's last words."""

    message: AssistantMessage
    end: HandedOff | Stopped


def _reason(arguments: str) -> str:
    try:
        decoded = msgspec.json.decode(arguments or "{}")
    except msgspec.DecodeError:
        return "task complete"
    reason = decoded.get("reason") if isinstance(decoded, dict) else None
    return str(reason) if reason else "task complete"


async def run_tool_calls(
    agent: str,
    calls: Sequence[ToolCall],
    emit: Emit,
    *,
    tools: Mapping[str, Tool],
    handoffs: Mapping[str, Handoff],
    stop_tool: bool,
    vision: bool = False,
) -> tuple[list[ToolMessage | UserMessage], Control | None]:
    outputs: list[ToolOutput | None] = [None] * len(calls)
    control: Control | None = None
    for call in calls:
        await emit(
            ToolCalled(agent=agent, call_id=call.id, name=call.name, arguments=call.arguments)
        )
    for index, call in enumerate(calls):
        handoff = handoffs.get(call.name)
        if handoff is None and not (stop_tool and call.name == "stop_run"):
            continue
        if control is not None:
            outputs[index] = ToolOutput(content="Ignored: this turn already ended.", is_error=True)
        elif handoff is not None:
            text = handoff.transfer_message
            control = Control(
                end=HandedOff(target=handoff.target, message=text),
                message=AssistantMessage(content=text, source=agent),
            )
            outputs[index] = ToolOutput(content=text)
            await emit(HandoffOccurred(agent=agent, target=handoff.target, message=text))
        else:
            reason = _reason(call.arguments)
            control = Control(
                end=Stopped(reason=reason),
                message=AssistantMessage(content=reason, source=agent, stop=reason),
            )
            outputs[index] = ToolOutput(content="Stopping the run.")

    async def run_one(index: int, call: ToolCall) -> None:
        output = outputs[index]
        if output is None:
            tool = tools.get(call.name)
            if tool is None:
                known = ", ".join(sorted(tools)) or "none"
                output = ToolOutput(
                    content=f"Error: unknown tool {call.name!r} (tools: {known})", is_error=True
                )
            elif hasattr(tool, "call_streaming"):
                # A tool that runs agents of its own (a team as a tool) streams their events.
                output = await tool.call_streaming(call.arguments, emit)
            else:
                output = await tool.call(call.arguments)
            outputs[index] = output
        await emit(
            ToolResultReturned(
                agent=agent,
                call_id=call.id,
                name=call.name,
                content=output.content,
                is_error=output.is_error,
            )
        )

    if len(calls) == 1:
        # One call (the usual case) needs no task group: it runs in the turn's own task.
        await run_one(0, calls[0])
    else:
        await _run_concurrently(run_one, calls)
    results: list[ToolMessage | UserMessage] = [
        ToolMessage(
            call_id=call.id,
            name=call.name,
            content=output.content,
            is_error=output.is_error,
            source=agent,
        )
        for call, output in zip(calls, outputs, strict=True)
        if output is not None
    ]
    for call, output in zip(calls, outputs, strict=True):
        if vision and output is not None and output.images:
            # Tool messages carry text only: the images follow as the tool's own message.
            parts = [ImagePart(url=url) for url in output.images]
            caption = TextPart(text=f"The images {call.name} returned:")
            results.append(UserMessage(content=(caption, *parts), source=call.name))
    return results, control


async def _run_concurrently(
    run_one: Callable[[int, ToolCall], Coroutine[Any, Any, None]], calls: Sequence[ToolCall]
) -> None:
    try:
        async with anyio.create_task_group() as tg:
            for index, call in enumerate(calls):
                tg.start_soon(run_one, index, call)
    except ExceptionGroup as group:
        # A tool that fails with an error of troupe's (an inner team's upstream error)
        # reports that error, not "unhandled errors in a TaskGroup".
        raise first_error(group) from None
