"""OpenAI's ``CreateResponse`` request: decoded, checked, and read as troupe's input.

The top-level fields are typed; ``input`` items, ``tools`` and ``text.format``
come in many shapes, so they are read here by hand, each problem a 400 that
names its path (``input[2].call_id``). troupe reads ``model`` (the team),
``input``, ``instructions``, ``stream``, ``background``, ``previous_response_id``,
``conversation``, ``metadata``, ``tools`` (function tools: the client's), ``tool_choice``,
``text.format`` and ``include``; other valid settings are accepted and left to the team.
"""

from __future__ import annotations

__all__ = [
    "CreateResponse",
    "InputItems",
    "decode_create",
    "read_input",
    "read_message",
    "read_options",
]

from typing import Any

import msgspec

from troupe.errors import RequestError
from troupe.messages import (
    ContentPart,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)
from troupe.models import OutputSchema, ToolSpec
from troupe.server._client_tools import output_schema, run_options, tool_spec
from troupe.server._schemas import decode_request_body
from troupe.teams import RunOptions, Team

Json = dict[str, Any]
HistoryItem = tuple[str, str]
# Items a model wrote (sent back by clients that keep the history themselves).
_OUTPUT_ITEMS = {"function_call", "reasoning", "item_reference"}


class CreateResponse(msgspec.Struct, kw_only=True):
    model: str
    input: str | list[Json] = ""
    instructions: str | None = None
    stream: bool | None = False
    background: bool | None = False
    previous_response_id: str | None = None
    conversation: str | Json | None = None
    store: bool | None = True
    metadata: dict[str, str] | None = None
    tools: list[Json] | None = None
    tool_choice: str | Json | None = None
    text: Json | None = None
    include: list[str] | None = None
    parallel_tool_calls: bool | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    user: str | None = None


def decode_create(body: bytes) -> CreateResponse:
    request = decode_request_body(body, CreateResponse)
    if request.previous_response_id is not None and request.conversation is not None:
        raise RequestError(
            "previous_response_id and conversation cannot be used together",
            param="previous_response_id",
        )
    if request.background and request.store is False:
        # As OpenAI's: a background response is fetched later, so it must be kept.
        raise RequestError("background responses need store: true", param="store")
    return request


class InputItems(msgspec.Struct, frozen=True, kw_only=True):
    """The request's input as troupe reads it.

    ``earlier``: the history before the client's new items, as the conversation's
    fingerprint reads it (each run of model-written items one assistant entry);
    ``new``: the new messages (user messages, tool results after the last model item);
    ``everything``: all of them as messages, to start a conversation nobody knows.
    """

    earlier: tuple[HistoryItem, ...]
    history: tuple[HistoryItem, ...]
    new: tuple[Message, ...]
    everything: tuple[Message, ...]
    has_output: bool


def _text(content: Any, param: str) -> tuple[str, tuple[ContentPart, ...]]:
    if isinstance(content, str):
        return content, (TextPart(content),)
    if not isinstance(content, list):
        raise RequestError("content must be a string or a list of content parts", param=param)
    parts: list[ContentPart] = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text", "summary_text"):
            parts.append(TextPart(str(part.get("text") or "")))
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            detail = part.get("detail")
            parts.append(
                ImagePart(part["image_url"], detail if detail in ("low", "high") else "auto")
            )
        elif kind == "refusal":
            parts.append(TextPart(str(part.get("refusal") or "")))
        else:
            raise RequestError(
                f"unsupported content part type {kind!r}",
                param=f"{param}[{i}]",
                code="unsupported_value",
            )
    return " ".join(p.text for p in parts if isinstance(p, TextPart)), tuple(parts)


def read_message(item: Json, param: str) -> tuple[str, str, Message | None]:
    """A message item's role, text and message (None for the assistant's: history)."""
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise RequestError(f"unknown message role {role!r}", param=f"{param}.role")
    text, parts = _text(item.get("content"), f"{param}.content")
    if role in ("system", "developer"):
        return "system", text, SystemMessage(content=text)
    if role == "assistant":
        return "assistant", text, None
    plain = all(isinstance(p, TextPart) for p in parts)
    return "user", text, UserMessage(content=text if plain else parts)


