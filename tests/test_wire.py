"""troupe.wire: what the encoder writes, the decoder reads back."""

from __future__ import annotations

import json

import msgspec
import pytest

from tests.spec import validate
from troupe.events import (
    AgentFinished,
    AgentStarted,
    Event,
    HandoffOccurred,
    InputRequested,
    ReasoningDelta,
    RunEnded,
    RunFailed,
    RunResumed,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
    UsageReported,
)
from troupe.messages import Usage
from troupe.wire import (
    ChunkEncoder,
    CompletionBuilder,
    Renderer,
    StreamDecoder,
    answer_text,
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


def _text_of(chunks: list[dict], field: str) -> str:  # type: ignore[type-arg]
    return "".join(c["choices"][0]["delta"].get(field) or "" for c in chunks if c["choices"])


def _parallel(*, last: Event | None = None) -> list[Event]:
    """Two branches writing at once, word by word; ``b`` also calls a tool meanwhile."""
    events: list[Event] = [
        AgentStarted(agent="a", message_id="ma"),
        AgentStarted(agent="b", message_id="mb"),
    ]
    for word in ("one ", "two ", "three"):
        events.append(TextDelta(agent="a", message_id="ma", text=f"a-{word}"))
        events.append(TextDelta(agent="b", message_id="mb", text=f"b-{word}"))
    events.append(ToolCalled(agent="b", call_id="c1", name="look", arguments="{}"))
    events.append(ToolResultReturned(agent="b", call_id="c1", name="look", content="seen"))
    events.append(TextDelta(agent="b", message_id="mb", text=" b-after"))
    events.append(AgentFinished(agent="a", message_id="ma"))
    events.append(TextDelta(agent="b", message_id="mb", text=" b-live"))
    events.append(AgentFinished(agent="b", message_id="mb"))
    events.append(last or RunEnded(agent="team", stop_reason="done"))
    return events


def test_concurrent_messages_reach_content_whole_one_after_another() -> None:
    events = _parallel()
    chunks = encode_all(events, Renderer(speaker_lines=True))
    content = _text_of(chunks, "content")
    assert content == "**a:** a-one a-two a-three\n\n**b:** b-one b-two b-three b-after b-live"
    # Rich clients keep the live, interleaved view, every piece attributed.
    decoder = StreamDecoder()
    assert [e for c in chunks for e in decoder.feed(c)] == events
    # b's text so far goes out whole when a ends; b then streams live.
    released = next(
        c
        for c in chunks
        if (c["choices"][0]["delta"].get("troupe") or {}).get("type") == "agent_end"
    )
    assert released["choices"][0]["delta"]["content"] == "\n\n**b:** b-one b-two b-three b-after"
    # Non-stream content is the same text, and so is the answer the server keeps.
    builder = CompletionBuilder("chatcmpl-1", 1, "team", Renderer(speaker_lines=True))
    for event in events:
        builder.add(event)
    body = json.loads(builder.build(Usage()))
    assert body["choices"][0]["message"]["content"] == content
    assert answer_text(events, None, True) == content


def test_concurrent_work_reaches_reasoning_content_one_message_at_a_time() -> None:
    chunks = encode_all(_parallel(), Renderer(answer_agents=frozenset({"a"})))
    assert _text_of(chunks, "content") == "a-one a-two a-three"
    reasoning = _text_of(chunks, "reasoning_content")
    assert reasoning == (
        "\n\n**b:** b-one b-two b-three\n\n`b` calls `look({})`\n`look` returned: seen\n"
        " b-after b-live"
    )


def test_the_first_message_to_write_holds_content() -> None:
    events: list[Event] = [
        AgentStarted(agent="slow", message_id="m1"),
        AgentStarted(agent="quick", message_id="m2"),
        ToolCalled(agent="slow", call_id="c1", name="look", arguments="{}"),
        TextDelta(agent="quick", message_id="m2", text="first"),
        TextDelta(agent="slow", message_id="m1", text="later"),
        TextDelta(agent="quick", message_id="m2", text=" words"),
        AgentFinished(agent="quick", message_id="m2"),
        AgentFinished(agent="slow", message_id="m1"),
    ]
    chunks = encode_all(events, Renderer(speaker_lines=True))
    assert _text_of(chunks, "content") == "**quick:** first words\n\n**slow:** later"


def test_a_message_without_text_opens_no_speaker_line() -> None:
    events: list[Event] = [
        AgentStarted(agent="triage", message_id="m1"),
        ToolCalled(agent="triage", call_id="c1", name="transfer_to_billing", arguments="{}"),
        HandoffOccurred(agent="triage", target="billing"),
        AgentFinished(agent="triage", message_id="m1"),
        AgentStarted(agent="billing", message_id="m2"),
        TextDelta(agent="billing", message_id="m2", text="Your invoice is paid."),
        AgentFinished(agent="billing", message_id="m2"),
        RunEnded(agent="team", stop_reason="done"),
    ]
    chunks = encode_all(events, Renderer(speaker_lines=True))
    assert _text_of(chunks, "content") == "**billing:** Your invoice is paid."
    reasoning = encode_all(events, Renderer(answer_agents=frozenset({"billing"})))
    assert "**triage:**" not in _text_of(reasoning, "reasoning_content")
    decoder = StreamDecoder()
    assert [e for c in chunks for e in decoder.feed(c)] == events


def test_messages_of_one_agent_are_kept_apart() -> None:
    events: list[Event] = [
        AgentStarted(agent="bot", message_id="m1"),
        TextDelta(agent="bot", message_id="m1", text="First."),
        AgentFinished(agent="bot", message_id="m1"),
        AgentStarted(agent="bot", message_id="m2"),
        TextDelta(agent="bot", message_id="m2", text="Second."),
        AgentFinished(agent="bot", message_id="m2"),
    ]
    assert _text_of(encode_all(events, Renderer()), "content") == "First.\n\nSecond."


def test_held_text_goes_out_with_a_failure() -> None:
    events = _parallel()[:8]  # both messages open, b's text held
    events.append(RunFailed(agent="team", code="upstream_error", message="boom"))
    chunks = encode_all(events, Renderer(speaker_lines=True))
    assert _text_of(chunks, "content") == "**a:** a-one a-two a-three\n\n**b:** b-one b-two b-three"
    error = next(c for c in chunks if c.get("error"))
    assert error["choices"][0]["delta"]["content"] == "\n\n**b:** b-one b-two b-three"


def test_a_resumed_run_drops_what_it_held_of_messages_that_never_end() -> None:
    events = _parallel()[:8]
    events += [
        RunResumed(agent="team", reason="replica died"),
        AgentStarted(agent="b", message_id="mb2"),
        TextDelta(agent="b", message_id="mb2", text="b again"),
        AgentFinished(agent="b", message_id="mb2"),
    ]
    chunks = encode_all(events, Renderer(speaker_lines=True))
    assert _text_of(chunks, "content") == "**a:** a-one a-two a-three\n\n**b:** b again"
    decoder = StreamDecoder()
    assert [e for c in chunks for e in decoder.feed(c)] == events


def test_the_same_events_encode_to_the_same_bytes() -> None:
    def frames() -> bytes:
        encoder = ChunkEncoder("chatcmpl-1", 1, "team", Renderer(speaker_lines=True))
        return b"".join(encoder.encode(e) for e in _parallel()[:-1])

    assert frames() == frames()


def _message(agent: str, mid: str, *texts: str) -> list[Event]:
    return [
        AgentStarted(agent=agent, message_id=mid),
        *(TextDelta(agent=agent, message_id=mid, text=t) for t in texts),
        AgentFinished(agent=agent, message_id=mid),
    ]


END = RunEnded(agent="team", stop_reason="done")
# Runs of many shapes: the answer kept for the history fingerprint must be what the stream's
# ``content`` carried, whichever way ``answer_text`` gets it.
RUNS: dict[str, list[Event]] = {
    "one message": [*_message("w", "m1", "Hello ", "", "world"), END],
    "one message with work between its texts": [
        AgentStarted(agent="w", message_id="m1"),
        TextDelta(agent="w", message_id="m1", text="Let me look. "),
        ReasoningDelta(agent="w", message_id="m1", text="hmm"),
        ToolCalled(agent="w", call_id="c1", name="search", arguments="{}"),
        ToolResultReturned(agent="w", call_id="c1", name="search", content="tea"),
        TextDelta(agent="w", message_id="m1", text="Tea."),
        UsageReported(agent="w", usage=Usage(prompt_tokens=1, completion_tokens=2)),
        AgentFinished(agent="w", message_id="m1"),
        END,
    ],
    "one message cut by a failure": [
        AgentStarted(agent="w", message_id="m1"),
        TextDelta(agent="w", message_id="m1", text="half"),
        RunFailed(agent="team", code="upstream_error", message="gone"),
    ],
    "a message without text": [*_message("w", "m1"), END],
    "no message": [END],
    "text of no started message": [TextDelta(agent="w", message_id="m9", text="stray"), END],
    "two messages": [*_message("w", "m1", "one"), *_message("c", "m2", "two"), END],
    "a question after the answer": [
        *_message("w", "m1", "Shall I go on?"),
        InputRequested(agent="w", prompt="Shall I go on?"),
        END,
    ],
    "a question of its own": [
        *_message("w", "m1", "Done."),
        InputRequested(agent="u", prompt="OK?"),
    ],
    "resumed": [
        AgentStarted(agent="w", message_id="m1"),
        TextDelta(agent="w", message_id="m1", text="before"),
        RunResumed(agent="team", reason="restart"),
        *_message("w", "m2", "after"),
        END,
    ],
    "parallel": _parallel(),
}


@pytest.mark.parametrize("run", RUNS.values(), ids=list(RUNS))
@pytest.mark.parametrize("speaker_lines", [False, True])
@pytest.mark.parametrize("answer_agents", [None, frozenset({"w"}), frozenset({"c", "a"})])
def test_the_answer_kept_is_the_content_streamed(
    run: list[Event], speaker_lines: bool, answer_agents: frozenset[str] | None
) -> None:
    chunks = encode_all(run, Renderer(answer_agents, speaker_lines))

    assert answer_text(run, answer_agents, speaker_lines) == _text_of(chunks, "content")
