"""The benchmark: a one-agent troupe team against the bare relay, then the micro-costs.

    uv run python -m bench.run [--quick] [--rounds N] [--variants] [--no-micro]

Starts fake OpenAI upstreams answering 200 tokens, the relay and the troupe
server (each its own uvicorn process, one per upstream), and drives each with
``bench.loadgen`` at concurrency 1 and 64; then measures time to first token
against a paced upstream (one chunk every 2 ms), so that the first token does
not compete with the rest of the stream for the machine's two cores, and 64
streams at a model's pace (a chunk every 5 ms).

Each phase runs ``--rounds`` times, the servers taking turns (relay, troupe,
relay, troupe, ...): this machine's speed drifts by 20-50 % over minutes, and
a ratio is only worth something between figures taken side by side. A phase's
figures are the medians of its rounds'; every round's server CPU is kept
too. Writes ``bench/results/<time>.json`` (and ``latest.json``)
and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import micro, procs
from bench.report import table, variants_table

RESULTS = Path(__file__).parent / "results"
TEAM_YAML = """\
models:
  upstream:
    provider: openai
    model: fake-model
    base_url: {base_url}/v1
    api_key: none
teams:
  bench:
    agents:
      - name: assistant
        model: upstream
"""
# Patch sets of bench.variants measured with --variants.
VARIANTS = ("deps", "writer", "flush", "deps,writer,flush")


def _config(base_url: str, name: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.yaml"
    path.write_text(TEAM_YAML.format(base_url=base_url))
    return path


def _load(
    server: procs.Server,
    others: list[int],
    concurrency: int,
    requests: int,
    warmup: int,
    tokens: int,
) -> dict[str, Any]:
    argv = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--url",
        server.url,
        "--concurrency",
        str(concurrency),
    ]
    argv += ["--requests", str(requests), "--warmup", str(warmup), "--tokens", str(tokens)]
    for pid in (server.pid, *others):
        argv += ["--pid", str(pid)]
    out = subprocess.run(
        argv, capture_output=True, text=True, check=True, preexec_fn=procs.pin(procs.OTHER_CPUS)
    ).stdout
    result: dict[str, Any] = json.loads(out)
    cpu = result.pop("cpu_s")
    done = max(result["requests"], 1)
    result["server_cpu_ms_per_request"] = round(1000 * cpu[str(server.pid)] / done, 3)
    if others:
        result["upstream_cpu_ms_per_request"] = round(1000 * cpu[str(others[0])] / done, 3)
    result["loadgen_cpu_ms_per_request"] = round(1000 * result.pop("loadgen_cpu_s") / done, 3)
    result["memory_kib"] = procs.memory_kib(server.pid)
    if result["errors"]:
        print(
            f"  {server.name}: {result['errors']} errors, e.g. {result['first_errors']}",
            file=sys.stderr,
        )
    return result


def _relay_writes(server: procs.Server) -> tuple[int, int]:
    with urllib.request.urlopen(server.url + "/stats") as response:
        stats = json.loads(response.read())
    return stats["requests"], stats["writes"]


def _throughput(
    server: procs.Server, upstream: procs.Server, plan: dict[str, Any], phase: str
) -> dict[str, Any]:
    concurrency, requests, warmup = plan["throughput"][phase]
    print(
        f"  {server.name} {phase}: {requests} requests at concurrency {concurrency}",
        file=sys.stderr,
    )
    before = _relay_writes(server) if server.name == "relay" else None
    out = _load(server, [upstream.pid], concurrency, requests, warmup, plan["tokens"])
    if before is not None:
        after = _relay_writes(server)
        out["relay_writes_per_request"] = round(
            (after[1] - before[1]) / max(after[0] - before[0], 1), 1
        )
    return out


def _measure(server: procs.Server, upstream: procs.Server, plan: dict[str, Any]) -> dict[str, Any]:
    """Every throughput phase of ``server``, one after the other (``bench.peers``)."""
    out: dict[str, Any] = {"idle_memory_kib": procs.memory_kib(server.pid)}
    for phase in plan["throughput"]:
        out[phase] = _throughput(server, upstream, plan, phase)
    return out


def _ttft(server: procs.Server, plan: dict[str, Any]) -> dict[str, Any]:
    requests, warmup = plan["paced"]
    print(f"  {server.name} paced: {requests} requests at concurrency 1", file=sys.stderr)
    return _load(server, [], 1, requests, warmup, plan["paced_tokens"])


def _paced64(server: procs.Server, plan: dict[str, Any]) -> dict[str, Any]:
    concurrency, requests, warmup = plan["paced64"]
    print(
        f"  {server.name} paced64: {requests} requests at concurrency {concurrency}",
        file=sys.stderr,
    )
    result = _load(server, [], concurrency, requests, warmup, plan["paced64_tokens"])
    chunks = plan["paced64_tokens"]
    result["server_cpu_us_per_chunk"] = round(
        1000 * result["server_cpu_ms_per_request"] / chunks, 2
    )
    return result


def _median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure the median of its rounds' (numbers, nested ones too), with every round's
    server CPU beside them."""

    def median(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, dict):
            return {key: median([v[key] for v in values]) for key in first}
        if isinstance(first, int | float) and not isinstance(first, bool):
            return statistics.median(values)
        return first

    merged: dict[str, Any] = median(rounds)
    merged["server_cpu_ms_rounds"] = [r["server_cpu_ms_per_request"] for r in rounds]
    return merged


