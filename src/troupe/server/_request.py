"""OpenAI's ``CreateChatCompletionRequest``, typed field by field.

Every standard field is checked by type and range as OpenAI checks it (the
reference is OpenAI's OpenAPI spec, which the tests compare these types
against), so a wrong type is a 400 that names the field, never silently
taken. Most fields are sampling or output settings that a team does not use:
valid values are accepted and ignored. Unknown fields are ignored, as several
clients send their own extras.

Optional fields that OpenAI does not allow to be ``null`` default to
``msgspec.UNSET``, so an explicit ``null`` is an error there too.
"""

from __future__ import annotations

__all__ = [
    "AssistantIn",
    "ChatCompletionRequest",
    "FileIn",
    "ImageUrlIn",
    "InMessage",
    "InputAudioIn",
    "RefusalIn",
    "TextIn",
    "UserIn",
]

from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

Unit = Annotated[float, Meta(ge=0, le=1)]
Penalty = Annotated[float, Meta(ge=-2, le=2)]
JsonObject = dict[str, Any]


class _Part(msgspec.Struct, kw_only=True, tag_field="type"):
    pass


class CacheBreakpoint(msgspec.Struct, kw_only=True):
    mode: Literal["explicit"]


class TextIn(_Part, tag="text"):
    text: str
    prompt_cache_breakpoint: CacheBreakpoint | UnsetType = UNSET


class ImageUrl(msgspec.Struct, kw_only=True):
    url: str
    detail: Literal["auto", "low", "high"] = "auto"


class ImageUrlIn(_Part, tag="image_url"):
    image_url: ImageUrl
    prompt_cache_breakpoint: CacheBreakpoint | UnsetType = UNSET


class InputAudio(msgspec.Struct, kw_only=True):
    data: str
    format: Literal["wav", "mp3"]


class InputAudioIn(_Part, tag="input_audio"):
    input_audio: InputAudio
    prompt_cache_breakpoint: CacheBreakpoint | UnsetType = UNSET


class FileRef(msgspec.Struct, kw_only=True):
    filename: str | UnsetType = UNSET
    file_data: str | UnsetType = UNSET
    file_id: str | UnsetType = UNSET


class FileIn(_Part, tag="file"):
    file: FileRef
    prompt_cache_breakpoint: CacheBreakpoint | UnsetType = UNSET


class RefusalIn(_Part, tag="refusal"):
    refusal: str


TextParts = Annotated[list[TextIn], Meta(min_length=1)]
UserParts = Annotated[list[TextIn | ImageUrlIn | InputAudioIn | FileIn], Meta(min_length=1)]
AssistantParts = Annotated[list[TextIn | RefusalIn], Meta(min_length=1)]


class FunctionCallIn(msgspec.Struct, kw_only=True):
    name: str
    arguments: str


class CustomCallIn(msgspec.Struct, kw_only=True):
    name: str
    input: str


class _Call(msgspec.Struct, kw_only=True, tag_field="type"):
    id: str


class FunctionToolCallIn(_Call, tag="function"):
    function: FunctionCallIn


class CustomToolCallIn(_Call, tag="custom"):
    custom: CustomCallIn


class AudioRef(msgspec.Struct, kw_only=True):
    id: str


# --- messages, one type per role (``role`` is the tag) ------------------------------


class _Message(msgspec.Struct, kw_only=True, tag_field="role"):
    role: ClassVar[str]


class SystemIn(_Message, tag="system"):
    role: ClassVar[str] = "system"
    content: str | TextParts
    name: str | UnsetType = UNSET


class DeveloperIn(_Message, tag="developer"):
    role: ClassVar[str] = "developer"
    content: str | TextParts
    name: str | UnsetType = UNSET


class UserIn(_Message, tag="user"):
    role: ClassVar[str] = "user"
    content: str | UserParts
    name: str | UnsetType = UNSET


class AssistantIn(_Message, tag="assistant"):
    role: ClassVar[str] = "assistant"
    content: str | AssistantParts | None = None
    refusal: str | None = None
    name: str | UnsetType = UNSET
    audio: AudioRef | None = None
    tool_calls: list[FunctionToolCallIn | CustomToolCallIn] | UnsetType = UNSET
    function_call: FunctionCallIn | None = None


class ToolIn(_Message, tag="tool"):
    role: ClassVar[str] = "tool"
    content: str | TextParts
    tool_call_id: str


class FunctionIn(_Message, tag="function"):
    role: ClassVar[str] = "function"
    content: str | None
    name: str


InMessage = SystemIn | DeveloperIn | UserIn | AssistantIn | ToolIn | FunctionIn


# --- tools the client passes ---------------------------------------------------------