def read_input(request: CreateResponse) -> InputItems:
    """The input items: what is history, what is new. Unknown item types are 400s."""
    if isinstance(request.input, str):
        said: Message = UserMessage(content=request.input)
        entry = ("user", " ".join(request.input.split()))
        return InputItems(
            earlier=(), history=(entry,), new=(said,), everything=(said,), has_output=False
        )
    entries: list[tuple[str, str, Message | None]] = []  # (role, text, message) per item
    last_output = -1
    for index, item in enumerate(request.input):
        param = f"input[{index}]"
        kind = item.get("type", "message")
        if kind == "message":
            role, text, message = read_message(item, param)
            entries.append((role, text, message))
            if role == "assistant":
                last_output = index
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise RequestError(
                    "a function_call_output needs its call_id", param=f"{param}.call_id"
                )
            output = item.get("output")
            content = output if isinstance(output, str) else _text(output, f"{param}.output")[0]
            entries.append(
                ("tool", "", ToolMessage(call_id=call_id, name="", content=content, source="user"))
            )
        elif kind in _OUTPUT_ITEMS:
            entries.append(("assistant", "", None))
            last_output = index
        else:
            raise RequestError(
                f"input items of type {kind!r} are not supported",
                param=f"{param}.type",
                code="unsupported_value",
            )
    if not entries:
        raise RequestError("input is empty", param="input")
    history = _grouped(entries)
    earlier = _grouped(entries[: last_output + 1])
    trailing = entries[last_output + 1 :]
    if not any(role in ("user", "tool") for role, _, _ in trailing):
        raise RequestError(
            "the input must end with a user message or function_call_output items", param="input"
        )
    answers_tools = not any(role == "user" for role, _, _ in trailing)
    new = tuple(m for role, _, m in trailing if m is not None and (role != "tool" or answers_tools))
    everything = (
        tuple(m for role, _, m in entries[: last_output + 1] if m is not None and role != "tool")
        + new
    )
    return InputItems(
        earlier=earlier,
        history=history,
        new=new,
        everything=everything,
        has_output=last_output >= 0,
    )


def _grouped(entries: list[tuple[str, str, Message | None]]) -> tuple[HistoryItem, ...]:
    """History entries as the fingerprint reads them: consecutive model-written items one
    assistant entry (as a chat completion is one message), tool results left out."""
    out: list[HistoryItem] = []
    for role, text, _ in entries:
        if role == "tool":
            continue
        if role == "assistant" and out and out[-1][0] == "assistant":
            out[-1] = ("assistant", f"{out[-1][1]} {text}")
        else:
            out.append((role, text))
    return tuple((role, " ".join(text.split())) for role, text in out)


def read_options(team: Team, request: CreateResponse) -> RunOptions:
    """``tools``, ``tool_choice``, ``text.format`` and ``instructions`` as the run's options."""
    specs: list[ToolSpec] = []
    for index, tool in enumerate(request.tools or ()):
        kind = tool.get("type")
        if kind != "function":
            raise RequestError(
                f"tools of type {kind!r} are not supported: a team takes function tools "
                "(its own tools run on the server)",
                param=f"tools[{index}].type",
                code="unsupported_value",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError("a function tool needs a name", param=f"tools[{index}].name")
        specs.append(
            tool_spec(name, tool.get("description"), tool.get("parameters"), tool.get("strict"))
        )
    choice = request.tool_choice
    if isinstance(choice, dict):
        if choice.get("type") != "function" or not isinstance(choice.get("name"), str):
            raise RequestError(
                "tool_choice may be 'auto', 'none', 'required' or a function tool of the request",
                param="tool_choice",
                code="unsupported_value",
            )
        tool_choice = choice["name"]
    else:
        tool_choice = choice or "auto"
    options = run_options(
        team,
        specs,
        tool_choice=tool_choice,
        output_schema=_format(request.text),
        tools_param="tools[{}]",
        choice_param="tool_choice",
    )
    return msgspec.structs.replace(options, instructions=request.instructions or "")


def _format(text: Json | None) -> OutputSchema | None:
    fmt = (text or {}).get("format")
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_object":
        return OutputSchema(schema={"type": "object"}, name="json_object", strict=False)
    if fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        raise RequestError(
            "text.format must be text, json_object or json_schema with a schema",
            param="text.format",
        )
    return output_schema(
        str(fmt.get("name") or "output"), fmt["schema"], fmt.get("description"), fmt.get("strict")
    )