def _plan(quick: bool) -> dict[str, Any]:
    return {
        "tokens": 200,
        "throughput": {"c1": (1, 50, 10), "c64": (64, 300, 64)}
        if quick
        # c=1: 1,000 requests (300 took 1.3 to 2.6 s, short enough for a burst of this
        # VM's noise to move a round by 20 %).
        else {"c1": (1, 1000, 100), "c64": (64, 2000, 200)},
        "paced_tokens": 20,
        "paced_delay_s": 0.002,
        "paced": (30, 5) if quick else (100, 10),
        # A model's pace at scale: 64 streams whose 200 chunks come 5 ms apart, so the
        # server pays per chunk read (a wake-up each), as with real models.
        "paced64_tokens": 200,
        "paced64_delay_s": 0.005,
        "paced64": (64, 64, 16) if quick else (64, 320, 64),
    }


def _servers(kind: str, upstream_url: str, patches: str, args: argparse.Namespace) -> procs.Server:
    if kind == "relay":
        return procs.relay(upstream_url)
    config = _config(upstream_url, "team")  # read once, when the server starts
    if patches:
        return procs.variant(config, patches, args.troupe_src, args.store)
    return procs.troupe(config, args.troupe_src, args.store)


def _source(src: Path | None) -> dict[str, Any]:
    """Which troupe the servers ran: a path given, or this checkout's commit (dirty if src/ changed)."""
    if src is not None:
        return {"src": str(src.resolve())}
    repo = Path(__file__).parent.parent

    def git(*argv: str) -> str:
        return subprocess.run(
            ["git", *argv], cwd=repo, capture_output=True, text=True
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "src")),
    }


def _machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "",
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def upstreams(stack: ExitStack, plan: dict[str, Any]) -> tuple[procs.Server, ...]:
    """The plan's three fake upstreams (fast, paced, paced for 64 streams), open in ``stack``."""
    return (
        stack.enter_context(procs.upstream(plan["tokens"])),
        stack.enter_context(procs.upstream(plan["paced_tokens"], delay=plan["paced_delay_s"])),
        stack.enter_context(procs.upstream(plan["paced64_tokens"], delay=plan["paced64_delay_s"])),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer requests: a smoke run of the harness"
    )
    parser.add_argument(
        "--variants",
        action="store_true",
        help=f"also measure {', '.join(VARIANTS)} (bench.variants)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="PATCHES",
        help="also measure these patches",
    )
    parser.add_argument(
        "--troupe-src", type=Path, help="serve the troupe package in this src/ (another checkout)"
    )
    parser.add_argument(
        "--store",
        default="sqlite",
        help="troupe's conversation store: sqlite (a fresh file per server, the default kind) or memory",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="turns each server takes at each phase (median kept)"
    )
    parser.add_argument("--no-micro", action="store_true", help="skip the in-process micro-costs")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not give the server a core of its own"
    )
    args = parser.parse_args()
    procs.PIN = procs.PIN and not args.no_pin
    variants = [*(VARIANTS if args.variants else ()), *args.variant]
    plan = _plan(args.quick)
    started = time.monotonic()
    results: dict[str, Any] = {
        "machine": _machine(),
        "plan": plan,
        "troupe": _source(args.troupe_src),
    }
    results.update(targets={}, variants={})
    results["machine"]["pinned"] = procs.PIN
    results["rounds"] = args.rounds
    results["troupe"]["store"] = args.store
    busy = results["machine"]["busy_before"] = round(procs.machine_busy(), 3)
    if busy > 0.1:
        print(
            f"  warning: the machine is {busy:.0%} busy before the run: expect noise",
            file=sys.stderr,
        )
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, procs.STORE_DIR, ignore_errors=True)  # runs last
        upstream, paced, paced64 = upstreams(stack, plan)
        targets = [("relay", ""), ("troupe", "")]
        targets += [("troupe", patches) for patches in variants]
        # Every server at once, one per upstream (idle until its turn): they take turns.
        servers = {
            (kind, patches): [
                stack.enter_context(_servers(kind, up.url, patches, args))
                for up in (upstream, paced, paced64)
            ]
            for kind, patches in targets
        }
        measured: dict[tuple[str, str], dict[str, Any]] = {
            key: {"idle_memory_kib": procs.memory_kib(fast.pid)}
            for key, (fast, _, _) in servers.items()
        }
        phases: dict[str, Callable[[list[procs.Server]], dict[str, Any]]] = {
            "c1": lambda s: _throughput(s[0], upstream, plan, "c1"),
            "c64": lambda s: _throughput(s[0], upstream, plan, "c64"),
            "paced": lambda s: _ttft(s[1], plan),
            "paced64": lambda s: _paced64(s[2], plan),
        }
        for phase, measure in phases.items():
            rounds: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in servers}
            for _ in range(args.rounds):
                for key, trio in servers.items():
                    rounds[key].append(measure(trio))
            for key in servers:
                measured[key][phase] = _median_round(rounds[key])
        for (kind, patches), result in measured.items():
            if patches:
                results["variants"][patches] = result
            else:
                results["targets"][kind] = result
        if not args.no_micro:
            print("  micro-costs", file=sys.stderr)
            few = stack.enter_context(procs.upstream(1))
            if procs.PIN:  # this process measures now; the upstreams keep to the other cores
                os.sched_setaffinity(0, procs.SERVER_CPUS)
            results["micro"] = micro.run(
                {plan["tokens"]: upstream.url, 1: few.url}, quick=args.quick
            )
    results["duration_s"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(results, indent=2)
    (RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    print(table(results))
    if results["variants"]:
        print(variants_table(results))
    print(f"\n{results['duration_s']} s; results in {RESULTS / 'latest.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
