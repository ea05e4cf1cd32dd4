"""troupe's conversation as a chat-completions request, and the streamed chunk as Structs."""

from __future__ import annotations

__all__ = [
    "Chunk",
    "decode_chunk",
    "decode_chunks",
    "message_json",
    "response_format",
    "tool_json",
    "usage_of",
]

from typing import Any

import msgspec

from troupe.messages import (
    AssistantMessage,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    ToolMessage,
    Usage,
    UserMessage,
)
from troupe.models._base import OutputSchema, ToolSpec

# --- the streamed chunk, as far as troupe reads it; unknown fields are skipped ---


class Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: Function | None = None


class Delta(msgspec.Struct):
    content: str | None = None
    # Not in OpenAI's schema: vLLM and DeepSeek send reasoning_content,
    # OpenRouter and Ollama reasoning. Typed loosely: a few send objects.
    reasoning_content: Any = None
    reasoning: Any = None
    tool_calls: list[ToolCallDelta] | None = None
    function_call: Function | None = None


class Choice(msgspec.Struct):
    index: int = 0
    delta: Delta | None = None
    finish_reason: str | None = None


class PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class ChunkUsage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: PromptDetails | None = None
    completion_tokens_details: CompletionDetails | None = None
    prompt_cache_hit_tokens: int | None = None  # DeepSeek's name for cached tokens


class Chunk(msgspec.Struct):
    model: str | None = None
    choices: list[Choice] | None = None
    usage: ChunkUsage | None = None
    # A failure reported inside a 200 stream: OpenAI sends {"error": {...}},
    # some servers {"object": "error", "message": ...}.
    error: Any = None
    object: str | None = None
    message: Any = None


decode_chunk = msgspec.json.Decoder(Chunk).decode
# The chunks of one read, as one JSON array.
decode_chunks = msgspec.json.Decoder(list[Chunk]).decode


# --- troupe messages and tools -> OpenAI request JSON ---


def message_json(message: Message) -> dict[str, Any]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.content}
    if isinstance(message, UserMessage):
        content = message.content
        if isinstance(content, str):
            return {"role": "user", "content": content}
        return {"role": "user", "content": [_part(part) for part in content]}
    if isinstance(message, AssistantMessage):
        out: dict[str, Any] = {"role": "assistant", "content": message.content}
        if message.tool_calls:
            # OpenAI's own transcripts carry null, not "", next to tool calls.
            out["content"] = message.content or None
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in message.tool_calls
            ]
        return out
    assert isinstance(message, ToolMessage)
    return {"role": "tool", "tool_call_id": message.call_id, "content": message.content}


def _part(part: TextPart | ImagePart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    image: dict[str, str] = {"url": part.url}
    if part.detail != "auto":  # the default; some compatible servers reject the field
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def response_format(schema: OutputSchema) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": schema.name, "schema": schema.schema, "strict": schema.strict}
    if schema.description:
        spec["description"] = schema.description
    return {"type": "json_schema", "json_schema": spec}


def tool_json(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        function["description"] = tool.description
    if tool.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def usage_of(usage: ChunkUsage) -> Usage:
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return Usage(
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        cached_tokens=(prompt.cached_tokens if prompt else None)
        or usage.prompt_cache_hit_tokens
        or 0,
        reasoning_tokens=(completion.reasoning_tokens if completion else None) or 0,
    )
