"""Decoding a chat-completions request, and its conversion to messages.

``decode_request`` is the only door: what it returns is fully typed
(``troupe.server._request``), nested no deeper than ``MAX_DEPTH``, and
valid UTF-8, so no later code meets a value that makes it fail. Everything
else is a 400 that names the field (``param``), as OpenAI answers.
"""

from __future__ import annotations

__all__ = [
    "MAX_DEPTH",
    "ChatCompletionRequest",
    "InMessage",
    "check_depth",
    "decode_request",
    "decode_request_body",
    "history_text",
    "to_messages",
]

import re
from collections.abc import Iterator
from typing import Any, TypeVar

import msgspec

from troupe.errors import RequestError
from troupe.messages import (
    AssistantMessage,
    ContentPart,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)
from troupe.server._request import (
    AllowedToolsChoice,
    AssistantIn,
    ChatCompletionRequest,
    FunctionTool,
    ImageUrlIn,
    InMessage,
    JsonSchemaFormat,
    NamedCustomChoice,
    RefusalIn,
    TextIn,
    ToolIn,
    UserIn,
)

# JSON nested deeper than this (in the free-form parts: tool parameters, JSON
# schemas) is refused; real schemas are a handful of levels deep.
MAX_DEPTH = 64

_decoder = msgspec.json.Decoder(ChatCompletionRequest)
T = TypeVar("T")
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"missing required field `(?P<field>[^`]+)`")


def decode_request_body(body: bytes, kind: type[T]) -> T:
    """Decode a JSON request body as ``kind``; errors are 400s that name the field."""
    if not body.strip():
        raise RequestError("the request body is empty; expected a JSON object")
    try:
        if kind is ChatCompletionRequest:
            return _decoder.decode(body)  # type: ignore[return-value]
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as err:
        raise _invalid(str(err)) from None
    except msgspec.DecodeError as err:
        raise RequestError(f"the request body is not valid JSON: {err}") from None
    except UnicodeDecodeError:
        raise RequestError("the request body is not valid UTF-8") from None
    except RecursionError:
        raise RequestError(
            f"the request body is nested too deeply (at most {MAX_DEPTH} levels)"
        ) from None


def decode_request(body: bytes) -> ChatCompletionRequest:
    """Decode and check a chat-completions request body; errors are 400s that name the field."""
    request = decode_request_body(body, ChatCompletionRequest)
    _check_depth(request)
    if request.n is not None and request.n != 1:
        raise RequestError(
            "n must be 1: a team gives one answer per request", param="n", code="unsupported_value"
        )
    if isinstance(request.tool_choice, AllowedToolsChoice | NamedCustomChoice):
        raise RequestError(
            "tool_choice may be 'auto', 'none', 'required' or a function tool of the request",
            param="tool_choice",
            code="unsupported_value",
        )
    return request


def _invalid(text: str) -> RequestError:
    match = _AT.match(text)
    assert match is not None
    # msgspec writes a mapping's value as `[...]`: the mapping's own name says enough.
    message, param = match.group("msg"), (match.group("path") or "").replace("[...]", "") or None
    missing = _MISSING.search(message)
    if missing:
        param = f"{param}.{missing.group('field')}" if param else missing.group("field")
    where = f" (at '{param}')" if param else ""
    return RequestError(f"invalid request: {message}{where}", param=param)


def _free_form(request: ChatCompletionRequest) -> Iterator[tuple[str, Any]]:
    """The request's untyped JSON values, with their paths."""
    if request.tools:
        for i, tool in enumerate(request.tools):
            if isinstance(tool, FunctionTool):
                yield f"tools[{i}].function.parameters", tool.function.parameters
    if request.functions:
        for i, function in enumerate(request.functions):
            yield f"functions[{i}].parameters", function.parameters
    choice = request.tool_choice
    if isinstance(choice, AllowedToolsChoice):
        yield "tool_choice.allowed_tools.tools", choice.allowed_tools.tools
    if isinstance(request.response_format, JsonSchemaFormat):
        yield "response_format.json_schema.schema", request.response_format.json_schema.schema


def _check_depth(request: ChatCompletionRequest) -> None:
    for param, value in _free_form(request):
        check_depth(value, param)


def check_depth(value: Any, param: str) -> None:
    """A 400 if the JSON ``value`` (at ``param``) is nested deeper than ``MAX_DEPTH``."""
    # An explicit stack: a deep value must not exhaust Python's own.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise RequestError(
                f"'{param}' is nested too deeply (at most {MAX_DEPTH} levels)", param=param
            )
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


def _parts(message: InMessage, index: int) -> tuple[ContentPart, ...]:
    parts: list[ContentPart] = []
    assert isinstance(message.content, list)
    for i, part in enumerate(message.content):
        if isinstance(part, TextIn):
            parts.append(TextPart(part.text))
        elif isinstance(part, ImageUrlIn):
            if not part.image_url.url:
                raise RequestError(
                    "an image_url part needs image_url.url",
                    param=f"messages[{index}].content[{i}].image_url.url",
                )
            parts.append(ImagePart(part.image_url.url, part.image_url.detail))
        elif isinstance(part, RefusalIn):
            parts.append(TextPart(part.refusal))
        else:
            kind = type(part).__struct_config__.tag
            raise RequestError(
                f"unsupported content part type {kind!r}",
                param=f"messages[{index}].content[{i}]",
                code="unsupported_value",
            )
    return tuple(parts)


def _content(message: InMessage, index: int) -> str | tuple[ContentPart, ...]:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts = _parts(message, index)
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return parts


def history_text(message: InMessage) -> str:
    """A message's text as the conversation fingerprint reads it (an image by its URL)."""
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    return " ".join(
        part.text
        if isinstance(part, TextIn)
        else part.image_url.url
        if isinstance(part, ImageUrlIn)
        else ""
        for part in content
    )


def to_messages(
    messages: list[InMessage], offset: int = 0, *, tool_results: bool = False
) -> list[Message]:
    """Client messages as transcript messages. Client tool traffic is left out, except
    with ``tool_results`` the results of client tools (the team waits for them: the team
    names them after its calls)."""
    out: list[Message] = []
    for index, message in enumerate(messages, start=offset):
        content = _content(message, index)
        if isinstance(message, ToolIn):
            if tool_results:
                text = content if isinstance(content, str) else ""
                out.append(
                    ToolMessage(call_id=message.tool_call_id, name="", content=text, source="user")
                )
            continue
        if message.role in ("system", "developer"):
            out.append(SystemMessage(content=content if isinstance(content, str) else ""))
        elif isinstance(message, UserIn):
            out.append(UserMessage(content=content))
        elif isinstance(message, AssistantIn):
            text = content if isinstance(content, str) else ""
            if text:
                name = message.name if isinstance(message.name, str) else None
                out.append(AssistantMessage(content=text, source=name or "assistant"))
    return out
