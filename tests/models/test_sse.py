"""Server-sent events split from a byte stream, however the network cut it.

The parser splits a read of whole one-line ``data:`` events at once and reads
anything else line by line; both must give the same payloads for any stream
cut anywhere, and a chunk the upstream reports as an error inside a read still
ends the answer after the text before it.
"""

from __future__ import annotations

import random

import anyio
import msgspec
import pytest
from aiohttp import web

from tests.models.helpers import ask
from troupe.errors import UpstreamError
from troupe.models import ModelResponse, ModelStreamItem, TextChunk
from troupe.models import openai as openai_module
from troupe.models._sse import SSEParser
from troupe.models.openai import OpenAIModel

STREAMS = [
    # OpenAI's stream: one-line events
    b'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n',
    # no space after the colon, CRLF line ends, comments and other fields
    b'data:{"a":1}\r\n\r\n: keepalive\n\nevent: x\nid: 3\ndata: {"b":2}\n\n',
    # an event of several data lines is joined with newlines
    b'data: {"a":\ndata: 1}\n\ndata: {"b":2}\n\n',
    # text that looks like the separator inside a payload
    b'data: {"t":"data: x"}\n\ndata: {"t":"\\n\\ndata: y"}\n\n',
    # blank events and an event of a field without data
    b'\n\ndata: {"a":1}\n\nretry: 5\n\n\n\ndata: {"b":2}\n\n',
]


def _spec(stream: bytes) -> list[bytes]:
    """The payloads by the rules of server-sent events (lines end with LF or CRLF; a blank
    line ends an event; a ``data`` field's value loses one leading space; an event of
    several ``data`` lines is joined with newlines; the unterminated last event counts)."""
    out: list[bytes] = []
    data: list[bytes] = []
    for line in (stream + b"\n\n").split(b"\n")[:-1]:
        line = line.removesuffix(b"\r")
        if not line:
            if data:
                out.append(b"\n".join(data))
                data = []
        elif line.startswith(b"data:"):
            value = line[5:]
            data.append(value.removeprefix(b" "))
    return out


def _feed(stream: bytes, points: list[int]) -> list[bytes]:
    """The payloads of ``stream`` read in pieces cut at ``points``."""
    parser = SSEParser()
    out: list[bytes] = []
    for start, stop in zip([0, *points], [*points, len(stream)], strict=True):
        out += parser.feed(stream[start:stop])
    return out + parser.end()


@pytest.mark.parametrize("stream", STREAMS)
def test_any_cut_of_a_stream_gives_the_same_payloads(stream: bytes) -> None:
    expected = _spec(stream)
    assert expected  # each stream has events
    cuts = random.Random(7)
    for _ in range(200):
        points = sorted(cuts.sample(range(1, len(stream)), k=min(3, len(stream) - 1)))
        assert _feed(stream, points) == expected
    assert _feed(stream, []) == expected
    assert _feed(stream, list(range(1, len(stream)))) == expected  # a byte at a time


def test_a_read_of_many_one_line_events_splits_into_their_payloads() -> None:
    events = [b'{"choices":[{"delta":{"content":"w%d "}}]}' % i for i in range(50)]
    block = b"".join(b"data: " + event + b"\n\n" for event in events)
    assert SSEParser().feed(block) == events
    assert _spec(block) == events


def _given(monkeypatch: pytest.MonkeyPatch, method: str) -> list[bytes]:
    """The blocks ``SSEParser.<method>`` is given from now on (it still does its work)."""
    given: list[bytes] = []
    real = getattr(SSEParser, method)

    def recording(parser: SSEParser, block: bytes) -> list[bytes]:
        given.append(block)
        result: list[bytes] = real(parser, block)
        return result

    monkeypatch.setattr(SSEParser, method, recording)
    return given


