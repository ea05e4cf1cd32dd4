"""``OllamaModel`` on the official SDK's client against a real local ``/api/chat`` server."""

from __future__ import annotations

import contextlib

import anyio
import pytest

from tests.fakes.ollama_upstream import FakeOllamaServer, Reply, ScriptedCall
from tests.models.conftest import FAST_RETRIES, MakeOllama
from tests.models.helpers import ask, collect, consume, final
from troupe.errors import RequestError, UpstreamError, UpstreamRateLimitError, UpstreamTimeoutError
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
    ModelStreamItem,
    OutputSchema,
    ReasoningChunk,
    TextChunk,
    ToolSpec,
)

pytestmark = pytest.mark.anyio


async def test_streams_text_and_reports_usage(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(Reply(text="the quick brown fox", prompt_eval_count=26, eval_count=4))
    model = make_ollama()
    assert isinstance(model, ChatModel)

    items = await collect(model, ask())

    assert [i.text for i in items if isinstance(i, TextChunk)] == [
        "the ",
        "quick ",
        "brown ",
        "fox",
    ]
    response = final(items)
    assert response.content == "the quick brown fox"
    assert response.usage == Usage(prompt_tokens=26, completion_tokens=4)
    assert (response.finish_reason, response.model) == ("stop", "llama3.2")


async def test_streams_thinking_first(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(Reply(thinking="Two and two make four.", text="4"))

    items = await collect(make_ollama("qwen3", think=True), ask("2+2?"))

    assert all(isinstance(i, ReasoningChunk) for i in items[:3])
    response = final(items)
    assert (response.reasoning, response.content) == ("Two and two make four.", "4")
    assert ollama_fake.requests[0]["think"] is True


@pytest.mark.parametrize("one_line", [False, True])
async def test_reads_parallel_tool_calls(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer, one_line: bool
) -> None:
    ollama_fake.script(
        Reply(
            tool_calls=[
                ScriptedCall(name="get_weather", arguments='{"city": "Paris"}'),
                ScriptedCall(name="get_time", arguments='{"tz": "Europe/Paris"}', id="call_given"),
            ],
            calls_in_one_line=one_line,
        )
    )

    response = final(await collect(make_ollama(), ask(tools=(ToolSpec(name="get_weather"),))))

    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("get_weather", '{"city":"Paris"}'),
        ("get_time", '{"tz":"Europe/Paris"}'),
    ]
    first, second = (c.id for c in response.tool_calls)
    assert first.startswith("call_") and second == "call_given"
    assert response.finish_reason == "tool_calls"


async def test_generated_call_ids_are_unique_across_answers(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    model = make_ollama()
    ids = []
    for _ in range(2):
        ollama_fake.script(Reply(tool_calls=[ScriptedCall(name="f")]))
        ids += [c.id for c in final(await collect(model, ask())).tool_calls]

    assert len(set(ids)) == 2


async def test_maps_a_length_stop(make_ollama: MakeOllama, ollama_fake: FakeOllamaServer) -> None:
    ollama_fake.script(Reply(text="cut", done_reason="length"))

    assert final(await collect(make_ollama(), ask())).finish_reason == "length"


NESTED = {
    "type": "object",
    "properties": {
        "filters": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "value": {"type": "string"}},
                "required": ["field", "value"],
                "additionalProperties": False,
            },
        },
        "when": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["filters", "when"],
    "additionalProperties": False,
}


async def test_sends_the_conversation_in_ollama_shape(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    messages: tuple[Message, ...] = (
        SystemMessage(content="Be brief."),
        UserMessage(
            content=(
                TextPart(text="what is this?"),
                ImagePart(url="data:image/png;base64,iVBORw0KGgo="),
            )
        ),
        AssistantMessage(
            source="bot",
            tool_calls=(ToolCall(id="c1", name="search", arguments='{"filters": []}'),),
        ),
        ToolMessage(call_id="c1", name="search", content="nothing", source="bot"),
    )
    tool = ToolSpec(name="search", description="Search.", parameters=NESTED)
    model = make_ollama(
        settings={"temperature": 0.2, "max_tokens": 64, "seed": 7, "stop": ["END"]},
        options={"num_ctx": 8192},
        keep_alive="10m",
    )

    await collect(model, ModelRequest(messages=messages, tools=(tool,)))

    body = ollama_fake.requests[0]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "what is this?", "images": ["iVBORw0KGgo="]},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "search", "arguments": {"filters": []}}}],
        },
        {"role": "tool", "content": "nothing", "tool_name": "search"},
    ]
    # The schema arrives whole: nested properties, anyOf and additionalProperties included.
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "search", "parameters": NESTED, "description": "Search."},
        }
    ]
    assert body["options"] == {
        "temperature": 0.2, "num_predict": 64, "seed": 7, "stop": ["END"], "num_ctx": 8192
    }  # fmt: skip
    assert (body["keep_alive"], body["stream"]) == ("10m", True)


