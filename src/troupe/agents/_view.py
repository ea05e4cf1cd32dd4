"""What an agent's model sees of the team transcript.

An agent sees its own messages whole (tool calls and their results included)
and the other participants' messages as user messages from them: their text
only, so one agent's tool traffic never confuses another agent's model.
"""

from __future__ import annotations

__all__ = ["model_view"]

from collections.abc import Iterable

from troupe.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage


def model_view(
    agent: str, system_message: str | None, transcript: Iterable[Message]
) -> tuple[Message, ...]:
    view: list[Message] = []
    if system_message:
        view.append(SystemMessage(content=system_message, source=agent))
    for message in transcript:
        if isinstance(message, AssistantMessage):
            if message.source == agent:
                view.append(message)
            elif message.content:
                view.append(UserMessage(content=message.content, source=message.source))
        elif isinstance(message, ToolMessage):
            if message.source == agent:
                view.append(message)
        else:
            view.append(message)
    return tuple(view)
