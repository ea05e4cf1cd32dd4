"""troupe beside a peer: LiteLLM's proxy, relaying to the same fake upstream.

    uv run python -m bench.peers [--quick] [--litellm 'litellm[proxy]==1.108.7']

The phases of ``bench.run`` (c=1 and c=64 against the fast fake upstream, c=1
against an upstream pacing 20 chunks 2 ms apart, c=64 against one pacing 200
chunks 5 ms apart), each server pinned to CPU 0, for the bare relay, ``troupe
serve`` (a one-agent team) and ``litellm --config <yaml>`` (model ``bench``
routed to the fake upstream as an OpenAI-compatible model); then the cold start
of each (``bench.coldstart``: spawn to first answer, idle RSS).

LiteLLM is not a dependency of troupe: it is installed from PyPI into its own
virtual environment, ``bench/.peers/litellm`` (git-ignored), the first time,
bytecode compiled as a deployed image has it. Its settings are those of its
"production best practices" page that need no outside service: one uvicorn
worker (its default), ``LITELLM_MODE=PRODUCTION``, ``LITELLM_LOG=ERROR``,
``set_verbose: false``, ``json_logs: true``, ``request_timeout: 600``, the local
model cost map (no fetch at start), no callbacks, no database (so no spend or
error logs). No master key: the relay and troupe take requests without one here
too, and LiteLLM refuses to start without one unless told
``dangerously_permit_weak_or_unset_master_key``.

Writes ``bench/results/peers.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import coldstart, procs, report, run

PEERS = Path(__file__).parent / ".peers"
LITELLM_VENV = PEERS / "litellm"
LITELLM_SPEC = "litellm[proxy]"
LITELLM_YAML = """\
model_list:
  - model_name: bench
    litellm_params:
      model: openai/fake-model
      api_base: {base_url}/v1
      api_key: none
litellm_settings:
  request_timeout: 600
  set_verbose: false
  json_logs: true
  telemetry: false
  callbacks: []
  success_callback: []
  failure_callback: []
general_settings:
  disable_spend_logs: true
  disable_error_logs: true
  # No master key, as the relay and troupe have none in this benchmark.
  dangerously_permit_weak_or_unset_master_key: true
"""
LITELLM_ENV = {
    "LITELLM_MODE": "PRODUCTION",  # no .env loading
    "LITELLM_LOG": "ERROR",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # else it fetches the cost map at each start
}
# Versions of what LiteLLM's server runs on, read from its environment.
_PACKAGES = ("litellm", "uvicorn", "uvloop", "httptools", "fastapi", "aiohttp", "httpx", "openai")
TARGETS = ("relay", "troupe", "litellm")
# LiteLLM serves 2-3 streams of 200 chunks a second on one core: bench.run's 2000 requests
# at c=64 would take 15 minutes, so it gets fewer (the same warmups and concurrency).
LITELLM_COUNTS = {"c1": 100, "c64": 320}


def _litellm_python() -> Path:
    return LITELLM_VENV / "bin" / "python"


def install_litellm(spec: str) -> dict[str, str | None]:
    """LiteLLM in its own venv (created and installed when missing); its packages' versions."""
    python = _litellm_python()
    if not (LITELLM_VENV / "bin" / "litellm").exists():
        uv = shutil.which("uv")
        if uv is None:
            raise SystemExit("uv is needed to install LiteLLM in its own environment")
        print(f"  installing {spec} into {LITELLM_VENV}", file=sys.stderr)
        subprocess.run(
            [uv, "venv", "-q", "--python", sys.executable, str(LITELLM_VENV)], check=True
        )
        install = [uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(python), spec]
        subprocess.run(install, check=True)
    probe = (
        "import importlib.metadata as m, json\n"
        "def v(name):\n"
        "    try:\n"
        "        return m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        return None\n"
        f"print(json.dumps({{name: v(name) for name in {_PACKAGES!r}}}))"
    )
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    versions: dict[str, str | None] = json.loads(out.stdout)
    return versions


class SlowServer(procs.Server):
    """A server that may take longer than 30 s to answer its first probe (LiteLLM imports a lot)."""

    def _wait_ready(self, path: str, timeout: float = 180.0) -> None:
        super()._wait_ready(path, timeout)


def _litellm_argv(config: Path, port: int) -> list[str]:
    litellm = str(LITELLM_VENV / "bin" / "litellm")
    return [litellm, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]


def _litellm_config(base_url: str, name: str) -> Path:
    path = run.RESULTS / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(LITELLM_YAML.format(base_url=base_url))
    return path


def litellm(upstream_url: str) -> procs.Server:
    """``litellm --config``: one process (its default of one worker), pinned as the others."""
    port = procs.free_port()
    argv = _litellm_argv(_litellm_config(upstream_url, "litellm"), port)
    return SlowServer(
        "litellm", argv, port, "/health/liveliness", env=LITELLM_ENV, cpus=procs.SERVER_CPUS
    )


def _server(kind: str, upstream_url: str, store: str) -> procs.Server:
    if kind == "litellm":
        return litellm(upstream_url)
    if kind == "relay":
        return procs.relay(upstream_url)
    return procs.troupe(run._config(upstream_url, "team"), None, store)


def _plan_for(kind: str, plan: dict[str, Any], quick: bool) -> dict[str, Any]:
    if kind != "litellm" or quick:
        return plan
    throughput = {
        phase: (concurrency, min(requests, LITELLM_COUNTS[phase]), warmup)
        for phase, (concurrency, requests, warmup) in plan["throughput"].items()
    }
    return {**plan, "throughput": throughput}


