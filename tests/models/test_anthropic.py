"""``AnthropicModel`` through the real SDK against a real local Messages API server."""

from __future__ import annotations

import pytest

from tests.fakes.anthropic_upstream import FakeAnthropicServer, Reply, ScriptedCall
from tests.models.conftest import MakeAnthropic
from tests.models.helpers import ask, collect, final
from troupe.errors import (
    ConfigError,
    RequestError,
)
from troupe.messages import (
    AssistantMessage,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from troupe.models import (
    ChatModel,
    ModelRequest,
    OutputSchema,
    ReasoningChunk,
    TextChunk,
    ToolCallChunk,
    ToolSpec,
)
from troupe.models.anthropic import AnthropicModel

pytestmark = pytest.mark.anyio


async def test_streams_text_then_a_complete_response(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    model = make_anthropic()
    assert isinstance(model, ChatModel)
    anthropic_fake.script(Reply(text="the quick brown fox", delay=0.02))  # a model's pace

    items = await collect(model, ask("the quick brown fox"))

    assert [i.text for i in items if isinstance(i, TextChunk)] == [
        "the ",
        "quick ",
        "brown ",
        "fox",
    ]
    response = final(items)
    assert response.content == "the quick brown fox"
    assert response.finish_reason == "stop"
    assert response.model == "claude-sonnet-4-5"


async def test_reports_usage_with_cache_and_thinking_tokens(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(
        Reply(
            text="ok",
            input_tokens=100,
            output_tokens=40,
            cache_creation_input_tokens=300,
            cache_read_input_tokens=1200,
            thinking_tokens=25,
        )
    )

    response = final(await collect(make_anthropic(), ask()))

    # Anthropic counts cache writes and reads apart from input_tokens; troupe's prompt is all three.
    assert response.usage == Usage(
        prompt_tokens=1600, completion_tokens=40, cached_tokens=1200, reasoning_tokens=25
    )


async def test_assembles_parallel_tool_calls_from_json_fragments(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(
        Reply(
            text="Let me check.",
            tool_calls=[
                ScriptedCall(name="get_weather", arguments='{"city": "Paris", "unit": "C"}'),
                ScriptedCall(name="get_time", arguments='{"tz": "Europe/Paris"}', pieces=5),
            ],
        )
    )
    tools = (ToolSpec(name="get_weather"), ToolSpec(name="get_time"))

    items = await collect(make_anthropic(), ask("weather and time?", tools=tools))

    fragments = [i for i in items if isinstance(i, ToolCallChunk)]
    assert [f.index for f in fragments if f.name] == [0, 1]
    assert len([f for f in fragments if f.arguments]) == 3 + 5
    response = final(items)
    assert response.content == "Let me check."
    assert response.tool_calls == (
        ToolCall(id="toolu_00", name="get_weather", arguments='{"city": "Paris", "unit": "C"}'),
        ToolCall(id="toolu_01", name="get_time", arguments='{"tz": "Europe/Paris"}'),
    )
    assert response.finish_reason == "tool_calls"


async def test_a_call_without_arguments_gets_an_empty_object(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(Reply(tool_calls=[ScriptedCall(name="now", arguments="", pieces=1)]))

    response = final(await collect(make_anthropic(), ask(tools=(ToolSpec(name="now"),))))

    assert response.tool_calls[0].arguments == "{}"


async def test_streams_thinking_before_the_answer_with_its_signature(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(
        Reply(thinking="Two and two: four.", signature="sig-123", text="4", delay=0.02)
    )
    model = make_anthropic(thinking={"type": "enabled", "budget_tokens": 2048})

    items = await collect(model, ask("2+2?"))

    reasoning = [i.text for i in items if isinstance(i, ReasoningChunk)]
    assert len(reasoning) == 3
    first_text = next(n for n, i in enumerate(items) if isinstance(i, TextChunk))
    assert all(isinstance(i, ReasoningChunk) for i in items[:first_text])
    response = final(items)
    assert (response.reasoning, response.reasoning_signature) == ("Two and two: four.", "sig-123")
    body = anthropic_fake.requests[0]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048  # the API wants the budget below max_tokens


async def test_redacted_thinking_is_not_shown(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(Reply(redacted_thinking="EmwKAhgBEgy3va3pzix", text="done"))

    response = final(await collect(make_anthropic(), ask()))

    assert (response.reasoning, response.content) == ("", "done")


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("refusal", "content_filter"),
        ("model_context_window_exceeded", "length"),
        ("pause_turn", "stop"),
    ],
)
async def test_maps_stop_reasons(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer, stop: str, expected: str
) -> None:
    anthropic_fake.script(Reply(text="cut", stop_reason=stop))

    assert final(await collect(make_anthropic(), ask())).finish_reason == expected


CONVERSATION: tuple[Message, ...] = (
    SystemMessage(content="Be brief."),
    SystemMessage(content="Answer in English."),
    UserMessage(
        content=(
            TextPart(text="what is in these?"),
            ImagePart(url="https://example.com/cat.png"),
            ImagePart(url="data:image/png;base64,iVBORw0KGgo="),
        )
    ),
    AssistantMessage(
        source="looker",
        content="Zooming in.",
        reasoning="kept, not sent: no signature",
        tool_calls=(
            ToolCall(id="toolu_1", name="zoom", arguments='{"factor": 2}'),
            ToolCall(id="toolu_2", name="zoom", arguments="not json"),
        ),
    ),
    ToolMessage(call_id="toolu_1", name="zoom", content="a cat", source="looker"),
    ToolMessage(call_id="toolu_2", name="zoom", content="bad args", source="looker", is_error=True),
    AssistantMessage(source="looker", content=""),
    UserMessage(content="thanks", source="critic"),
)


async def test_sends_the_conversation_in_anthropic_shape(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    tool = ToolSpec(
        name="zoom",
        description="Zoom in.",
        parameters={"type": "object", "properties": {"factor": {"type": "integer"}}},
    )
    model = make_anthropic(settings={"temperature": 0.3, "stop": "END", "top_k": 5})

    await collect(model, ModelRequest(messages=CONVERSATION, tools=(tool,), tool_choice="required"))

    body = anthropic_fake.requests[0]
    assert body["system"] == "Be brief.\n\nAnswer in English."
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is in these?"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Zooming in."},
                {"type": "tool_use", "id": "toolu_1", "name": "zoom", "input": {"factor": 2}},
                {"type": "tool_use", "id": "toolu_2", "name": "zoom", "input": {}},
            ],
        },
        {  # both results in one user message, then the next user text in the same turn
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a cat"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": "bad args",
                    "is_error": True,
                },
                {"type": "text", "text": "thanks"},
            ],
        },
    ]
    assert body["tools"] == [
        {"name": "zoom", "input_schema": tool.parameters, "description": "Zoom in."}
    ]
    assert body["tool_choice"] == {"type": "any"}
    assert (body["temperature"], body["top_k"], body["stop_sequences"]) == (0.3, 5, ["END"])
    assert body["max_tokens"] == 4096
    assert "thinking" not in body


