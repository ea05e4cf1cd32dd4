"""``GET /metrics``: what a Prometheus scrape shows of the runs a server ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.asgi import Served, http_scope
from tests.server.test_chat_completions import tool_team
from tests.server.test_runs import RateLimited
from troupe.agents import AssistantAgent, CodeAssistantAgent
from troupe.config import ConfigSpec, ServerSpec
from troupe.config.spec import MetricsSpec
from troupe.execution import LocalExecutor
from troupe.models import ScriptedModel, tool_call
from troupe.server import TroupePlugin, create_app
from troupe.teams import RoundRobinTeam
from troupe.telemetry._metrics import render

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def metrics_app(*teams: Any, port: int | None = None) -> Any:
    spec = ConfigSpec(server=ServerSpec(metrics=MetricsSpec(enabled=True, port=port)))
    return create_app(spec, teams=teams)


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(http: httpx2.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_scrape_counts_runs_tokens_tools_and_model_calls(served: Served) -> None:
    app = metrics_app(tool_team())
    http = await served.http(app)
    client = await served.openai(app)
    before = await scrape(http)

    answer = await client.chat.completions.create(
        model="calc", messages=[{"role": "user", "content": "2+3?"}]
    )
    after = await scrape(http)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    usage = answer.usage
    assert usage is not None and usage.prompt_tokens > 0
    tokens = {"team": "calc", "agent": "calc", "model": "scripted"}
    assert grew("troupe_tokens_total", **tokens, kind="prompt") == usage.prompt_tokens
    assert grew("troupe_tokens_total", **tokens, kind="completion") == usage.completion_tokens
    assert grew("troupe_runs_total", team="calc", outcome="completed") == 1
    assert grew("troupe_run_duration_seconds_count", team="calc", outcome="completed") == 1
    assert grew("troupe_tool_calls_total", team="calc", tool="add", outcome="ok") == 1
    model = {"provider": "scripted", "model": "scripted", "outcome": "ok"}
    assert grew("troupe_model_calls_total", **model) == 2
    assert grew("troupe_model_call_duration_seconds_count", **model) == 2
    route = {"method": "POST", "route": "/v1/chat/completions", "status": "200"}
    assert grew("troupe_http_requests_total", **route) == 1
    assert value(after, "troupe_active_runs", team="calc") == 0
    store = {"operation": "commit_runs", "outcome": "ok"}  # the run's log and end, written
    assert grew("troupe_store_operation_duration_seconds_count", **store) >= 1


async def test_a_stream_is_open_while_it_streams_and_its_first_token_is_timed(
    served: Served,
) -> None:
    team = RoundRobinTeam("poet", [AssistantAgent("poet", ScriptedModel(["Tea, slowly."]))])
    app = metrics_app(team)
    http = await served.http(app)
    before = await scrape(http)
    body = {"model": "poet", "stream": True, "messages": [{"role": "user", "content": "a poem"}]}
    during: list[Samples] = []
    received = False
    done = anyio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and b"Tea" in message.get("body", b""):
            during.append(parse(render().decode()))  # what a scrape now would show

    scope = http_scope("POST", "/v1/chat/completions", [(b"content-type", b"application/json")])
    with anyio.fail_after(10):
        await app(scope, receive, send)  # type: ignore[arg-type]
    done.set()
    after = await scrape(http)

    streams = value(before, "troupe_open_streams")
    assert [value(d, "troupe_open_streams") for d in during] == [streams + 1]
    assert value(after, "troupe_open_streams") == streams
    ttft = "troupe_run_time_to_first_token_seconds_count"
    assert value(after, ttft, team="poet") == value(before, ttft, team="poet") + 1


async def test_metrics_on_a_port_of_their_own(served: Served) -> None:
    app = metrics_app(tool_team(), port=0)
    http = await served.http(app)
    assert (await http.get("/metrics")).status_code == 404  # not on the API's port

    address = app.plugins.get(TroupePlugin).telemetry.metrics_address
    assert address is not None
    async with httpx2.AsyncClient() as own:
        response = await own.get(f"http://{address[0]}:{address[1]}/metrics")
    assert response.status_code == 200
    assert "# TYPE troupe_runs_total counter" in response.text


async def test_without_metrics_there_is_no_metrics_route(served: Served) -> None:
    http = await served.http(create_app(teams=[tool_team()]))
    response = await http.get("/metrics")
    assert response.status_code == 404


def test_a_server_with_metrics_and_traces_off_imports_neither() -> None:
    code = (
        "import sys\n"
        "from troupe.server import create_app\n"
        "from tests.server.test_chat_completions import tool_team\n"
        "create_app(teams=[tool_team()])\n"
        # (Litestar itself imports OpenTelemetry's API when it is installed: not its SDK.)
        "heavy = ('prometheus_client', 'opentelemetry.sdk', 'opentelemetry.exporter')\n"
        "loaded = [m for m in sys.modules if m.startswith(heavy)]\n"
        "assert not loaded, loaded\n"
    )
    env_free = {"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ""}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env_free},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(autouse=True)
def _no_otel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)


async def test_code_executions_and_failed_model_calls_are_counted(
    served: Served, tmp_path: Path
) -> None:
    model = ScriptedModel(
        [
            tool_call("run_code", '{"language": "sh", "code": "echo 42"}'),
            tool_call("run_code", '{"language": "sh", "code": "exit 3"}'),
            "It is 42.",
        ]
    )
    executor = LocalExecutor("local", enabled=True, work_root=tmp_path, approval="never")  # type: ignore[arg-type]
    helper = CodeAssistantAgent("helper", model, executor=executor, max_tool_iterations=3)
    coder = RoundRobinTeam("coder", [helper])
    busy = RoundRobinTeam("busy", [AssistantAgent("bot", RateLimited())])
    app = metrics_app(coder, busy)
    http = await served.http(app)
    before = await scrape(http)
    ran = await http.post("/v1/chat/completions", json=question("coder"))
    failed = await http.post("/v1/chat/completions", json=question("busy"))
    after = await scrape(http)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert ran.status_code == 200 and failed.status_code == 429
    code = {"team": "coder", "agent": "helper"}
    assert grew("troupe_code_executions_total", **code, outcome="ok") == 1
    assert grew("troupe_code_executions_total", **code, outcome="error") == 1
    busy_model = {"provider": "openai", "model": "busy-model", "outcome": "error"}
    assert grew("troupe_model_calls_total", **busy_model) == 1
    assert grew("troupe_runs_total", team="busy", outcome="failed") == 1
    route = {"method": "POST", "route": "/v1/chat/completions", "status": "429"}
    assert grew("troupe_http_requests_total", **route) == 1


def question(team: str) -> dict[str, Any]:
    return {"model": team, "messages": [{"role": "user", "content": "6*7?"}]}
