"""Client CPU per streamed chunk (and per request) of the ways to call an OpenAI-compatible API.

Starts the fake upstream (``tests.fakes.openai_upstream``) in its own process,
then runs each client variant in this process and reads this process's CPU
time (``time.process_time``) around N streams::

    python -m bench.provider_parsing [--rounds 5] [--streams 20] [--tokens 200] [--delay 0.001]
                                     [--concurrency 1] [--big]

Variants, all on the official ``openai`` SDK except the floor:

* ``sdk-pydantic``: ``chat.completions.create(stream=True)``, one pydantic chunk each
* ``sdk-raw``: ``with_streaming_response.create``; raw bytes, troupe's SSE parser + msgspec
* ``sdk-post``: ``client.post(..., content=<msgspec bytes>, stream=True)``, same parsing
* ``troupe``: ``OpenAIModel.stream`` end to end (``sdk-post`` plus deltas and the response)
* ``floor``: a bare aiohttp request with the same parsing, no SDK

each over the SDK's default httpx2 transport and its aiohttp one
(``openai.DefaultAioHttpClient``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import anyio
import httpx2
import msgspec
import openai

from bench.procs import Server, free_port
from troupe.messages import AssistantMessage, SystemMessage, ToolCall, ToolMessage, UserMessage
from troupe.models._base import ModelRequest, TextChunk, ToolSpec
from troupe.models.openai import OpenAIModel, _decode_chunk, _SSEParser

Run = Callable[[], Awaitable[int]]


def conversation(big: bool) -> ModelRequest:
    """One user message, or 31 messages (system, 10 user/tool-call/tool-result rounds) and 5 tools."""
    if not big:
        return ModelRequest(messages=(UserMessage(content="hello"),))
    messages: list[Any] = [SystemMessage(content="You are a helpful assistant. " * 20)]
    for i in range(10):
        call = ToolCall(id=f"c{i}", name="lookup", arguments='{"q": "x"}')
        messages += [
            UserMessage(content=f"question {i} " * 30),
            AssistantMessage(source="bot", tool_calls=(call,)),
            ToolMessage(call_id=f"c{i}", name="lookup", content="result " * 40, source="bot"),
        ]
    schema = {
        "type": "object",
        "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["q"],
    }
    tools = tuple(
        ToolSpec(name=f"tool{i}", description="does things " * 5, parameters=schema)
        for i in range(5)
    )
    return ModelRequest(messages=tuple(messages), tools=tools)


def openai_kwargs(request: ModelRequest) -> dict[str, Any]:
    """The same request as ``OpenAIModel`` sends it, as keyword arguments of ``create``."""
    body = msgspec.json.decode(OpenAIModel("m", api_key="x")._body(request, stream_options=True))
    return {k: v for k, v in body.items() if k != "stream"}


async def parse(blocks: Any) -> int:
    """The number of content deltas in an SSE byte stream, decoded as ``OpenAIModel`` does."""
    parser = _SSEParser()
    count = 0
    async for block in blocks:
        for payload in parser.feed(block):
            if payload != b"[DONE]":
                chunk = _decode_chunk(payload)
                delta = chunk.choices[0].delta if chunk.choices else None
                count += 1 if delta and delta.content else 0
    return count


def variants(base_url: str, request: ModelRequest) -> tuple[list[tuple[str, Run]], list[Any]]:
    kwargs = openai_kwargs(request)
    body = msgspec.json.encode({**kwargs, "stream": True})
    out: list[tuple[str, Run]] = []
    closers: list[Any] = []
    for transport in ("httpx", "aiohttp"):
        http = (
            openai.DefaultAioHttpClient()
            if transport == "aiohttp"
            else openai.DefaultAsyncHttpxClient()
        )
        client = openai.AsyncOpenAI(base_url=base_url, api_key="x", http_client=http)
        model = OpenAIModel("m", base_url=base_url, api_key="x", http_client=http)
        closers.append(http.aclose)

        async def sdk_pydantic(client: openai.AsyncOpenAI = client) -> int:
            count = 0
            stream = await client.chat.completions.create(stream=True, **kwargs)
            async with stream:
                async for chunk in stream:
                    count += 1 if chunk.choices and chunk.choices[0].delta.content else 0
            return count

        async def sdk_raw(client: openai.AsyncOpenAI = client) -> int:
            create = client.chat.completions.with_streaming_response.create
            async with create(stream=True, **kwargs) as response:
                return await parse(response.http_response.aiter_bytes())

        async def sdk_post(client: openai.AsyncOpenAI = client) -> int:
            response = await client.post(
                "/chat/completions", cast_to=httpx2.Response, content=body, stream=True
            )
            try:
                return await parse(response.aiter_bytes())
            finally:
                await response.aclose()

        async def troupe(model: OpenAIModel = model) -> int:
            count = 0
            async for item in model.stream(request):
                count += 1 if isinstance(item, TextChunk) else 0
            return count

        out += [
            (f"sdk-pydantic / {transport}", sdk_pydantic),
            (f"sdk-raw / {transport}", sdk_raw),
            (f"sdk-post / {transport}", sdk_post),
            (f"troupe / {transport}", troupe),
        ]

    session = aiohttp.ClientSession()
    closers.append(session.close)

    async def floor() -> int:
        url = f"{base_url}/chat/completions"
        headers = {"Content-Type": "application/json", "Authorization": "Bearer x"}
        async with session.post(url, data=body, headers=headers) as response:
            return await parse(response.content.iter_any())

    out.append(("floor: bare aiohttp", floor))
    return out, closers


async def measure(run: Run, streams: int, concurrency: int, tokens: int) -> float:
    """CPU seconds per stream of ``tokens`` content chunks, over ``streams`` streams."""
    chunks = 0

    async def worker(n: int) -> None:
        nonlocal chunks
        for _ in range(n):
            got = await run()  # not `chunks += await run()`: that reads chunks before awaiting
            chunks += got

    start = time.process_time()
    async with anyio.create_task_group() as tg:
        for i in range(concurrency):
            tg.start_soon(worker, streams // concurrency + (i < streams % concurrency))
    cpu = time.process_time() - start
    if chunks != streams * tokens:
        raise RuntimeError(f"expected {streams * tokens} content chunks, got {chunks}")
    return cpu / streams


async def bench(args: argparse.Namespace, base_url: str) -> None:
    request = conversation(args.big)
    runs, closers = variants(base_url, request)
    what = "31-message conversation, 5 tools" if args.big else "one short user message"
    print(
        f"# {args.rounds} rounds x {args.streams} streams x {args.tokens} tokens, "
        f"delay {args.delay * 1000:g} ms, concurrency {args.concurrency}, {what}"
    )
    # Rounds interleave the variants so that other load on the machine hits them alike;
    # the minimum over rounds is the least disturbed measurement.
    results: dict[str, list[float]] = {name: [] for name, _ in runs}
    try:
        for _, run in runs:
            await measure(run, 3, 1, args.tokens)  # warm up connections and caches
        for _ in range(args.rounds):
            for name, run in runs:
                cpu = await measure(run, args.streams, args.concurrency, args.tokens)
                results[name].append(cpu)
    finally:
        for close in closers:
            await close()
    print(f"{'variant':28} {'ms/stream':>10} {'us/chunk':>9} {'median us/chunk':>16}")
    for name, per_stream in results.items():
        best, median = min(per_stream), statistics.median(per_stream)
        per_chunk = 1e6 / args.tokens
        print(f"{name:28} {best * 1000:10.2f} {best * per_chunk:9.1f} {median * per_chunk:16.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=20, help="streams per variant per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between upstream chunks")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--big", action="store_true", help="send a 31-message conversation")
    args = parser.parse_args()
    port = free_port()
    argv = [sys.executable, "-m", "tests.fakes.openai_upstream", "--port", str(port)]
    argv += ["--tokens", str(args.tokens), "--delay", str(args.delay)]
    with Server("upstream", argv, port, "/v1/models") as upstream:
        anyio.run(bench, args, f"{upstream.url}/v1", backend="asyncio")


if __name__ == "__main__":
    main()
