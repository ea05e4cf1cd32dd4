"""Where the time to first token goes: milestones of sequential requests, inside the server.

    uv run python -m bench.trace [PATCHES ...]     # e.g. ``-`` (as is) ``deps``

``BENCH_STORE=memory`` runs it with the in-memory conversation store.

Serves the troupe app (with ``bench.variants`` patches) with a few functions
wrapped to note when each request reaches them, drives it with 100 requests
at concurrency 1 against the paced upstream, and prints the median time of
each milestone since the request entered the ASGI app. The wrappers cost a
few microseconds; the order and the gaps are what count.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import procs, variants
from bench.run import RESULTS, TEAM_YAML

MILESTONES = (
    "handler",  # ChatService.run_start called: routing, guards, body decoded
    "run_started",  # RunManager.start returned: the run is spawned
    "response_start",  # the status line and headers sent
    "run_task",  # the run's task starts (RunManager._execute)
    "agent_turn",  # the agent's turn starts (AssistantAgent.run)
    "model_call",  # the agent calls its model (call_model)
    "upstream_request",  # OpenAIModel._post called
    "upstream_headers",  # ... and returned: the upstream's response headers are in
    "first_text",  # the agent writes the first text delta
    "first_content_sent",  # the first content frame handed to the ASGI server
)
_marks: dict[str, float] = {}
_requests: list[dict[str, float]] = []


def _mark(name: str) -> None:
    _marks.setdefault(name, time.perf_counter())


def _wrap(owner: Any, attr: str, before: str, after: str | None = None) -> None:
    original = getattr(owner, attr)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        _mark(before)
        result = await original(*args, **kwargs)
        if after:
            _mark(after)
        return result

    setattr(owner, attr, wrapper)


def _summary() -> bytes:
    measured = _requests[10:]  # after a warmup
    medians = {
        name: round(1000 * statistics.median(r[name] - r["asgi"] for r in measured if name in r), 3)
        for name in MILESTONES
        if any(name in r for r in measured)
    }
    return json.dumps({"requests": len(measured), **medians}).encode()


def create_app() -> Callable[..., Awaitable[None]]:
    from troupe.agents import _assistant
    from troupe.models.openai import OpenAIModel
    from troupe.runs import RunManager
    from troupe.server import _service

    app = variants.create_app()
    _wrap(_service.ChatService, "run_start", "handler")
    _wrap(RunManager, "start", "run_start_called", "run_started")
    _wrap(RunManager, "_execute", "run_task")
    _wrap(_assistant.AssistantAgent, "run", "agent_turn")
    _wrap(_assistant, "call_model", "model_call")
    _wrap(OpenAIModel, "_post", "upstream_request", "upstream_headers")
    _wrap(_assistant._TextStream, "write", "first_text")

    async def traced(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/trace":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": _summary()})
            return
        if scope["type"] != "http" or scope["path"] != "/v1/chat/completions":
            await app(scope, receive, send)
            return
        _marks.clear()
        _mark("asgi")

        async def noting(message: Any) -> None:
            if message["type"] == "http.response.start":
                _mark("response_start")
            elif b'"content":"t' in message.get("body", b""):
                _mark("first_content_sent")
            await send(message)

        await app(scope, receive, noting)
        _requests.append(dict(_marks))

    return traced


def _trace(config: Path, patches: str) -> dict[str, Any]:
    port = procs.free_port()
    argv = [str(procs.BIN / "uvicorn"), "--factory", "bench.trace:create_app", "--port", str(port)]
    argv += ["--log-level", "warning", "--no-access-log"]
    env = {"BENCH_CONFIG": str(config), "BENCH_PATCHES": patches}
    env.update(procs.troupe_env(None, os.environ.get("BENCH_STORE", "sqlite"), port))
    name = f"trace-{patches or 'none'}"
    with procs.Server(name, argv, port, "/health", env=env, cpus=procs.SERVER_CPUS) as server:
        load = [sys.executable, "-m", "bench.loadgen", "--url", server.url, "--requests", "100"]
        load += ["--warmup", "0", "--tokens", "20"]
        run = subprocess.run(
            load, capture_output=True, text=True, check=True, preexec_fn=procs.pin(procs.OTHER_CPUS)
        )
        client = json.loads(run.stdout)
        with urllib.request.urlopen(server.url + "/trace") as response:
            inside: dict[str, Any] = json.loads(response.read())
    return {**inside, "client_ttft_p50": client["ttft_ms"]["p50"]}


def main() -> None:
    patch_sets = [p if p != "-" else "" for p in sys.argv[1:]] or [""]
    with procs.upstream(20, delay=0.002) as upstream:
        RESULTS.mkdir(exist_ok=True)
        config = RESULTS / "trace.yaml"
        config.write_text(TEAM_YAML.format(base_url=upstream.url))
        rows = {patches or "as is": _trace(config, patches) for patches in patch_sets}
    print("| ms since the request entered the app | " + " | ".join(rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for name in (*MILESTONES, "client_ttft_p50"):
        print(f"| {name} | " + " | ".join(str(r.get(name, "")) for r in rows.values()) + " |")


if __name__ == "__main__":
    main()
