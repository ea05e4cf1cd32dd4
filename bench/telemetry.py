"""What metrics and traces cost: the same troupe served off, with metrics, with traces.

    uv run python -m bench.telemetry [--requests N]

Starts the fake upstream (200 tokens) and, one after the other, troupe with
metrics and traces off, with ``server.metrics.enabled`` (scraped once a second,
as Prometheus would, faster), with traces exported to a local OTLP/HTTP sink
(``OTEL_EXPORTER_OTLP_ENDPOINT``), and off again (the spread between the two
"off" rows is the noise). Each is driven by ``bench.loadgen`` at concurrency
1 and 16. Prints a markdown table; writes ``bench/results/telemetry-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import procs
from bench.run import RESULTS, TEAM_YAML, _load

SETUPS = ("off", "metrics", "traces", "off again")


@contextmanager
def otlp_sink() -> Iterator[tuple[str, list[int]]]:
    """An OTLP/HTTP endpoint that takes every export and counts its bytes."""
    received: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(len(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()


@contextmanager
def scraping(url: str) -> Iterator[list[int]]:
    """Scrape ``url`` once a second while the load runs; the scrapes' sizes."""
    sizes: list[int] = []
    stop = threading.Event()

    def scrape() -> None:
        while not stop.wait(1.0):
            with urllib.request.urlopen(url, timeout=5) as response:
                sizes.append(len(response.read()))

    thread = threading.Thread(target=scrape, daemon=True)
    thread.start()
    try:
        yield sizes
    finally:
        stop.set()
        thread.join()


def serve(setup: str, upstream: str, sink: str) -> procs.Server:
    config = RESULTS / f"telemetry-{setup.replace(' ', '-')}.yaml"
    text = TEAM_YAML.format(base_url=upstream)
    if setup == "metrics":
        text += "server:\n  metrics: {enabled: true}\n"
    config.write_text(text)
    port = procs.free_port()
    argv = [str(procs.BIN / "troupe"), "serve", "--config", str(config), "--port", str(port)]
    argv += ["--log-level", "warning"]
    env = procs.troupe_env(None, "memory", port)
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": sink if setup == "traces" else ""}
    return procs.Server(f"troupe {setup}", argv, port, "/health", env=env, cpus=procs.SERVER_CPUS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per phase")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    phases = {"c1": (1, args.requests, 10), "c16": (16, args.requests * 2, 32)}
    results: dict[str, Any] = {"busy_before": round(procs.machine_busy(), 3), "setups": {}}
    with procs.upstream(200) as upstream, otlp_sink() as (sink, exported):
        for setup in SETUPS:
            with serve(setup, upstream.url, sink) as server:
                out: dict[str, Any] = {}
                for phase, (concurrency, requests, warmup) in phases.items():
                    print(f"  {setup} {phase}: {requests} requests", file=sys.stderr)
                    if setup == "metrics":
                        with scraping(server.url + "/metrics") as sizes:
                            out[phase] = _load(
                                server, [upstream.pid], concurrency, requests, warmup, 200
                            )
                        out[phase]["scrapes"] = len(sizes)
                    else:
                        out[phase] = _load(
                            server, [upstream.pid], concurrency, requests, warmup, 200
                        )
                results["setups"][setup] = out
        results["otlp_exports"] = len(exported)
        results["otlp_bytes"] = sum(exported)
    results["busy_after"] = round(procs.machine_busy(), 3)
    name = f"telemetry-{time.strftime('%Y%m%d-%H%M%S')}.json"
    Path(RESULTS / name).write_text(json.dumps(results, indent=2))
    print(table(results))


def table(results: dict[str, Any]) -> str:
    rows = [
        ("requests/s", "requests_per_s", 1),
        ("TTFT p50 (ms)", "ttft_ms.p50", 2),
        ("server CPU per request (ms)", "server_cpu_ms_per_request", 2),
    ]
    setups = results["setups"]
    lines = [
        "| | " + " | ".join(setups) + " |",
        "|---|" + "---:|" * len(setups),
    ]
    for phase in ("c1", "c16"):
        for label, path, decimals in rows:
            cells = []
            for setup in setups.values():
                value: Any = setup[phase]
                for key in path.split("."):
                    value = value[key]
                cells.append(f"{float(value):.{decimals}f}")
            lines.append(f"| {label}, c={phase[1:]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
