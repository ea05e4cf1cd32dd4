"""A served answer leaves nothing for the garbage collector.

Objects caught in a reference cycle outlive their request until a collection pass
finds them: the memory stays taken meanwhile, and each pass (every few hundred
requests under load) walks them, milliseconds a time. Served by uvicorn, from a
real upstream over aiohttp, a run's request, its upstream response and their
buffers are freed as the answer ends.
"""

from __future__ import annotations

import gc
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest
import uvicorn

from tests.fakes.openai_upstream import FakeOpenAIServer
from troupe.agents import AssistantAgent
from troupe.models.openai import OpenAIModel
from troupe.server import create_app
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio

# Whose objects must not be left to the collector: the server's, the app's, the
# upstream client's.
_OURS = ("troupe.", "uvicorn.", "litestar.", "aiohttp.", "multidict")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # uvicorn serves on asyncio


@contextmanager
def _collector_paused() -> Iterator[list[object]]:
    """Collect first, then nothing until the end: what is cyclic garbage then is listed."""
    gc.collect()
    gc.disable()
    left: list[object] = []
    try:
        yield left
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left += gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def _ask(port: int, path: str, body: bytes) -> bytes:
    """One HTTP/1.1 request on a raw socket (no client library's objects in the way)."""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        head = (
            f"POST {path} HTTP/1.1\r\nhost: troupe\r\ncontent-type: "
            f"application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        await stream.send(head.encode() + body)
        received = b""
        try:
            while True:
                received += await stream.receive()
        except anyio.EndOfStream:
            return received


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize(
    ("path", "ask"),
    [
        ("/v1/chat/completions", b'"messages": [{"role": "user", "content": "hi"}]'),
        ("/v1/responses", b'"input": "hi"'),
    ],
    ids=["chat", "responses"],
)
async def test_a_served_answer_leaves_no_reference_cycle(
    path: str, ask: bytes, stream: bool
) -> None:
    async with FakeOpenAIServer(tokens=50) as upstream:
        model = OpenAIModel("gpt-test", base_url=upstream.base_url, api_key="sk-test")
        team = RoundRobinTeam("solo", [AssistantAgent("bot", model)])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = uvicorn.Config(create_app(teams=[team]), port=port, log_level="warning")
        server = uvicorn.Server(config)
        body = b'{"model": "solo", %s, "stream": %s}' % (ask, b"true" if stream else b"false")
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve)
            with anyio.fail_after(10):
                while not server.started:  # noqa: ASYNC110 (uvicorn sets a flag only)
                    await anyio.sleep(0.01)
            assert b"tok49" in await _ask(port, path, body)  # connections, pools: made once
            with _collector_paused() as left:
                for _ in range(5):
                    answer = await _ask(port, path, body)
                    assert answer.startswith(b"HTTP/1.1 200") and b"tok49" in answer
                await anyio.sleep(0.1)  # the runs' ends are stored
            server.should_exit = True
        await model.aclose()
    ours = sorted(
        {
            type(o).__module__ + "." + type(o).__qualname__
            for o in left
            if type(o).__module__.startswith(_OURS)
        }
    )
    assert ours == []
