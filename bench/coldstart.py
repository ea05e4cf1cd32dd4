"""Cold start: from spawning a server to its first answer, and its memory when idle.

    uv run python -m bench.coldstart [--rounds 5]

An autoscaler starts replicas on demand: what counts is how long a new one takes
to answer, and what it holds doing nothing. The bare relay and ``troupe serve``
(a one-agent team, the default SQLite store) start in turns, each round: spawn,
poll ``POST /v1/chat/completions`` until one answers in full, then idle two
seconds and read ``VmRSS``. Prints medians and ranges. The database is migrated
once before (``troupe db upgrade``), as a new replica finds it; ``--fresh`` starts
troupe on a new file each time instead (the first start of a deployment). The
environment's modules are compiled to bytecode first, as the Docker image ships
them (``compileall``): without it each start compiles every module it imports
(about a second for troupe here, half that for the relay), which no deployed
replica does; ``--no-compile`` skips that.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import procs
from bench.run import _config

BODY = json.dumps(
    {"model": "bench", "stream": False, "messages": [{"role": "user", "content": "hi"}]}
).encode()


def _answer(url: str) -> bool:
    request = urllib.request.Request(
        url + "/v1/chat/completions", data=BODY, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200 and bool(response.read())
    except OSError:
        return False


def _once(name: str, argv: list[str], env: dict[str, str], port: int) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while not _answer(f"http://127.0.0.1:{port}"):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}")
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"{name} gave no answer in 120 s")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        time.sleep(2)
        return elapsed, procs.memory_kib(proc.pid)["VmRSS"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="a new database file each time")
    parser.add_argument("--no-compile", action="store_true", help="leave the bytecode as it is")
    args = parser.parse_args()
    if not args.no_compile:
        import sysconfig

        where = [sysconfig.get_paths()["purelib"], str(Path(__file__).parents[1] / "src")]
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *where], check=False,
                       capture_output=True)  # fmt: skip
    results: dict[str, dict[str, list[float]]] = {
        "relay": {"seconds": [], "rss_mib": []},
        "troupe": {"seconds": [], "rss_mib": []},
    }
    database = procs.migrated_database("coldstart.db")
    with procs.upstream(20) as upstream:
        config = _config(upstream.url, "coldstart")
        for _ in range(args.rounds):
            port = procs.free_port()
            relay_argv = [str(procs.BIN / "uvicorn"), "bench.relay:app", "--port", str(port)]
            relay_argv += ["--log-level", "warning", "--no-access-log"]
            seconds, rss = _once("relay", relay_argv, {"BENCH_UPSTREAM": upstream.url}, port)
            results["relay"]["seconds"].append(seconds)
            results["relay"]["rss_mib"].append(rss / 1024)
            port = procs.free_port()
            troupe_argv = [str(procs.BIN / "troupe"), "serve", "--config", str(config)]
            troupe_argv += ["--port", str(port), "--log-level", "warning"]
            if args.fresh:
                env = procs.troupe_env(None, "sqlite", port)
            else:
                env = {"TROUPE_DATABASE_URL": f"sqlite:///{database}"}
            seconds, rss = _once("troupe", troupe_argv, env, port)
            results["troupe"]["seconds"].append(seconds)
            results["troupe"]["rss_mib"].append(rss / 1024)
    summary: dict[str, Any] = {}
    for name, series in results.items():
        summary[name] = {
            key: {
                "median": round(statistics.median(values), 3),
                "min": round(min(values), 3),
                "max": round(max(values), 3),
            }
            for key, values in series.items()
        }
    ratio = summary["troupe"]["seconds"]["median"] / summary["relay"]["seconds"]["median"]
    summary["troupe_over_relay_seconds"] = round(ratio, 2)
    print(json.dumps(summary, indent=2))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "coldstart.json").write_text(json.dumps(summary, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
