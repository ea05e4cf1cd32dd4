"""troupe's conversation as an Anthropic Messages request, and the streamed events as Structs.

The Messages API differs from chat completions in ways that matter here:
system prompts are a top-level field, tool calls are ``tool_use`` blocks in
the assistant's content, tool results are ``tool_result`` blocks in a *user*
message (consecutive results share one), and images are ``image`` blocks with
a ``url`` or ``base64`` source.
"""

from __future__ import annotations

__all__ = [
    "Event",
    "EventUsage",
    "decode_event",
    "ends_with_unsigned_tool_use",
    "image_block",
    "messages_body",
    "tool_param",
]

import binascii
from base64 import b64decode
from typing import Any, Final

import msgspec

from troupe.errors import RequestError
from troupe.messages import (
    AssistantMessage,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)
from troupe.models._base import ToolSpec

_IMAGE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_decode_json = msgspec.json.Decoder().decode
_OMITTED: Final = "(earlier messages omitted)"


def image_block(part: ImagePart) -> dict[str, Any]:
    """An ``image`` block: http(s) URLs as ``url`` sources, ``data:`` URIs as ``base64``."""
    url = part.url
    if not url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    header, _, data = url[5:].partition(",")
    media_type, _, encoding = header.partition(";")
    if encoding != "base64" or media_type not in _IMAGE_TYPES:
        raise RequestError(
            "anthropic takes images as URLs or base64 data: URIs of type "
            f"{', '.join(sorted(_IMAGE_TYPES))}; got {url[:40]!r}",
            param="messages",
        )
    try:
        b64decode(data[:4096], validate=True)  # a cheap check of the start, not a full decode
    except (binascii.Error, ValueError):
        raise RequestError(
            f"invalid base64 in image data URI {url[:40]!r}", param="messages"
        ) from None
    source = {"type": "base64", "media_type": media_type, "data": data}
    return {"type": "image", "source": source}


def _user_blocks(message: UserMessage) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"type": "text", "text": message.content}] if message.content else []
    return [
        {"type": "text", "text": part.text} if isinstance(part, TextPart) else image_block(part)
        for part in message.content
        if not isinstance(part, TextPart) or part.text
    ]


def _tool_input(arguments: str) -> dict[str, Any]:
    # tool_use input must be an object; a call the model garbled is sent back as an empty one
    # (its result, an error, tells the model what went wrong).
    try:
        value = _decode_json(arguments or "{}")
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _assistant_blocks(message: AssistantMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    # Set only once messages carry the provider's signature of their thinking.
    signature = getattr(message, "reasoning_signature", "")
    if message.reasoning and signature:
        blocks.append({"type": "thinking", "thinking": message.reasoning, "signature": signature})
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    blocks.extend(
        {"type": "tool_use", "id": c.id, "name": c.name, "input": _tool_input(c.arguments)}
        for c in message.tool_calls
    )
    return blocks


def _tool_result(message: ToolMessage) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": message.call_id,
        "content": message.content,
    }
    if message.is_error:
        block["is_error"] = True
    return block


def messages_body(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    """The ``system`` text and the ``messages`` list; consecutive same-role turns are merged."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            system.append(message.content)
            continue
        if isinstance(message, AssistantMessage):
            role, blocks = "assistant", _assistant_blocks(message)
        elif isinstance(message, ToolMessage):
            role, blocks = "user", [_tool_result(message)]
        else:
            role, blocks = "user", _user_blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if turns and turns[0]["role"] == "assistant":
        # The API wants a user turn first; a context policy may have cut the one there was.
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": _OMITTED}]})
    return "\n\n".join(s for s in system if s), turns


def ends_with_unsigned_tool_use(turns: list[dict[str, Any]]) -> bool:
    """Whether the last assistant turn calls tools without its signed thinking block.

    With thinking on, Anthropic wants that block back when the tool results
    follow; without its signature the call is made with thinking off.
    """
    for turn in reversed(turns):
        if turn["role"] == "assistant":
            blocks = turn["content"]
            return any(b["type"] == "tool_use" for b in blocks) and blocks[0]["type"] != "thinking"
    return False


def tool_param(tool: ToolSpec, *, strict: bool) -> dict[str, Any]:
    param: dict[str, Any] = {"name": tool.name, "input_schema": tool.parameters}
    if tool.description:
        param["description"] = tool.description
    if strict and tool.strict:
        param["strict"] = True
    return param


# --- the streamed events, as far as troupe reads them; unknown fields are skipped ---


class Block(msgspec.Struct):
    type: str = ""
    id: str = ""
    name: str = ""
    text: str = ""
    thinking: str = ""


class Delta(msgspec.Struct):
    """A ``content_block_delta``'s delta, or a ``message_delta``'s (which has the stop reason)."""

    type: str = ""
    text: str = ""
    partial_json: str = ""
    thinking: str = ""
    signature: str = ""
    stop_reason: str | None = None


class OutputDetails(msgspec.Struct):
    thinking_tokens: int | None = None


class EventUsage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    output_tokens_details: OutputDetails | None = None


class StartedMessage(msgspec.Struct):
    model: str = ""
    usage: EventUsage | None = None


class ErrorInfo(msgspec.Struct):
    type: str = ""
    message: str = ""


class Event(msgspec.Struct):
    type: str = ""
    index: int = 0
    message: StartedMessage | None = None
    content_block: Block | None = None
    delta: Delta | None = None
    usage: EventUsage | None = None
    error: ErrorInfo | None = None


decode_event = msgspec.json.Decoder(Event).decode
