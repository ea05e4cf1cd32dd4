"""troupe.wire: what the encoder writes, the decoder reads back."""

from __future__ import annotations

import json

import msgspec

from tests.spec import validate
from troupe.events import (
    AgentFinished,
    AgentStarted,
    Event,
    HandoffOccurred,
    InputRequested,
    RunEnded,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)
from troupe.messages import Usage
from troupe.wire import (
    ChunkEncoder,
    CompletionBuilder,
    Renderer,
    StreamDecoder,
    events_from_completion,
)


def encode_all(events: list[Event], renderer: Renderer) -> list[dict]:  # type: ignore[type-arg]
    encoder = ChunkEncoder("chatcmpl-1", 1, "team", renderer)
    frames = [encoder.start()] + [encoder.encode(e) for e in events if not isinstance(e, RunEnded)]
    run_end = next((e for e in events if isinstance(e, RunEnded)), None)
    frames.append(encoder.finish(run_end, Usage(prompt_tokens=3, completion_tokens=4)))
    chunks = []
    for frame in b"".join(frames).split(b"\n\n"):
        if frame and frame != b"data: [DONE]":
            chunk = json.loads(frame.removeprefix(b"data: "))
            validate(chunk, "CreateChatCompletionStreamResponse")
            chunks.append(chunk)
    return chunks


EVENTS: list[Event] = [
    AgentStarted(agent="writer", message_id="m1"),
    TextDelta(agent="writer", message_id="m1", text="Hello "),
    ToolCalled(agent="writer", call_id="c1", name="search", arguments='{"q": "tea"}'),
    ToolResultReturned(
        agent="writer", call_id="c1", name="search", content="green", is_error=False
    ),
    TextDelta(agent="writer", message_id="m1", text="world"),
    AgentFinished(agent="writer", message_id="m1"),
    HandoffOccurred(agent="writer", target="critic", message="over to you"),
    AgentStarted(agent="critic", message_id="m2"),
    TextDelta(agent="critic", message_id="m2", text="Nice."),
    AgentFinished(agent="critic", message_id="m2"),
    InputRequested(agent="critic", prompt="More?"),
    RunEnded(agent="team", stop_reason="input requested", conversation_id="conv_1", turns=2),
]


def test_round_trip_stream() -> None:
    chunks = encode_all(EVENTS, Renderer(speaker_lines=True))
    decoder = StreamDecoder()
    decoded = [e for chunk in chunks for e in decoder.feed(chunk)]
    assert decoded == EVENTS
    assert decoder.usage == Usage(prompt_tokens=3, completion_tokens=4)
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == "**writer:** Hello world\n\n**critic:** Nice.\n\nMore?"


def test_non_answer_agents_write_to_reasoning_content() -> None:
    chunks = encode_all(EVENTS, Renderer(answer_agents=frozenset({"critic"})))
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    reasoning = "".join(
        c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks if c["choices"]
    )
    assert content == "Nice.\n\nMore?"
    assert (
        "**writer:** Hello " in reasoning
        and "calls `search" in reasoning
        and "hands off to `critic`" in reasoning
    )
    decoder = StreamDecoder()
    assert [e for c in chunks for e in decoder.feed(c)] == EVENTS


def test_interleaved_messages_carry_attribution() -> None:
    events: list[Event] = [
        AgentStarted(agent="a", message_id="ma"),
        AgentStarted(agent="b", message_id="mb"),
        TextDelta(agent="a", message_id="ma", text="from a"),
        TextDelta(agent="b", message_id="mb", text="from b"),
        TextDelta(agent="a", message_id="ma", text=" again"),
        AgentFinished(agent="a", message_id="ma"),
        AgentFinished(agent="b", message_id="mb"),
    ]
    chunks = encode_all(events, Renderer())
    texts = [
        c
        for c in chunks
        if c["choices"] and c["choices"][0]["delta"].get("content") in ("from a", "from b")
    ]
    assert all(c["choices"][0]["delta"]["troupe"]["type"] == "text" for c in texts)
    decoder = StreamDecoder()
    assert [e for c in chunks for e in decoder.feed(c)] == events


def test_unknown_event_types_are_ignored_and_plain_chunks_decode() -> None:
    decoder = StreamDecoder()
    future = {
        "choices": [
            {
                "index": 0,
                "delta": {"troupe": {"type": "hologram", "agent": "x"}},
                "finish_reason": None,
            }
        ]
    }
    assert decoder.feed(future) == []
    plain = {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
    assert decoder.feed(plain) == [TextDelta(agent="assistant", message_id="", text="hi")]


def test_non_stream_lists_events_with_text_merged() -> None:
    builder = CompletionBuilder("chatcmpl-1", 1, "team", Renderer(speaker_lines=True))
    for event in EVENTS:
        builder.add(event)
    body = json.loads(builder.build(Usage(prompt_tokens=1, completion_tokens=2)))
    validate(body, "CreateChatCompletionResponse")
    assert (
        body["choices"][0]["message"]["content"]
        == "**writer:** Hello world\n\n**critic:** Nice.\n\nMore?"
    )
    events = events_from_completion(body)
    texts = [e for e in events if isinstance(e, TextDelta)]
    assert [(t.agent, t.text) for t in texts] == [("writer", "Hello world"), ("critic", "Nice.")]
    assert body["usage"]["total_tokens"] == 3


def test_event_tags_are_the_fixed_wire_names() -> None:
    tags = {msgspec.json.decode(msgspec.json.encode(e))["type"] for e in EVENTS}
    assert tags == {
        "agent_start",
        "text",
        "tool_call",
        "tool_result",
        "agent_end",
        "handoff",
        "input_requested",
        "run_end",
    }
