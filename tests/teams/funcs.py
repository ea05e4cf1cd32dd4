"""Functions that configs in the tests name by import path."""

from __future__ import annotations

from collections.abc import Sequence

from troupe.messages import Message, text_of


def three_messages(messages: Sequence[Message]) -> bool:
    return len(messages) >= 3


async def async_check(messages: Sequence[Message]) -> bool:
    return True


def pick_critic(history: Sequence[Message]) -> str | None:
    return "critic" if history[-1].source != "critic" else "writer"


def says_ok(message: Message | None) -> bool:
    return message is not None and "ok" in text_of(message).lower()