async def test_tool_choice_none_offers_no_tools(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    await collect(make_ollama(), ask(tools=(ToolSpec(name="f"),), tool_choice="none"))

    assert "tools" not in ollama_fake.requests[0]


async def test_sends_structured_output_as_the_format(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

    await collect(make_ollama(), ask(output_schema=OutputSchema(schema=schema)))

    assert ollama_fake.requests[0]["format"] == schema


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://example.com/cat.png", "ollama takes images only as base64 data: URIs"),
        ("/etc/passwd", "ollama takes images only as base64 data: URIs"),
        ("data:image/png;base64,%%%%", "invalid base64"),
    ],
)
async def test_refuses_images_it_cannot_send(make_ollama: MakeOllama, url: str, says: str) -> None:
    request = ModelRequest(messages=(UserMessage(content=(ImagePart(url=url),)),))

    with pytest.raises(RequestError, match=says):
        await collect(make_ollama(), request)


async def test_an_api_key_is_sent_as_a_bearer_token_and_masked_in_errors(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(Reply(status=401, error="unauthorized key ol-secret-123"))

    with pytest.raises(UpstreamError, match=r"HTTP 401: unauthorized key \*\*\*") as err:
        await collect(make_ollama(api_key="ol-secret-123"), ask())

    assert ollama_fake.request_headers[0]["authorization"] == "Bearer ol-secret-123"
    assert "ol-secret-123" not in str(err.value)


# --- errors ---


async def test_a_missing_model_says_what_ollama_said(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(Reply(status=404, error="model 'llama9' not found, try pulling it first"))

    with pytest.raises(UpstreamError) as err:
        await collect(make_ollama("llama9", retry=FAST_RETRIES), ask())

    message = str(err.value)
    for part in ("ollama model 'llama9'", ollama_fake.base_url, "HTTP 404",
                 "model 'llama9' not found", "check the model name"):  # fmt: skip
        assert part in message
    assert ollama_fake.stats.requests == 1


async def test_retries_server_errors(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(
        Reply(status=500, error="runner crashed"), Reply(status=503), Reply(text="ok")
    )

    assert final(await collect(make_ollama(retry=FAST_RETRIES), ask())).content == "ok"
    assert ollama_fake.stats.requests == 3


async def test_a_rate_limit_waits_what_retry_after_says(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(
        Reply(status=429, error="too many requests", retry_after="0.3"), Reply(text="ok")
    )

    assert final(await collect(make_ollama(retry=FAST_RETRIES), ask())).content == "ok"
    first, second = ollama_fake.request_times
    assert second - first >= 0.3


async def test_a_rate_limit_after_the_retries_is_a_429(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(Reply(status=429, error="too many requests"))

    with pytest.raises(UpstreamRateLimitError, match="rate limited"):
        await collect(make_ollama(), ask())


async def test_an_error_line_mid_stream(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(Reply(text="a b c d", error_after=2, error="out of memory"))
    seen: list[ModelStreamItem] = []

    with pytest.raises(UpstreamError, match="failed mid-stream: out of memory"):
        await consume(make_ollama(retry=FAST_RETRIES).stream(ask()), seen)

    # What went out before the failure (joined where it arrived in one read).
    assert "".join(i.text for i in seen if isinstance(i, TextChunk)) == "a b "
    assert ollama_fake.stats.requests == 1  # never replayed once text has streamed


async def test_a_cut_stream(make_ollama: MakeOllama, ollama_fake: FakeOllamaServer) -> None:
    ollama_fake.script(Reply(text="a b c d", disconnect_after=2))

    with pytest.raises(UpstreamError, match="the stream broke off after 2 lines"):
        await collect(make_ollama(), ask())


async def test_a_slow_first_byte_times_out_then_is_retried(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(Reply(first_byte_delay=1.0), Reply(text="loaded"))

    response = final(await collect(make_ollama(timeout=0.3, retry=FAST_RETRIES), ask()))

    assert response.content == "loaded"
    assert ollama_fake.stats.requests == 2


async def test_no_answer_within_the_timeout_is_a_504(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(Reply(hang=True))

    with pytest.raises(UpstreamTimeoutError, match=r"no response within 0\.3s"):
        await collect(make_ollama(timeout=0.3), ask())


async def test_nobody_listening_is_a_connection_error(make_ollama: MakeOllama) -> None:
    with pytest.raises(UpstreamError, match="cannot connect"):
        await collect(make_ollama(base_url="127.0.0.1:9"), ask())


# --- cancellation ---


async def test_cancelling_the_consumer_closes_the_upstream_stream(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(Reply(text="a b c d e", hang_after=2))

    with anyio.CancelScope() as scope:
        async for item in make_ollama().stream(ask()):
            if isinstance(item, TextChunk):
                scope.cancel()

    assert scope.cancelled_caught
    await ollama_fake.wait_until(lambda: ollama_fake.stats.streams_cancelled == 1)


async def test_a_consumer_that_stops_early_closes_the_upstream_stream(
    make_ollama: MakeOllama, ollama_fake: FakeOllamaServer
) -> None:
    ollama_fake.script(Reply(text="a b c d e", delay=0.05))
    model = make_ollama()

    async with contextlib.aclosing(model.stream(ask())) as items:
        async for _ in items:
            break

    await ollama_fake.wait_until(lambda: ollama_fake.stats.streams_cancelled == 1)
    assert final(await collect(model, ask("again"))).content == "again"