def test_reads_that_cut_one_line_events_are_split_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read that ends inside an event (most do, for a fast upstream): the event's rest
    is joined to the next read, which is still split at once, not line by line."""
    events = [b'{"choices":[{"delta":{"content":"w%d "}}]}' % i for i in range(50)]
    stream = b"".join(b"data: " + event + b"\n\n" for event in events)
    by_lines = _given(monkeypatch, "_lines")
    cuts = random.Random(3)
    for _ in range(50):
        points = sorted(cuts.sample(range(1, len(stream)), k=4))
        assert _feed(stream, points) == events
    assert by_lines == []


async def _upstream_writing(*parts: bytes, pause: float = 0.0) -> tuple[web.AppRunner, str]:
    """An upstream that answers every request with ``parts``, each written at once, ``pause``
    seconds apart (then each is a read of its own)."""

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for part in parts:
            await response.write(part)
            if pause:
                await anyio.sleep(pause)
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/v1"


def _text(word: str) -> bytes:
    chunk = {"model": "m", "choices": [{"index": 0, "delta": {"content": word}}]}
    return b"data: " + msgspec.json.encode(chunk) + b"\n\n"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("bad", "said"),
    [
        (b"data: {not json\n\n", "unreadable chunk"),
        (b'data: {"error": {"message": "overloaded"}}\n\n', "failed mid-stream: overloaded"),
    ],
)
async def test_a_bad_chunk_inside_one_read_ends_the_answer_after_the_text_before_it(
    bad: bytes, said: str
) -> None:
    runner, base_url = await _upstream_writing(_text("one ") + _text("two ") + bad + _text("three"))
    model = OpenAIModel("m", base_url=base_url, api_key="k", max_retries=0)
    seen: list[ModelStreamItem] = []
    try:
        with pytest.raises(UpstreamError, match=said):
            async for item in model.stream(ask("go")):
                seen.append(item)
    finally:
        await model.aclose()
        await runner.cleanup()
    assert "".join(i.text for i in seen if isinstance(i, TextChunk)) == "one two "


def _chunk(text: str, **extra: object) -> bytes:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        **extra,
    }
    return b"data: " + msgspec.json.encode(chunk) + b"\n\n"


async def _read(*parts: bytes, pause: float = 0.0) -> tuple[str, str]:
    """The text and finish reason a model reads from an upstream that writes ``parts``."""
    runner, base_url = await _upstream_writing(*parts, pause=pause)
    model = OpenAIModel("m", base_url=base_url, api_key="k", max_retries=0)
    try:
        items = [item async for item in model.stream(ask("go"))]
    finally:
        await model.aclose()
        await runner.cleanup()
    text = "".join(i.text for i in items if isinstance(i, TextChunk))
    final = items[-1]
    assert isinstance(final, ModelResponse) and final.content == text
    return text, final.finish_reason


@pytest.mark.anyio
async def test_text_chunks_read_by_their_shape_give_the_text_a_full_decode_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the first chunks, a chunk with the same bytes around its text is read by its
    text alone; anything else is decoded whole, so the answer is the same either way."""
    words = ["plain ", 'quote " ', "back\\slash ", "é ünïcode ", "tab\t", "new\nline ", "😀 "]
    finish = {"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
    tail = b"data: " + msgspec.json.encode(finish) + b"\n\ndata: [DONE]\n\n"
    lookalikes = [
        # the same bytes around more than one string: a chunk with an extra field
        _chunk("a").replace(b'"content":"a"', b'"content":"x","extra":"y"'),
        # escaped otherwise than msgspec writes it
        _chunk("b").replace(b'"content":"b"', b'"content":"\\u00e9"'),
        # an empty text
        _chunk(""),
    ]
    block = b"".join(_chunk(w) for w in words * 3) + b"".join(lookalikes) + tail
    by_shape: list[int] = []

    def texts_like(template: tuple[bytes, bytes], payloads: list[bytes]) -> tuple[list[str], int]:
        texts, count = real(template, payloads)
        by_shape.append(count)
        return texts, count

    real = openai_module._texts_like
    monkeypatch.setattr(openai_module, "_texts_like", texts_like)
    text, finish_reason = await _read(block)
    assert sum(by_shape) == len(words) * 3 - 1  # all but the first, which taught the shape
    assert text == "".join(words * 3) + "x" + "é"
    assert finish_reason == "length"


@pytest.mark.anyio
async def test_a_last_read_of_text_then_the_finish_and_usage_reads_the_text_by_its_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fast upstream's last read: text chunks, then the finish reason and the usage. The
    text chunks are read by their shape; the last two are decoded whole."""
    words = [f"w{i} " for i in range(40)]
    finish = {"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    usage = {"model": "m", "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 40}}
    block = b"".join(_chunk(w) for w in words)
    block += b"".join(b"data: " + msgspec.json.encode(c) + b"\n\n" for c in (finish, usage))
    counts: list[tuple[int, int]] = []

    def texts_like(template: tuple[bytes, bytes], payloads: list[bytes]) -> tuple[list[str], int]:
        texts, count = real(template, payloads)
        counts.append((count, len(payloads)))
        return texts, count

    real = openai_module._texts_like
    monkeypatch.setattr(openai_module, "_texts_like", texts_like)
    text, finish_reason = await _read(block + b"data: [DONE]\n\n")
    assert counts == [(len(words) - 1, len(words) + 1)]  # the first chunk taught the shape
    assert text == "".join(words)
    assert finish_reason == "stop"


@pytest.mark.anyio
async def test_reads_of_one_event_each_give_the_text_whatever_their_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At a model's pace each read is one event: those shaped like the first text chunk are
    read by their text alone; an event cut across two reads, look-alikes and the end are
    read as any other, so the answer is the same."""
    words = ["plain ", 'quote " ', "back\\slash ", "é ünïcode ", "new\nline ", "😀 "]
    cut = _chunk("cut in two ")
    finish = {"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    parts = [_chunk(w) for w in words]
    parts += [cut[:30], cut[30:]]
    parts += [
        _chunk("a").replace(b'"content":"a"', b'"content":"x","extra":"y"'),
        _chunk("b").replace(b'"content":"b"', b'"content":"\\u00e9"'),
        _chunk(""),
        _chunk("two ") + _chunk("at once "),
        b"".join(_chunk(w) for w in [*(w.upper() for w in words), ""]),
        _chunk("p ") + _chunk("b").replace(b'"content":"b"', b'"content":"q","x":1') + _chunk("r "),
        _chunk("last"),
        b"data: " + msgspec.json.encode(finish) + b"\n\n",
        b"data: [DONE]\n\n",
    ]

    decoded: list[bytes] = []
    real = openai_module._decode_text

    def decode_text(raw: bytes) -> str:
        decoded.append(raw)
        return real(raw)

    monkeypatch.setattr(openai_module, "_decode_text", decode_text)
    fed = _given(monkeypatch, "feed")
    text, finish_reason = await _read(*parts, pause=0.01)  # a read each
    assert text == "".join(words) + "cut in two " + "xé" + "two at once " + "".join(
        w.upper() for w in words
    ) + ("p qr last")
    assert finish_reason == "stop"
    # The text chunks after the first were read by their shape, not split as SSE.
    by_shape = [raw for raw in decoded if not any(raw in block for block in fed)]
    assert len(by_shape) >= len(words) - 1


@pytest.mark.parametrize(
    "odd",
    [
        b'{"id":"c","choices":[{"delta":{"content":"x"},"finish_reason":"ab"}]}',  # same length
        b'{"id":"d","choices":[{"delta":{"content":"x"},"finish_reason":null}]}',  # same length
        b'{"id":"c"}',  # shorter than the bytes around a text
        b"",
    ],
    ids=["other-end", "other-start", "short", "empty"],
)
def test_the_texts_read_by_their_shape_stop_at_the_first_chunk_of_another_shape(
    odd: bytes,
) -> None:
    """Chunks read by the bytes around their text stop at the first that differs anywhere
    around it, even by bytes of the same length: it and those after it are decoded whole."""
    template = (b'{"id":"c","choices":[{"delta":{"content":', b'},"finish_reason":null}]}')

    def chunk(text: str) -> bytes:
        return template[0] + msgspec.json.encode(text) + template[1]

    payloads = [chunk(f"t{i} ") for i in range(5)]
    assert openai_module._texts_like(template, payloads) == ([f"t{i} " for i in range(5)], 5)
    mixed = [*payloads[:3], odd, *payloads[3:]]
    assert openai_module._texts_like(template, mixed) == (["t0 ", "t1 ", "t2 "], 3)
