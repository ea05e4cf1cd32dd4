"""A real `troupe serve` process, the official openai SDK, a real fake upstream."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest

from tests.e2e.conftest import Server, Upstream
from troupe.events import AgentStarted, RunEnded, TextDelta, ToolCalled, ToolResultReturned
from troupe.wire import StreamDecoder, events_from_completion

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(server: Server, upstream: Upstream) -> Iterator[openai.OpenAI]:
    upstream.reset()
    with openai.OpenAI(base_url=server.base_url, api_key="sk-e2e", max_retries=0) as client:
        yield client


def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_models_and_auth(server: Server, client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["solo", "duo"]
    with (
        openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0) as wrong,
        pytest.raises(openai.AuthenticationError),
    ):
        wrong.models.list()


def test_streamed_and_whole_answers_are_equal(client: openai.OpenAI, upstream: Upstream) -> None:
    messages = [{"role": "user", "content": "tell me about green tea"}]
    whole = client.chat.completions.create(model="duo", messages=messages)
    stream = client.chat.completions.create(
        model="duo", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    decoder = StreamDecoder()
    content, events, usage = [], [], None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        if chunk.choices and chunk.choices[0].delta.content:
            content.append(chunk.choices[0].delta.content)
        events.extend(decoder.feed(chunk))
    assert "".join(content) == whole.choices[0].message.content
    assert whole.choices[0].message.content.startswith("**writer:** tell me about green tea")
    assert [e.agent for e in events if isinstance(e, AgentStarted)] == ["writer", "critic"]
    assert usage is not None and whole.usage is not None
    assert usage.total_tokens == whole.usage.total_tokens
    # The team's usage is the sum of every upstream call's usage.
    run_end = next(e for e in events if isinstance(e, RunEnded))
    assert run_end.usage.total_tokens == usage.total_tokens > 0
    assert len(upstream.requests()) == 4  # two agents, both requests


def test_tool_call_streamed_in_pieces_runs_on_the_server(
    client: openai.OpenAI, upstream: Upstream
) -> None:
    upstream.script(
        {
            "tool_calls": [
                {
                    "name": "calculator",
                    "arguments": '{"expression": "6*7"}',
                    "id": "call_x",
                    "pieces": 4,
                }
            ]
        },
        {"text": "It is 42."},
    )
    completion = client.chat.completions.create(
        model="solo", messages=[{"role": "user", "content": "6*7?"}]
    )
    message = completion.choices[0].message
    assert message.content == "It is 42."
    assert message.tool_calls is None
    events = events_from_completion(completion)
    call = next(e for e in events if isinstance(e, ToolCalled))
    result = next(e for e in events if isinstance(e, ToolResultReturned))
    assert call.arguments == '{"expression": "6*7"}' and result.content == "42"
    second_request = upstream.requests()[1]
    assert second_request["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_x",
        "content": "42",
    }


def test_client_disconnect_cancels_the_upstream_request(
    client: openai.OpenAI, server: Server, upstream: Upstream
) -> None:
    upstream.script({"text": " ".join(["word"] * 400), "delay": 0.02})
    before = upstream.stats()["streams_cancelled"]
    stream = client.chat.completions.create(
        model="solo", messages=[{"role": "user", "content": "long"}], stream=True
    )
    texts = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            texts += 1
            if texts == 5:
                break
    stream.close()
    wait_for(lambda: upstream.stats()["streams_cancelled"] == before + 1)
    wait_for(lambda: server.health()["active_runs"] == 0)


def test_upstream_failure_mid_stream_then_the_next_request_works(
    client: openai.OpenAI, upstream: Upstream
) -> None:
    upstream.script({"text": "one two three four five", "error_after": 3, "error": "overloaded"})
    stream = client.chat.completions.create(
        model="solo", messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            pass
    assert "agent 'bot'" in caught.value.message
    ok = client.chat.completions.create(
        model="solo", messages=[{"role": "user", "content": "hello again"}]
    )
    assert ok.choices[0].message.content == "hello again"


def test_conversation_continues_across_requests(client: openai.OpenAI, upstream: Upstream) -> None:
    first = client.chat.completions.with_raw_response.create(
        model="solo", messages=[{"role": "user", "content": "first question"}]
    )
    answer = first.parse().choices[0].message.content
    second = client.chat.completions.with_raw_response.create(
        model="solo",
        messages=[
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "second question"},
        ],
    )
    assert second.headers["x-conversation-id"] == first.headers["x-conversation-id"]
    sent = upstream.requests()[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] != "system"] == [
        "first question",
        answer,
        "second question",
    ]


def test_stream_text_deltas_match_upstream_tokens(
    client: openai.OpenAI, upstream: Upstream
) -> None:
    # At a model's pace, each token is a delta of its own.
    upstream.script({"text": "a b c d", "delay": 0.02})
    stream = client.chat.completions.create(
        model="solo", messages=[{"role": "user", "content": "a b c d"}], stream=True
    )
    decoder = StreamDecoder()
    deltas = [e.text for chunk in stream for e in decoder.feed(chunk) if isinstance(e, TextDelta)]
    assert deltas == ["a ", "b ", "c ", "d"]


def test_tokens_that_arrive_together_are_sent_together_whole(
    client: openai.OpenAI, upstream: Upstream
) -> None:
    words = " ".join(f"w{i}" for i in range(400))
    upstream.script({"text": words})  # written at once: the server reads several at a time
    stream = client.chat.completions.create(
        model="solo", messages=[{"role": "user", "content": "go"}], stream=True
    )
    pieces = [chunk.choices[0].delta.content for chunk in stream if chunk.choices]
    texts = [piece for piece in pieces if piece]
    assert "".join(texts) == words
    assert len(texts) < 400
