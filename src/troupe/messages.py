"""Conversation data: messages, tool calls, tool results, token usage.

These Structs are what a team's transcript is made of and what a ``ChatModel``
is given. They are immutable; a run builds new tuples of them. Every message
carries ``source``: the agent that wrote it, or ``"user"``.
"""

from __future__ import annotations

__all__ = [
    "AssistantMessage",
    "ContentPart",
    "ImagePart",
    "Message",
    "SystemMessage",
    "TextPart",
    "ToolCall",
    "ToolMessage",
    "Usage",
    "UserMessage",
    "text_of",
]

from typing import Literal

import msgspec


class Usage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """Token counts of one or more model calls. ``a + b`` adds them up."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Provider-reported extras (cache reads, reasoning tokens); zero when unknown.
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )


class TextPart(msgspec.Struct, frozen=True, tag="text", tag_field="type"):
    text: str


class ImagePart(msgspec.Struct, frozen=True, tag="image_url", tag_field="type"):
    """An image as a URL or a ``data:`` URI (OpenAI's ``image_url`` content part)."""

    url: str
    detail: Literal["auto", "low", "high"] = "auto"


ContentPart = TextPart | ImagePart


class ToolCall(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A complete call of a tool by a model. ``arguments`` is JSON text."""

    id: str
    name: str
    arguments: str


class SystemMessage(msgspec.Struct, frozen=True, kw_only=True, tag="system", tag_field="role"):
    content: str
    source: str = "user"


class UserMessage(msgspec.Struct, frozen=True, kw_only=True, tag="user", tag_field="role"):
    content: str | tuple[ContentPart, ...]
    source: str = "user"


class AssistantMessage(
    msgspec.Struct, frozen=True, kw_only=True, tag="assistant", tag_field="role"
):
    """What an agent's model said: text, tool calls, or both."""

    content: str = ""
    source: str
    tool_calls: tuple[ToolCall, ...] = ()
    # Thinking text the provider returned, kept for providers that want it back.
    reasoning: str = ""
    # The provider's signature of ``reasoning`` (Anthropic wants thinking blocks back signed).
    reasoning_signature: str = ""
    usage: Usage | None = None
    # Set when the agent asked to end the run (its ``stop`` tool): the reason.
    stop: str = ""


class ToolMessage(msgspec.Struct, frozen=True, kw_only=True, tag="tool", tag_field="role"):
    """The result of one tool call, attributed to the agent that made the call."""

    call_id: str
    name: str
    content: str
    source: str
    is_error: bool = False


Message = SystemMessage | UserMessage | AssistantMessage | ToolMessage


def text_of(message: Message) -> str:
    """The plain text of a message (image parts left out)."""
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))
