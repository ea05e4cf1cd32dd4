"""Load generator: N streaming chat completions at concurrency C, measured from the client.

Runs in its own process (aiohttp on uvloop) so the server's CPU is its own.
Prints one JSON object: requests/s, tokens/s and content frames/s, time to first
content delta, and the CPU seconds that the processes named with ``--pid`` spent in
the measured window (read from /proc before and after it)::

    python -m bench.loadgen --url http://127.0.0.1:8000 --concurrency 64 --requests 2000 --pid 1234
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import aiohttp
import anyio
import msgspec

from bench.procs import cpu_seconds

# A frame with non-empty ``delta.content``. The role frame has ``"content":""``.
_CONTENT = re.compile(rb'"content":"[^"]')
# A token of the fake upstream's answer (``tok0 tok1 …``): a frame may carry several (troupe
# sends the tokens that one read from the upstream brought in one frame).
_TOKEN = re.compile(rb"tok\d+ ")


class Totals:
    def __init__(self) -> None:
        self.ttft: list[float] = []
        self.latency: list[float] = []
        self.chunks = 0
        self.tokens = 0
        self.errors: list[str] = []


async def _one(
    session: aiohttp.ClientSession, url: str, body: bytes, tokens: int, totals: Totals
) -> None:
    started = time.perf_counter()
    first = 0.0
    chunks = seen = 0
    done = False
    rest = b""
    async with session.post(
        url, data=body, headers={"content-type": "application/json"}
    ) as response:
        if response.status != 200:
            totals.errors.append(f"status {response.status}: {(await response.read())[:200]!r}")
            return
        async for data in response.content.iter_any():
            *frames, rest = (rest + data).split(b"\n\n")
            for frame in frames:
                if _CONTENT.search(frame):
                    chunks += 1
                    seen += len(_TOKEN.findall(frame))
                    if not first:
                        first = time.perf_counter()
                elif frame.endswith(b"data: [DONE]"):  # after an "id: n" line on a run's stream
                    done = True
    if seen != tokens or not done:
        totals.errors.append(
            f"{seen} tokens (expected {tokens}), [DONE] {'seen' if done else 'missing'}"
        )
        return
    totals.ttft.append(first - started)
    totals.latency.append(time.perf_counter() - started)
    totals.chunks += chunks
    totals.tokens += seen


async def _phase(args: argparse.Namespace, session: aiohttp.ClientSession, count: int) -> Totals:
    totals = Totals()
    body = msgspec.json.encode(
        {
            "model": args.model,
            "messages": [{"role": "user", "content": "Say something."}],
            "stream": True,
        }
    )
    url = args.url.rstrip("/") + "/v1/chat/completions"
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await _one(session, url, body, args.tokens, totals)

    async with anyio.create_task_group() as tg:
        for _ in range(args.concurrency):
            tg.start_soon(worker)
    return totals


def _ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def main(args: argparse.Namespace) -> dict[str, object]:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await _phase(args, session, args.warmup)
        cpu_before = {pid: cpu_seconds(pid) for pid in args.pid}
        own_before = time.process_time()
        started = time.perf_counter()
        totals = await _phase(args, session, args.requests)
        elapsed = time.perf_counter() - started
        own = time.process_time() - own_before
        cpu = {pid: cpu_seconds(pid) - cpu_before[pid] for pid in args.pid}
    ok = len(totals.ttft)
    return {
        "concurrency": args.concurrency,
        "requests": ok,
        "errors": len(totals.errors),
        "first_errors": totals.errors[:3],
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(ok / elapsed, 1),
        "tokens_per_s": round(totals.tokens / elapsed),
        "chunks_per_s": round(totals.chunks / elapsed),
        "ttft_ms": {
            "p50": _ms(totals.ttft, 0.5),
            "p90": _ms(totals.ttft, 0.9),
            "p99": _ms(totals.ttft, 0.99),
        },
        "latency_ms": {"p50": _ms(totals.latency, 0.5), "p99": _ms(totals.latency, 0.99)},
        "cpu_s": {str(pid): round(seconds, 3) for pid, seconds in cpu.items()},
        "loadgen_cpu_s": round(own, 3),
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="streaming chat-completions load generator")
    parser.add_argument("--url", required=True, help="server base URL, without /v1")
    parser.add_argument("--model", default="bench")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--tokens", type=int, default=200, help="tokens each answer must have")
    parser.add_argument(
        "--pid", type=int, action="append", default=[], help="process whose CPU to measure"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    result = anyio.run(main, parse(), backend_options={"use_uvloop": True})
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
