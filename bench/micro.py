"""Per-chunk costs of the troupe streaming path, measured in-process.

Pure-CPU pieces (encoding, the memory-stream hop) are timed with
``perf_counter_ns`` loops, best of several repeats. Pieces that read a real
stream (the OpenAI provider, a whole team run) are timed as this process's
CPU per request against fake upstream processes answering 200 and 1 tokens;
the difference over 199 is the cost per chunk, the rest is the fixed cost of
a request.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel

from troupe.events import AgentStarted, Event, RunEnded, TextDelta, ToolCalled
from troupe.messages import UserMessage
from troupe.models import ModelRequest
from troupe.teams import RoundRobinTeam
from troupe.wire import ChunkEncoder, Renderer


def _best_ns(fn: Callable[[], None], loops: int, repeats: int = 5) -> float:
    """Nanoseconds per call of ``fn``: the best of ``repeats`` runs of ``loops`` calls."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter_ns()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / loops)
    return round(best, 1)


def _encoder(open_messages: int = 1) -> ChunkEncoder:
    encoder = ChunkEncoder(
        "chatcmpl-0123456789abcdef0123456789abcdef", 1_700_000_000, "bench", Renderer()
    )
    for i in range(open_messages):
        encoder.encode(AgentStarted(agent="assistant", message_id=f"msg_{i}"))
    return encoder


def encoding(loops: int) -> dict[str, float]:
    text = TextDelta(agent="assistant", message_id="msg_0", text="tok17 ")
    call = ToolCalled(agent="assistant", call_id="call_0", name="search", arguments='{"q": "x"}')
    single, interleaved, generic = _encoder(), _encoder(2), _encoder()
    return {
        "encode_text_delta_ns": _best_ns(lambda: single.encode(text), loops),
        "encode_text_delta_interleaved_ns": _best_ns(lambda: interleaved.encode(text), loops),
        "encode_tool_call_ns": _best_ns(lambda: generic.encode(call), loops),
        "make_text_delta_ns": _best_ns(
            lambda: TextDelta(agent="assistant", message_id="msg_0", text="t"), loops
        ),
    }


async def _hop(items: int, troupe_loop: bool) -> float:
    """Nanoseconds per item through a 0-buffer memory stream, as ``_responses`` uses it."""
    sender, receiver = anyio.create_memory_object_stream[int](0)

    async def produce() -> None:
        async with sender:
            for i in range(items):
                await sender.send(i)

    start = time.perf_counter_ns()
    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        async with receiver:
            if not troupe_loop:
                async for _ in receiver:
                    pass
            else:  # the consumer loop of TeamStreamResponse._stream, keepalive timer included
                while True:
                    try:
                        receiver.receive_nowait()
                    except anyio.WouldBlock:
                        with anyio.move_on_after(15):
                            try:
                                await receiver.receive()
                            except anyio.EndOfStream:
                                break
                    except anyio.EndOfStream:
                        break
    return (time.perf_counter_ns() - start) / items


async def _direct(items: int) -> float:
    """The baseline the hop replaces: awaiting an ``emit`` coroutine that appends."""
    out: list[int] = []

    async def emit(item: int) -> None:
        out.append(item)

    start = time.perf_counter_ns()
    for i in range(items):
        await emit(i)
    return (time.perf_counter_ns() - start) / items


async def _outbox_wake(items: int, without_timer: bool) -> float:
    """Nanoseconds per frame when every frame wakes the outbox writer (one upstream read per token)."""
    from bench.variants import _writer_without_timer
    from troupe.server._outbox import Outbox

    async def send(message: Any) -> None:
        pass

    outbox = Outbox(send, keepalive=15)
    writer = _writer_without_timer(outbox) if without_timer else outbox.run()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: writer)
        await anyio.lowlevel.checkpoint()
        start = time.perf_counter_ns()
        for _ in range(items):
            outbox.put(b"data: {}\n\n")
            await anyio.lowlevel.checkpoint()  # the run waits for the network: the writer runs
        elapsed = time.perf_counter_ns() - start
        outbox.close()
        await outbox.wait_sent()
    return elapsed / items


async def hops(items: int) -> dict[str, float]:
    results: dict[str, list[float]] = {"hop": [], "hop_troupe_loop": [], "direct": []}
    for _ in range(3):
        results["hop"].append(await _hop(items, troupe_loop=False))
        results["hop_troupe_loop"].append(await _hop(items, troupe_loop=True))
        results["direct"].append(await _direct(items))
    out = {
        "memory_stream_hop_ns": round(min(results["hop"]), 1),
        "memory_stream_hop_troupe_loop_ns": round(min(results["hop_troupe_loop"]), 1),
        "direct_await_emit_ns": round(min(results["direct"]), 1),
    }
    try:
        wakes = [await _outbox_wake(items, without_timer=False) for _ in range(3)]
        bare = [await _outbox_wake(items, without_timer=True) for _ in range(3)]
    except ImportError:  # a troupe from before the outbox (b4c7568)
        return out
    out["outbox_writer_wake_ns"] = round(min(wakes), 1)
    out["outbox_writer_wake_without_keepalive_timer_ns"] = round(min(bare), 1)
    out["checkpoint_ns"] = round(min([await _checkpoints(items) for _ in range(3)]), 1)
    return out