class FunctionDefinition(msgspec.Struct, kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    parameters: JsonObject | UnsetType = UNSET
    strict: bool | None = None


class LegacyFunction(msgspec.Struct, kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    parameters: JsonObject | UnsetType = UNSET


class _Tool(msgspec.Struct, kw_only=True, tag_field="type"):
    pass


class FunctionTool(_Tool, tag="function"):
    function: FunctionDefinition


class TextFormat(
    msgspec.Struct, kw_only=True, tag_field="type", tag="text", forbid_unknown_fields=True
):
    pass


class Grammar(msgspec.Struct, kw_only=True):
    definition: str
    syntax: Literal["lark", "regex"]


class GrammarFormat(
    msgspec.Struct, kw_only=True, tag_field="type", tag="grammar", forbid_unknown_fields=True
):
    grammar: Grammar


class CustomDefinition(msgspec.Struct, kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    format: TextFormat | GrammarFormat | UnsetType = UNSET


class CustomTool(_Tool, tag="custom"):
    custom: CustomDefinition


class NamedFunction(msgspec.Struct, kw_only=True):
    name: str


class AllowedTools(msgspec.Struct, kw_only=True):
    mode: Literal["auto", "required"]
    tools: list[JsonObject]


class _Choice(msgspec.Struct, kw_only=True, tag_field="type"):
    pass


class AllowedToolsChoice(_Choice, tag="allowed_tools"):
    allowed_tools: AllowedTools


class NamedToolChoice(_Choice, tag="function"):
    function: NamedFunction


class NamedCustomChoice(_Choice, tag="custom"):
    custom: NamedFunction


ToolChoice = (
    Literal["none", "auto", "required"] | AllowedToolsChoice | NamedToolChoice | NamedCustomChoice
)


# --- output settings a team ignores, checked all the same ----------------------------


class _Format(msgspec.Struct, kw_only=True, tag_field="type"):
    pass


class TextResponseFormat(_Format, tag="text"):
    pass


class JsonObjectFormat(_Format, tag="json_object"):
    pass


class JsonSchemaSpec(msgspec.Struct, kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    schema: JsonObject | UnsetType = UNSET
    strict: bool | None = None


class JsonSchemaFormat(_Format, tag="json_schema"):
    json_schema: JsonSchemaSpec


class StreamOptions(msgspec.Struct, kw_only=True):
    include_usage: bool | UnsetType = UNSET
    include_obfuscation: bool | UnsetType = UNSET


class CustomVoice(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str


class AudioOutput(msgspec.Struct, kw_only=True):
    voice: str | CustomVoice
    format: Literal["wav", "aac", "mp3", "flac", "opus", "pcm16"]


class Prediction(msgspec.Struct, kw_only=True):
    type: Literal["content"]
    content: str | TextParts


class Location(msgspec.Struct, kw_only=True):
    country: str | UnsetType = UNSET
    region: str | UnsetType = UNSET
    city: str | UnsetType = UNSET
    timezone: str | UnsetType = UNSET


class UserLocation(msgspec.Struct, kw_only=True):
    type: Literal["approximate"]
    approximate: Location


class WebSearchOptions(msgspec.Struct, kw_only=True):
    user_location: UserLocation | None = None
    search_context_size: Literal["low", "medium", "high"] | UnsetType = UNSET


class ModerationConfig(msgspec.Struct, kw_only=True):
    mode: Literal["score", "block"]


class ModerationPolicy(msgspec.Struct, kw_only=True):
    input: ModerationConfig | None = None
    output: ModerationConfig | None = None


class Moderation(msgspec.Struct, kw_only=True):
    model: str
    policy: ModerationPolicy | None = None


class PromptCacheOptions(msgspec.Struct, kw_only=True):
    ttl: Literal["30m"] | UnsetType = UNSET
    mode: Literal["implicit", "explicit"] | UnsetType = UNSET


class ChatCompletionRequest(msgspec.Struct, kw_only=True):
    """Every field of OpenAI's request. troupe reads model, messages, stream,
    stream_options, n, metadata and tool_choice; the team owns the rest."""

    model: str
    messages: Annotated[list[InMessage], Meta(min_length=1)]
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: Annotated[int, Meta(ge=1, le=128)] | None = None
    metadata: dict[str, str] | None = None
    tools: list[FunctionTool | CustomTool] | UnsetType = UNSET
    tool_choice: ToolChoice | UnsetType = UNSET
    parallel_tool_calls: bool | UnsetType = UNSET
    functions: Annotated[list[LegacyFunction], Meta(min_length=1, max_length=128)] | UnsetType = (
        UNSET
    )
    function_call: Literal["none", "auto"] | NamedFunction | UnsetType = UNSET
    user: str | UnsetType = UNSET
    safety_identifier: Annotated[str, Meta(max_length=64)] | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    prompt_cache_options: PromptCacheOptions | UnsetType = UNSET
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Unit | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    logit_bias: dict[str, int] | None = None
    seed: Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)] | None = None
    stop: str | Annotated[list[str], Meta(min_length=1, max_length=4)] | None = None
    response_format: TextResponseFormat | JsonObjectFormat | JsonSchemaFormat | UnsetType = UNSET
    modalities: list[Literal["text", "audio"]] | None = None
    audio: AudioOutput | None = None
    prediction: Prediction | None = None
    store: bool | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority", "fast"] | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = (
        None
    )
    verbosity: Literal["low", "medium", "high"] | None = None
    web_search_options: WebSearchOptions | UnsetType = UNSET
    moderation: Moderation | None = None
    # troupe's: the run goes on when the client goes away (follow it at /v1/runs/{id}/stream).
    background: bool | None = False
