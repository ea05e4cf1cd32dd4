"""``OpenAIModel`` through the real SDK against a real local OpenAI-compatible server."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

import anyio
import httpx2
import pytest

from tests.fakes.openai_upstream import FakeOpenAIServer, Reply, ScriptedCall
from tests.models.conftest import MakeModel
from troupe.errors import ConfigError, UpstreamError, UpstreamRateLimitError, UpstreamTimeoutError
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
from troupe.models import _guard
from troupe.models._base import (
    ChatModel,
    ModelRequest,
    ModelResponse,
    ModelStreamItem,
    ReasoningChunk,
    TextChunk,
    ToolCallChunk,
    ToolSpec,
)
from troupe.models.openai import OpenAIModel

pytestmark = pytest.mark.anyio


def ask(text: str = "hello there", **kwargs: object) -> ModelRequest:
    return ModelRequest(messages=(UserMessage(content=text),), **kwargs)  # type: ignore[arg-type]


async def collect(model: ChatModel, request: ModelRequest) -> list[ModelStreamItem]:
    return [item async for item in model.stream(request)]


async def consume(stream: AsyncIterator[ModelStreamItem], into: list[ModelStreamItem]) -> None:
    async for item in stream:
        into.append(item)


def final(items: list[ModelStreamItem]) -> ModelResponse:
    assert isinstance(items[-1], ModelResponse)
    assert not any(isinstance(item, ModelResponse) for item in items[:-1])
    return items[-1]


async def test_streams_text_then_a_complete_response(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    model = make_model("gpt-4o-mini")
    assert isinstance(model, ChatModel)
    fake.script(Reply(text="the quick brown fox", delay=0.02))  # a model's pace

    items = await collect(model, ask("the quick brown fox"))

    texts = [item.text for item in items if isinstance(item, TextChunk)]
    assert texts == ["the ", "quick ", "brown ", "fox"]
    response = final(items)
    assert response.content == "the quick brown fox"
    assert response.finish_reason == "stop"
    assert response.model == "gpt-4o-mini"
    assert response.usage.completion_tokens == 4


async def test_assembles_two_parallel_tool_calls_from_fragments(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(
        Reply(
            tool_calls=[
                ScriptedCall(
                    name="get_weather", arguments='{"city": "Paris", "unit": "C"}', id="call_a"
                ),
                ScriptedCall(
                    name="get_time", arguments='{"tz": "Europe/Paris"}', id="call_b", pieces=4
                ),
            ]
        )
    )
    tools = (ToolSpec(name="get_weather"), ToolSpec(name="get_time"))

    items = await collect(make_model(), ask("weather and time?", tools=tools))

    fragments = [item for item in items if isinstance(item, ToolCallChunk)]
    assert len(fragments) == 2 + 3 + 4
    assert {f.index for f in fragments} == {0, 1}
    response = final(items)
    assert response.tool_calls == (
        ToolCall(id="call_a", name="get_weather", arguments='{"city": "Paris", "unit": "C"}'),
        ToolCall(id="call_b", name="get_time", arguments='{"tz": "Europe/Paris"}'),
    )
    assert response.finish_reason == "tool_calls"
    assert response.content == ""


async def test_reports_usage_with_cached_and_reasoning_tokens(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(
        Reply(
            text="ok",
            prompt_tokens=120,
            completion_tokens=30,
            cached_tokens=64,
            reasoning_tokens=20,
        )
    )

    response = final(await collect(make_model(), ask()))

    assert response.usage == Usage(
        prompt_tokens=120, completion_tokens=30, cached_tokens=64, reasoning_tokens=20
    )
    assert fake.requests[0]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_streams_reasoning_from_the_extra_delta_fields(
    make_model: MakeModel, fake: FakeOpenAIServer, field: str
) -> None:
    fake.script(
        Reply(reasoning="first think, then answer", reasoning_field=field, text="42", delay=0.02)
    )

    items = await collect(make_model(), ask())

    reasoning = [item.text for item in items if isinstance(item, ReasoningChunk)]
    assert len(reasoning) > 1
    first_text = next(i for i, item in enumerate(items) if isinstance(item, TextChunk))
    assert all(isinstance(item, ReasoningChunk) for item in items[:first_text])
    response = final(items)
    assert response.reasoning == "first think, then answer"
    assert response.content == "42"


@pytest.mark.parametrize(
    ("sent", "expected"),
    [("length", "length"), ("content_filter", "content_filter"), ("stop", "stop"), ("eos", "stop")],
)
async def test_maps_finish_reasons(
    make_model: MakeModel, fake: FakeOpenAIServer, sent: str, expected: str
) -> None:
    fake.script(Reply(text="cut short", finish_reason=sent))

    response = final(await collect(make_model(), ask()))

    assert response.finish_reason == expected
    assert response.content == "cut short"


async def test_turns_a_legacy_function_call_into_a_tool_call(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(
        Reply(
            tool_calls=[ScriptedCall(name="lookup", arguments='{"q": "x"}')],
            legacy_function_call=True,
        )
    )

    response = final(await collect(make_model(), ask(tools=(ToolSpec(name="lookup"),))))

    assert [(c.name, c.arguments) for c in response.tool_calls] == [("lookup", '{"q": "x"}')]
    assert response.tool_calls[0].id
    assert response.finish_reason == "tool_calls"


async def test_sends_the_conversation_in_openai_shape(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    messages: tuple[Message, ...] = (
        SystemMessage(content="be brief"),
        UserMessage(
            content=(
                TextPart(text="what is in these?"),
                ImagePart(url="https://example.com/cat.png"),
                ImagePart(url="data:image/png;base64,iVBORw0KGgo=", detail="low"),
            )
        ),
        AssistantMessage(
            source="looker",
            tool_calls=(ToolCall(id="call_1", name="zoom", arguments='{"factor": 2}'),),
        ),
        ToolMessage(call_id="call_1", name="zoom", content="a cat, zoomed", source="looker"),
        AssistantMessage(source="looker", content="A cat.", reasoning="not sent back"),
    )
    tool = ToolSpec(
        name="zoom",
        description="Zoom into the image.",
        parameters={
            "type": "object",
            "properties": {"factor": {"type": "integer"}},
            "required": ["factor"],
        },
        strict=True,
    )

    await collect(
        make_model(), ModelRequest(messages=messages, tools=(tool,), tool_choice="required")
    )

    body = fake.requests[0]
    assert body["model"] == "gpt-test"
    assert body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is in these?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "zoom", "arguments": '{"factor": 2}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat, zoomed"},
        {"role": "assistant", "content": "A cat."},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "zoom",
                "description": "Zoom into the image.",
                "parameters": tool.parameters,
                "strict": True,
            },
        }
    ]
    assert body["tool_choice"] == "required"


async def test_leaves_tools_out_when_there_are_none(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    await collect(make_model(), ask())

    assert "tools" not in fake.requests[0]
    assert "tool_choice" not in fake.requests[0]


async def test_passes_settings_and_headers_through(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    settings = {
        "temperature": 0.2,
        "max_tokens": 64,
        "top_p": 0.9,
        "seed": 7,
        "stop": ["END"],
        "top_k": 40,
    }
    model = make_model(settings=settings, default_headers={"X-Team": "support"})

    await collect(model, ask())
    await collect(model, ask())

    for body in fake.requests:
        assert {k: body[k] for k in settings} == settings
    headers = fake.request_headers[0]
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["x-team"] == "support"


async def test_sends_the_organization_and_project_from_the_environment_as_the_sdk_does(
    make_model: MakeModel, fake: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-123")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_456")

    await collect(make_model(), ask())

    headers = fake.request_headers[0]
    assert headers["openai-organization"] == "org-123"
    assert headers["openai-project"] == "proj_456"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("troupe/")


async def test_consecutive_calls_reuse_one_connection(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    model = make_model()

    for text in ("one", "two", "three"):
        assert final(await collect(model, ask(text))).content == text

    assert len(set(fake.request_peers)) == 1


def test_refuses_settings_that_troupe_sets_itself() -> None:
    with pytest.raises(ConfigError, match=r"settings\.stream"):
        OpenAIModel("gpt-test", api_key="x", settings={"stream": False, "temperature": 1})


@pytest.mark.parametrize("key", ["none", ""])
async def test_works_without_a_real_key_for_local_servers(
    make_model: MakeModel, fake: FakeOpenAIServer, key: str
) -> None:
    response = final(await collect(make_model(api_key=key), ask("hi")))

    assert response.content == "hi"
    assert fake.request_headers[0]["authorization"] == "Bearer none"


async def test_says_so_when_the_openai_key_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", _guard.ENV_VAR):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_guard, "_blocked", False)
    model = OpenAIModel("gpt-4o")

    with pytest.raises(
        UpstreamError, match="no API key: pass api_key or set OPENAI_API_KEY"
    ) as err:
        await collect(model, ask())
    assert err.value.code == "missing_api_key"


async def test_retries_without_stream_options_when_the_server_rejects_them(
    make_model: MakeModel,
) -> None:
    async with FakeOpenAIServer(reject_stream_options=True) as strict:
        model = make_model(base_url=strict.base_url)

        first = final(await collect(model, ask("one two")))
        second = final(await collect(model, ask("three")))

    assert (first.content, second.content) == ("one two", "three")
    assert first.usage == Usage()
    # The first call learned it; the second does not try again.
    assert ["stream_options" in body for body in strict.requests] == [True, False, False]


# --- errors ---


async def test_maps_401_to_an_upstream_error_saying_what_the_provider_said(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(
        Reply(
            status=401,
            error="Incorrect API key provided: sk-test",
            error_type="invalid_request_error",
        )
    )

    with pytest.raises(UpstreamError) as err:
        await collect(make_model("gpt-4o"), ask())

    message = str(err.value)
    assert type(err.value) is UpstreamError
    for part in (
        "openai",
        "'gpt-4o'",
        fake.base_url,
        "HTTP 401",
        "Incorrect API key provided",
        "API key",
    ):
        assert part in message
    assert (err.value.provider, err.value.model) == ("openai", "gpt-4o")


async def test_maps_429_to_a_rate_limit_error(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(status=429, error="Rate limit reached for gpt-4o", error_type="requests"))

    with pytest.raises(
        UpstreamRateLimitError, match="rate limited \\(HTTP 429\\): Rate limit reached"
    ):
        await collect(make_model(), ask())


async def test_maps_500_to_an_upstream_error_with_the_status(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(status=500, error="The server had an error"))

    with pytest.raises(UpstreamError, match="HTTP 500: The server had an error") as err:
        await collect(make_model(), ask())
    assert type(err.value) is UpstreamError


async def test_retries_server_errors_before_the_first_byte(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(status=503, error="overloaded"), Reply(status=500), Reply(text="made it"))

    response = final(await collect(make_model(max_retries=2), ask()))

    assert response.content == "made it"
    assert fake.stats.requests == 3


async def test_maps_a_refused_connection_to_an_upstream_error(make_model: MakeModel) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"

    with pytest.raises(UpstreamError, match="cannot connect") as err:
        await collect(make_model(base_url=base_url), ask())

    assert type(err.value) is UpstreamError
    assert base_url in str(err.value)


async def test_maps_no_answer_to_a_timeout_error(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(hang=True))

    with pytest.raises(UpstreamTimeoutError, match=r"no response within 0\.3s"):
        await collect(make_model(timeout=0.3), ask())


async def test_maps_a_stalled_stream_to_a_timeout_error(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(text="a b c d e", hang_after=3))
    seen: list[ModelStreamItem] = []

    with pytest.raises(UpstreamTimeoutError, match=r"stalled: no data for 0\.3s after 3 chunks"):
        await consume(make_model(timeout=0.3).stream(ask()), seen)

    # What went out before the failure (joined where it arrived in one read).
    assert "".join(i.text for i in seen if isinstance(i, TextChunk)) == "a b "


async def test_a_stalled_stream_closes_its_request(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(text="a b c d e", hang_after=3))

    with pytest.raises(UpstreamTimeoutError, match="stalled"):
        await collect(make_model(timeout=0.3), ask())

    await fake.wait_until(lambda: fake.stats.streams_cancelled == 1)


async def test_a_slow_stream_that_keeps_coming_is_not_timed_out(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    # Every chunk comes within the timeout; the whole answer takes several times it.
    fake.script(Reply(text="a b c d e f g h i j", delay=0.12))

    response = final(await collect(make_model(timeout=0.3), ask()))

    assert response.content == "a b c d e f g h i j"


async def test_a_reader_that_falls_behind_is_not_timed_out(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    # The whole answer (~450 KB, over the client's buffer) is sent at once, and its reader
    # stops for several times the timeout: the body waits for the reader, nothing stalled.
    text = " ".join(["word"] * 3000)
    fake.script(Reply(text=text))
    items: list[ModelStreamItem] = []

    async with contextlib.aclosing(make_model(timeout=0.2).stream(ask())) as stream:
        async for item in stream:
            if not items:
                await anyio.sleep(1.0)
            items.append(item)

    assert final(items).content == text


async def test_maps_an_error_event_mid_stream(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(text="a b c d", error_after=3, error="The model produced invalid content"))
    seen: list[ModelStreamItem] = []

    with pytest.raises(
        UpstreamError, match="failed mid-stream: The model produced invalid content"
    ):
        await consume(make_model().stream(ask()), seen)

    # What went out before the failure (joined where it arrived in one read).
    assert "".join(i.text for i in seen if isinstance(i, TextChunk)) == "a b "


async def test_maps_a_dropped_connection_mid_stream(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(text="a b c d", disconnect_after=3))

    with pytest.raises(UpstreamError, match="the stream broke off after 3 chunks") as err:
        await collect(make_model(), ask())
    assert type(err.value) is UpstreamError


async def test_says_so_when_a_server_ignores_the_stream_request(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(text="all at once", ignore_stream=True))

    with pytest.raises(UpstreamError, match=r"without finishing the answer \(application/json"):
        await collect(make_model(), ask())


# --- cancellation ---


async def test_cancelling_the_consumer_closes_the_upstream_stream(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(text="a b c d e", hang_after=3))

    with anyio.CancelScope() as scope:
        async for item in make_model().stream(ask()):
            if isinstance(item, TextChunk):
                scope.cancel()

    assert scope.cancelled_caught
    await fake.wait_until(lambda: fake.stats.streams_cancelled == 1)
    assert fake.stats.streams_completed == 0


async def test_a_consumer_that_stops_early_closes_the_upstream_stream(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(text="a b c d e", delay=0.05))
    model = make_model()

    async with contextlib.aclosing(model.stream(ask())) as items:
        async for _ in items:
            break

    await fake.wait_until(lambda: fake.stats.streams_cancelled == 1)
    # The model stays usable and answers the next call in full.
    assert final(await collect(model, ask("again"))).content == "again"


# --- the guard ---


async def test_blocked_requests_never_reach_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_guard, "_blocked", True)
    sent: list[httpx2.Request] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(500)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(record)) as client:
        model = OpenAIModel(
            "gpt-4o", base_url="https://api.openai.com/v1", api_key="sk-x", http_client=client
        )
        with pytest.raises(_guard.ModelRequestsBlockedError, match=r"api\.openai\.com"):
            await collect(model, ask())

    assert sent == []


async def test_blocked_requests_still_reach_loopback_servers(
    make_model: MakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_guard, "_blocked", True)

    assert final(await collect(make_model(), ask("local"))).content == "local"