async def _checkpoints(items: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(items):
        await anyio.lowlevel.checkpoint()
    return (time.perf_counter_ns() - start) / items


async def _cpu_ms(call: Callable[[], Awaitable[Any]], requests: int, rounds: int = 3) -> float:
    """This process's CPU ms per ``call()``: the best of ``rounds`` rounds of ``requests`` calls."""
    for _ in range(max(5, requests // 10)):
        await call()
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(requests):
            await call()
        best = min(best, (time.process_time() - start) / requests)
    return 1000 * best


def _team(base_url: str) -> RoundRobinTeam:
    from troupe.agents import AssistantAgent
    from troupe.models.openai import OpenAIModel

    model = OpenAIModel("fake-model", api_key="none", base_url=base_url)
    return RoundRobinTeam("bench", [AssistantAgent("assistant", model)])


def _encoder_for(team: RoundRobinTeam) -> ChunkEncoder:
    return ChunkEncoder(
        "chatcmpl-0", 0, team.name, Renderer(team.answer_agents, team.speaker_lines)
    )


async def _hop_pipeline(team: RoundRobinTeam, messages: tuple[UserMessage, ...]) -> None:
    """``TeamStreamResponse._stream`` before b4c7568, without HTTP: run, hop, encode."""
    encoder = _encoder_for(team)
    sender, receiver = anyio.create_memory_object_stream[Event](0)
    encoder.start()

    async def produce() -> None:
        async with sender:
            await team.run(team.new_state("conv"), messages, sender.send)

    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        async with receiver:
            while True:
                try:
                    event = receiver.receive_nowait()
                except anyio.WouldBlock:
                    with anyio.move_on_after(15):
                        try:
                            event = await receiver.receive()
                        except anyio.EndOfStream:
                            break
                except anyio.EndOfStream:
                    break
                if not isinstance(event, RunEnded):
                    encoder.encode(event)


async def _outbox_pipeline(team: RoundRobinTeam, messages: tuple[UserMessage, ...]) -> None:
    """``TeamStreamResponse.send_body`` since b4c7568 without HTTP: run, encode, outbox."""
    from troupe.server._outbox import Outbox

    async def send(message: Any) -> None:
        pass

    encoder = _encoder_for(team)
    outbox = Outbox(send, keepalive=15)

    async def emit(event: Event) -> None:
        if not isinstance(event, RunEnded):
            outbox.put(encoder.encode(event))
            if outbox.full:
                await outbox.wait_drained()

    async with anyio.create_task_group() as tg:
        tg.start_soon(outbox.run)
        outbox.put(encoder.start())
        await team.run(team.new_state("conv"), messages, emit)
        outbox.close()
        await outbox.wait_sent()


_BODY = (
    b'{"model":"fake-model","messages":[{"role":"user","content":"Say something."}],"stream":true}'
)


def _layers(
    session: aiohttp.ClientSession, base_url: str
) -> tuple[dict[str, Callable[[], Awaitable[None]]], Any]:
    """Each layer of the streaming path, innermost first, as a call that runs one request."""
    messages = (UserMessage(content="Say something."),)
    team = _team(base_url + "/v1")
    model = team.agents[0].model  # type: ignore[attr-defined]
    request = ModelRequest(messages=messages)

    async def aiohttp_read() -> None:
        async with session.post(base_url + "/v1/chat/completions", data=_BODY) as response:
            async for _ in response.content.iter_any():
                pass

    async def openai_model() -> None:
        async for _ in model.stream(request):
            pass

    async def team_run() -> None:
        async def emit(event: Event) -> None:
            pass

        await team.run(team.new_state("conv"), messages, emit)

    async def team_encode() -> None:
        encoder = _encoder_for(team)
        frames = [encoder.start()]

        async def emit(event: Event) -> None:
            if not isinstance(event, RunEnded):
                frames.append(encoder.encode(event))

        await team.run(team.new_state("conv"), messages, emit)

    async def team_outbox() -> None:
        await _outbox_pipeline(team, messages)

    async def team_hop_encode() -> None:
        await _hop_pipeline(team, messages)

    layers = [aiohttp_read, openai_model, team_run, team_encode, team_outbox, team_hop_encode]
    return {layer.__name__: layer for layer in layers}, model


async def streams(upstreams: dict[int, str], requests: int) -> dict[str, Any]:
    """CPU per request of each layer, against upstreams keyed by their answer's token count."""
    per_request: dict[str, dict[int, float]] = {}
    async with aiohttp.ClientSession() as session:
        for tokens, base_url in upstreams.items():
            layers, model = _layers(session, base_url)
            for name, call in layers.items():
                per_request.setdefault(name, {})[tokens] = await _cpu_ms(call, requests)
            await model.aclose()
    many, few = max(upstreams), min(upstreams)
    return {
        name: {
            f"cpu_ms_per_request_{many}": round(costs[many], 3),
            "cpu_us_per_chunk": round(1000 * (costs[many] - costs[few]) / (many - few), 2),
            "cpu_ms_fixed_per_request": round(
                costs[few] - (costs[many] - costs[few]) / (many - few) * few, 3
            ),
        }
        for name, costs in per_request.items()
    }


async def _all(upstreams: dict[int, str], quick: bool) -> dict[str, Any]:
    return {
        "encoding": encoding(20_000 if quick else 200_000),
        "hop": await hops(20_000 if quick else 100_000),
        "streams": await streams(upstreams, 20 if quick else 60),
    }


def run(upstreams: dict[int, str], quick: bool = False) -> dict[str, Any]:
    """All micro-costs; ``upstreams`` maps answer length (tokens) to a fake upstream's URL."""
    result: dict[str, Any] = anyio.run(_all, upstreams, quick, backend_options={"use_uvloop": True})
    return result
