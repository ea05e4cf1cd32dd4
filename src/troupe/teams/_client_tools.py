"""A run waiting on the client's tools: checking and placing the results it sends back.

When an agent calls tools the client passed (``ToolsRequested``), the run pauses
with a ``client_tools`` pending input that lists the calls. The client's next
request brings a result per call (``role: tool`` messages, ``function_call_output``
items); they go right after the calls in the transcript, attributed to the agent
that made them, and that agent speaks first.
"""

from __future__ import annotations

__all__ = ["answer_calls", "tool_results_problem"]

from collections.abc import Sequence

import msgspec

from troupe.messages import Message, ToolMessage
from troupe.teams._state import PendingInput

NOT_RUN = "The client did not return a result for this call."


def tool_results_problem(pending: PendingInput | None, messages: Sequence[Message]) -> str | None:
    """Why ``messages`` cannot go to a conversation waiting on ``pending`` (tool results
    that answer no call it waits for), or None."""
    waiting = {call.id for call in pending.calls} if pending is not None else set()
    for message in messages:
        if isinstance(message, ToolMessage) and message.call_id not in waiting:
            expected = ", ".join(sorted(waiting)) or "none"
            return (
                f"the tool result for call {message.call_id!r} answers no pending call "
                f"(the conversation waits for: {expected})"
            )
    return None


def answer_calls(pending: PendingInput, incoming: Sequence[Message]) -> list[Message]:
    """The client's results in the order of the calls (a call left unanswered gets an error
    result, as a model API needs one per call), then its other messages."""
    results = {m.call_id: m for m in incoming if isinstance(m, ToolMessage)}
    answered: list[Message] = []
    for call in pending.calls:
        result = results.get(call.id)
        if result is None:
            answered.append(
                ToolMessage(
                    call_id=call.id,
                    name=call.name,
                    content=NOT_RUN,
                    is_error=True,
                    source=pending.agent,
                )
            )
        else:
            answered.append(msgspec.structs.replace(result, name=call.name, source=pending.agent))
    return answered + [m for m in incoming if not isinstance(m, ToolMessage)]
