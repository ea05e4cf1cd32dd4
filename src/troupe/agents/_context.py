"""How much of the conversation an agent's model sees: the model context policy.

A long conversation can outgrow a model's context window. A policy keeps the
newest part of an agent's model view: at most ``last_messages`` messages,
and/or at most ``token_budget`` estimated tokens. Two rules hold whatever is
cut: system messages are always kept, and an assistant message that calls
tools is kept or dropped together with the results of those calls (a model
API refuses a tool result whose call it cannot see, and a call without its
result). The newest such group is always kept, even when it alone is over the
limits: the model must see what it is answering.

Tokens are estimated, not counted: about four characters per token, plus a
few per message and a flat amount per image. That is cheap, needs no
tokenizer, and errs on the side of sending a little less.
"""

from __future__ import annotations

__all__ = ["ContextPolicy", "apply_context_policy", "estimate_tokens"]

from typing import Annotated, Final

import msgspec
from msgspec import Meta

from troupe.messages import (
    AssistantMessage,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    ToolMessage,
)

_PER_MESSAGE: Final = 4
_PER_CALL: Final = 4
# OpenAI's figures: a low-detail image, and a typical 512 px high-detail one.
_IMAGE_LOW: Final = 85
_IMAGE: Final = 765


class ContextPolicy(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """What an agent's model sees of the conversation; by default, all of it.

    ``last_messages``: at most this many messages besides the system
    message(s). ``token_budget``: at most about this many tokens, system
    message(s) included. When both are set, both hold.
    """

    last_messages: Annotated[int, Meta(ge=1)] | None = None
    token_budget: Annotated[int, Meta(ge=1)] | None = None

    @property
    def keeps_all(self) -> bool:
        return self.last_messages is None and self.token_budget is None


def _text_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def estimate_tokens(message: Message) -> int:
    """A cheap estimate of the tokens ``message`` takes in a prompt."""
    tokens = _PER_MESSAGE
    content = message.content
    if isinstance(content, str):
        tokens += _text_tokens(content)
    else:
        for part in content:
            if isinstance(part, TextPart):
                tokens += _text_tokens(part.text)
            elif isinstance(part, ImagePart):
                tokens += _IMAGE_LOW if part.detail == "low" else _IMAGE
    if isinstance(message, AssistantMessage):
        for call in message.tool_calls:
            tokens += _PER_CALL + _text_tokens(call.name) + _text_tokens(call.arguments)
    elif isinstance(message, ToolMessage):
        tokens += _text_tokens(message.name)
    return tokens


def _groups(view: tuple[Message, ...]) -> list[list[int]]:
    """Indexes of the non-system messages, grouped so that tool calls stay with their results.

    A tool result joins the group before it: its call's, or, for a stray
    result, whatever precedes it, so that no kept part starts with a result.
    """
    groups: list[list[int]] = []
    for index, message in enumerate(view):
        if isinstance(message, SystemMessage):
            continue
        if isinstance(message, ToolMessage) and groups:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def apply_context_policy(view: tuple[Message, ...], policy: ContextPolicy) -> tuple[Message, ...]:
    """The part of ``view`` (an agent's model view) that ``policy`` keeps, in order."""
    if policy.keeps_all:
        return view
    max_messages = policy.last_messages
    budget = policy.token_budget
    tokens = sum(estimate_tokens(m) for m in view if isinstance(m, SystemMessage))
    count = 0
    kept: set[int] = set()
    for group in reversed(_groups(view)):
        group_tokens = sum(estimate_tokens(view[i]) for i in group)
        over = (max_messages is not None and count + len(group) > max_messages) or (
            budget is not None and tokens + group_tokens > budget
        )
        if over and kept:
            break
        kept.update(group)
        count += len(group)
        tokens += group_tokens
    return tuple(
        message
        for index, message in enumerate(view)
        if index in kept or isinstance(message, SystemMessage)
    )