def _cold_starts(rounds: int) -> dict[str, Any]:
    """``bench.coldstart``'s measure for the three, in turns: troupe on a migrated SQLite file."""
    database = procs.migrated_database("peers-coldstart.db")
    series: dict[str, dict[str, list[float]]] = {
        kind: {"seconds": [], "rss_mib": []} for kind in TARGETS
    }
    with procs.upstream(20) as upstream:
        team = run._config(upstream.url, "coldstart")
        gateway = _litellm_config(upstream.url, "litellm-coldstart")
        for _ in range(rounds):
            for kind in TARGETS:
                port = procs.free_port()
                if kind == "relay":
                    argv = [str(procs.BIN / "uvicorn"), "bench.relay:app", "--port", str(port)]
                    argv += ["--log-level", "warning", "--no-access-log"]
                    env = {"BENCH_UPSTREAM": upstream.url}
                elif kind == "troupe":
                    argv = [str(procs.BIN / "troupe"), "serve", "--config", str(team)]
                    argv += ["--port", str(port), "--log-level", "warning"]
                    env = {"TROUPE_DATABASE_URL": f"sqlite:///{database}"}
                else:
                    argv, env = _litellm_argv(gateway, port), LITELLM_ENV
                print(f"  cold start {kind}", file=sys.stderr)
                seconds, rss = coldstart._once(kind, argv, env, port)
                series[kind]["seconds"].append(seconds)
                series[kind]["rss_mib"].append(rss / 1024)
    return {
        kind: {
            key: {
                "median": round(statistics.median(values), 3),
                "all": [round(v, 3) for v in values],
            }
            for key, values in measures.items()
        }
        for kind, measures in series.items()
    }


def table(results: dict[str, Any]) -> str:
    targets = results["targets"]
    names = [name for name in TARGETS if name in targets]
    lines = [
        f"| metric | {' | '.join(names)} | troupe / litellm |",
        "|---|" + "---:|" * (len(names) + 1),
    ]
    for label, phase, path, decimals in report._ROWS:
        values = [report._get(targets[name][phase], path) for name in names]
        ratio = (
            f"{values[names.index('troupe')] / values[names.index('litellm')]:.2f}x"
            if {"troupe", "litellm"} <= set(names)
            else ""
        )
        cells = " | ".join(report._fmt(value, decimals) for value in values)
        lines.append(f"| {label}, {report._PHASE[phase]} | {cells} | {ratio} |")
    if "coldstart" in results:
        cold = results["coldstart"]
        for label, key, decimals in (("cold start, spawn to first answer (s)", "seconds", 2),
                                     ("idle RSS after cold start (MiB)", "rss_mib", 1)):  # fmt: skip
            values = [cold[name][key]["median"] for name in names]
            ratio = values[names.index("troupe")] / values[names.index("litellm")]
            cells = " | ".join(report._fmt(value, decimals) for value in values)
            lines.append(f"| {label} | {cells} | {ratio:.2f}x |")
    errors = {
        f"{name} {phase}": data["errors"]
        for name in names
        for phase, data in targets[name].items()
        if isinstance(data, dict) and data.get("errors")
    }
    if errors:
        lines += ["", f"Errors (requests not counted): {errors}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and one cold start")
    parser.add_argument("--litellm", default=LITELLM_SPEC, help="pip spec of LiteLLM to install")
    parser.add_argument(
        "--store", default="sqlite", help="troupe's conversation store: sqlite or memory"
    )
    parser.add_argument("--cold-rounds", type=int, help="cold starts per server (default 3)")
    parser.add_argument("--only", action="append", choices=TARGETS, help="measure only these")
    args = parser.parse_args()
    versions = install_litellm(args.litellm)
    plan = run._plan(args.quick)
    rounds = args.cold_rounds if args.cold_rounds is not None else (1 if args.quick else 3)
    started = time.monotonic()
    results: dict[str, Any] = {
        "machine": run._machine(),
        "plan": plan,
        "troupe": {**run._source(None), "store": args.store},
        "litellm": {
            "spec": args.litellm,
            "versions": versions,
            "env": LITELLM_ENV,
            "plan": _plan_for("litellm", plan, args.quick),
        },
        "targets": {},
    }
    results["machine"]["pinned"] = procs.PIN
    results["machine"]["loadavg_before"] = os.getloadavg()
    busy = results["machine"]["busy_before"] = round(procs.machine_busy(), 3)
    if busy > 0.1:
        print(f"  warning: the machine is {busy:.0%} busy before the run", file=sys.stderr)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, procs.STORE_DIR, ignore_errors=True)  # runs last
        upstream, paced, paced64 = run.upstreams(stack, plan)
        for kind in args.only or TARGETS:
            own = _plan_for(kind, plan, args.quick)
            with _server(kind, upstream.url, args.store) as server:
                measured = run._measure(server, upstream, own)
            with _server(kind, paced.url, args.store) as server:
                measured["paced"] = run._ttft(server, own)
            with _server(kind, paced64.url, args.store) as server:
                measured["paced64"] = run._paced64(server, own)
            results["targets"][kind] = measured
        if rounds > 0 and not args.only:
            results["coldstart"] = _cold_starts(rounds)
    results["machine"]["loadavg_after"] = os.getloadavg()
    results["duration_s"] = round(time.monotonic() - started, 1)
    run.RESULTS.mkdir(exist_ok=True)
    (run.RESULTS / "peers.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    print(
        f"\n{results['duration_s']} s; load average {results['machine']['loadavg_before']} before, "
        f"{results['machine']['loadavg_after']} after; results in {run.RESULTS / 'peers.json'}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
