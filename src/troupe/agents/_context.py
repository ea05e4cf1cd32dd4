"""How much of the conversation an agent's model sees: the model context policy.

A long conversation can outgrow a model's context window. A policy keeps the
newest part of an agent's model view: at most ``last_messages`` messages,
and/or at most ``token_budget`` estimated tokens. Two rules hold whatever is
cut: system messages are always kept, and an assistant message that calls
tools is kept or dropped together with the results of those calls (a model
API refuses a tool result whose call it cannot see, and a call without its
result). The newest such group is always kept, even when it alone is over the
limits: the model must see what it is answering.

``head_messages`` keeps the first messages too (the task, usually) and says
how many were skipped between head and tail, as AutoGen's head-and-tail
context does. ``token_budget: auto`` is the model's ``context_window`` less
room for the answer (a model whose window is unknown sees everything).

Tokens are counted with the model's tokenizer where troupe has it (tiktoken
for OpenAI models, ``troupe.agents._tokens``), else estimated: about four
characters per token, plus a few per message and a flat amount per image.
That is cheap, needs no tokenizer, and errs on the side of sending a little
less.
"""

from __future__ import annotations

__all__ = ["ContextPolicy", "apply_context_policy", "estimate_tokens", "message_tokens"]

from collections.abc import Callable
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

from troupe.messages import (
    AssistantMessage,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)

_PER_MESSAGE: Final = 4
_PER_CALL: Final = 4
# OpenAI's figures: a low-detail image, and a typical 512 px high-detail one.
_IMAGE_LOW: Final = 85
_IMAGE: Final = 765


class ContextPolicy(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """What an agent's model sees of the conversation; by default, all of it.

    ``last_messages``: at most this many messages besides the system
    message(s) (and the head). ``head_messages``: the first messages, kept too. ``token_budget``: at most about this many tokens, system
    message(s) included. When both are set, both hold.
    """

    last_messages: Annotated[int, Meta(ge=1)] | None = None
    token_budget: Annotated[int, Meta(ge=1)] | Literal["auto"] | None = None
    head_messages: Annotated[int, Meta(ge=1)] | None = None

    @property
    def keeps_all(self) -> bool:
        return self.last_messages is None and self.token_budget is None

    def budget(self, context_window: int | None) -> int | None:
        """The token budget in force for a model with ``context_window``."""
        if self.token_budget != "auto":
            return self.token_budget
        if context_window is None:
            return None
        return max(1, context_window - min(_ANSWER_ROOM, context_window // 4))


# What ``token_budget: auto`` leaves of the window for the model's answer.
_ANSWER_ROOM: Final = 4096

TextTokens = Callable[[str], int]
TokenCounter = Callable[[Message], int]


def _text_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def message_tokens(message: Message, text_tokens: TextTokens) -> int:
    """The tokens ``message`` takes in a prompt, its texts counted by ``text_tokens``."""
    tokens = _PER_MESSAGE
    content = message.content
    if isinstance(content, str):
        tokens += text_tokens(content)
    else:
        for part in content:
            if isinstance(part, TextPart):
                tokens += text_tokens(part.text)
            elif isinstance(part, ImagePart):
                tokens += _IMAGE_LOW if part.detail == "low" else _IMAGE
    if isinstance(message, AssistantMessage):
        for call in message.tool_calls:
            tokens += _PER_CALL + text_tokens(call.name) + text_tokens(call.arguments)
    elif isinstance(message, ToolMessage):
        tokens += text_tokens(message.name)
    return tokens


def estimate_tokens(message: Message) -> int:
    """A cheap estimate of the tokens ``message`` takes in a prompt."""
    return message_tokens(message, _text_tokens)


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


def apply_context_policy(
    view: tuple[Message, ...],
    policy: ContextPolicy,
    *,
    count: TokenCounter = estimate_tokens,
    context_window: int | None = None,
) -> tuple[Message, ...]:
    """The part of ``view`` (an agent's model view) that ``policy`` keeps, in order.

    ``count`` counts a message's tokens; ``context_window`` is the model's (for
    ``token_budget: auto``)."""
    if policy.keeps_all:
        return view
    max_messages = policy.last_messages
    budget = policy.budget(context_window)
    if max_messages is None and budget is None:
        return view
    tokens = sum(count(m) for m in view if isinstance(m, SystemMessage))
    groups = _groups(view)
    head = groups[: policy.head_messages or 0]
    kept: set[int] = set()
    count_kept = 0
    for group in head:
        kept.update(group)
        count_kept += len(group)
        tokens += sum(count(view[i]) for i in group)
    count_kept = 0  # ``last_messages`` bounds the tail
    tail: set[int] = set()
    for group in reversed(groups[len(head) :]):
        group_tokens = sum(count(view[i]) for i in group)
        over = (max_messages is not None and count_kept + len(group) > max_messages) or (
            budget is not None and tokens + group_tokens > budget
        )
        if over and tail:
            break
        tail.update(group)
        count_kept += len(group)
        tokens += group_tokens
    skipped = sum(
        1
        for index, message in enumerate(view)
        if index not in kept and index not in tail and not isinstance(message, SystemMessage)
    )
    out: list[Message] = []
    first_tail = min(tail, default=len(view))
    for index, message in enumerate(view):
        if index == first_tail and head and skipped:
            out.append(UserMessage(content=f"Skipped {skipped} messages.", source="system"))
        if index in kept or index in tail or isinstance(message, SystemMessage):
            out.append(message)
    return tuple(out)
