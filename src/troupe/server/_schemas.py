"""The chat-completions request as troupe reads it, and its conversion to messages."""

from __future__ import annotations

__all__ = ["ChatCompletionRequest", "InMessage", "decode_request", "to_messages"]

import re
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from troupe.errors import RequestError
from troupe.messages import (
    AssistantMessage,
    ContentPart,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    UserMessage,
)


class InMessage(msgspec.Struct, kw_only=True):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class StreamOptions(msgspec.Struct, kw_only=True):
    include_usage: bool | None = False


class ChatCompletionRequest(msgspec.Struct, kw_only=True):
    """Fields troupe reads. Sampling settings are the team's own and are ignored."""

    model: str
    messages: Annotated[list[InMessage], Meta(min_length=1)]
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = None
    metadata: dict[str, str] | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    user: str | None = None
    # troupe's: the run goes on when the client goes away (follow it at /v1/runs/{id}/stream).
    background: bool | None = False


_decoder = msgspec.json.Decoder(ChatCompletionRequest)
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", re.DOTALL)


def decode_request(body: bytes) -> ChatCompletionRequest:
    """Decode and check a request body; errors are 400s that name the field."""
    if not body.strip():
        raise RequestError("the request body is empty; expected a JSON object")
    try:
        request = _decoder.decode(body)
    except msgspec.ValidationError as err:
        match = _AT.match(str(err))
        assert match is not None
        param = match.group("path") or None
        where = f" (at '{param}')" if param else ""
        raise RequestError(f"invalid request: {match.group('msg')}{where}", param=param) from None
    except msgspec.DecodeError as err:
        raise RequestError(f"the request body is not valid JSON: {err}") from None
    if request.n is not None and request.n != 1:
        raise RequestError(
            "n must be 1: a team gives one answer per request", param="n", code="unsupported_value"
        )
    choice = request.tool_choice
    if choice not in (None, "auto", "none"):
        raise RequestError(
            "client-side tools cannot be forced: the team decides which tools to use "
            "(tool_choice may be 'auto' or 'none')",
            param="tool_choice",
            code="unsupported_value",
        )
    return request


def _parts(content: list[dict[str, Any]], index: int) -> tuple[ContentPart, ...]:
    parts: list[ContentPart] = []
    for i, part in enumerate(content):
        kind = part.get("type")
        param = f"messages[{index}].content[{i}]"
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append(TextPart(part["text"]))
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise RequestError("an image_url part needs image_url.url", param=param)
            detail = image.get("detail") if isinstance(image, dict) else None
            parts.append(ImagePart(url, detail if detail in ("low", "high") else "auto"))
        else:
            raise RequestError(
                f"unsupported content part type {kind!r}", param=param, code="unsupported_value"
            )
    return tuple(parts)


def _content(message: InMessage, index: int) -> str | tuple[ContentPart, ...]:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts = _parts(message.content, index)
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return parts


def to_messages(messages: list[InMessage], offset: int = 0) -> list[Message]:
    """Client messages as transcript messages. Client tool traffic is left out."""
    out: list[Message] = []
    for index, message in enumerate(messages, start=offset):
        content = _content(message, index)
        if message.role in ("system", "developer"):
            out.append(SystemMessage(content=content if isinstance(content, str) else ""))
        elif message.role == "user":
            out.append(UserMessage(content=content))
        elif message.role == "assistant":
            text = content if isinstance(content, str) else ""
            if text:
                out.append(AssistantMessage(content=text, source=message.name or "assistant"))
    return out