async def test_sends_structured_output_as_a_json_schema_format(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    }

    await collect(make_anthropic(), ask(output_schema=OutputSchema(schema=schema, name="answer")))

    assert anthropic_fake.requests[0]["output_config"] == {
        "format": {"type": "json_schema", "schema": schema}
    }


async def test_thinking_is_left_out_where_the_api_would_refuse_it(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    model = make_anthropic(thinking={"type": "adaptive"})
    after_tools = CONVERSATION[:6]  # ends with tool results of an unsigned tool_use turn

    await collect(model, ModelRequest(messages=after_tools))
    await collect(model, ask(tools=(ToolSpec(name="zoom"),), tool_choice="required"))
    await collect(model, ask())

    assert ["thinking" in body for body in anthropic_fake.requests] == [False, False, True]


@pytest.mark.parametrize("url", ["data:image/svg+xml;base64,PHN2Zz4=", "data:image/png,rawbytes"])
async def test_refuses_images_the_api_cannot_take(make_anthropic: MakeAnthropic, url: str) -> None:
    request = ModelRequest(messages=(UserMessage(content=(ImagePart(url=url),)),))

    with pytest.raises(RequestError, match="anthropic takes images as URLs or base64"):
        await collect(make_anthropic(), request)


def test_config_errors_name_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"\$\.seed: Anthropic's API has no seed"):
        AnthropicModel("claude-x", api_key="k", settings={"seed": 1})
    with pytest.raises(ConfigError, match=r"\$\.thinking\.budget_tokens: must be less than"):
        AnthropicModel(
            "claude-x",
            api_key="k",
            settings={"max_tokens": 1024},
            thinking={"type": "enabled", "budget_tokens": 2048},
        )


async def test_sends_the_key_and_the_api_version(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    await collect(make_anthropic(default_headers={"X-Team": "support"}), ask())

    headers = anthropic_fake.request_headers[0]
    assert "sk-ant-test-key" in (headers.get("x-api-key", "") + headers.get("authorization", ""))
    assert headers["anthropic-version"]
    assert headers["x-team"] == "support"


async def test_a_conversation_cut_to_start_with_the_assistant_gets_a_user_turn_first(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    messages = (SystemMessage(content="s"), AssistantMessage(source="bot", content="Earlier."),
                UserMessage(content="and now?"))  # fmt: skip

    await collect(make_anthropic(), ModelRequest(messages=messages))

    assert [turn["role"] for turn in anthropic_fake.requests[0]["messages"]] == [
        "user",
        "assistant",
        "user",
    ]
