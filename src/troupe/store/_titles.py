"""A conversation's title in listings: the start of the user's first message."""

from __future__ import annotations

__all__ = ["title_of"]

from collections.abc import Sequence

from troupe.messages import Message, UserMessage, text_of

TITLE_CHARS = 100


def title_of(transcript: Sequence[Message]) -> str:
    for message in transcript:
        if isinstance(message, UserMessage) and message.source == "user":
            # Text columns hold no NUL (PostgreSQL refuses it): a title is for reading anyway.
            text = " ".join(text_of(message).replace("\x00", " ").split())
            return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"
    return ""
