"""Spans of failures, in a host app that set a tracer provider of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.asgi import Served
from tests.server.test_runs import RateLimited
from troupe.agents import AssistantAgent, CodeAssistantAgent
from troupe.execution import LocalExecutor
from troupe.models import ScriptedModel, tool_call
from troupe.server import create_app
from troupe.teams import RoundRobinTeam
from troupe.tools import function_tool

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def host_exporter() -> InMemorySpanExporter:
    """The host app's tracer provider (one per process, as OpenTelemetry allows)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(host_exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # never reached
    host_exporter.clear()

    def finished() -> dict[str, ReadableSpan]:
        return {span.name: span for span in host_exporter.get_finished_spans()}

    return finished


def fails(text: str) -> str:
    """A tool that fails."""
    raise ValueError(f"cannot do {text}")


async def test_a_failed_model_call_and_its_run_are_errors(served: Served, spans: Any) -> None:
    http = await served.http(
        create_app(teams=[RoundRobinTeam("busy", [AssistantAgent("bot", RateLimited())])])
    )
    response = await http.post(
        "/v1/chat/completions",
        json={"model": "busy", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 429
    found = spans()
    chat = found["chat busy-model"]
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes["error.type"] == response.json()["error"]["code"]
    run = found["invoke_agent busy"]
    assert run.status.status_code is StatusCode.ERROR
    assert run.attributes["troupe.run.status"] == "failed"
    assert (
        chat.parent is not None and chat.parent.span_id == found["invoke_agent bot"].context.span_id
    )
    assert found["POST /v1/chat/completions"].attributes["http.response.status_code"] == 429


async def test_a_failed_tool_call_is_an_error_span(served: Served, spans: Any) -> None:
    model = ScriptedModel([tool_call("fails", '{"text": "this"}', id="call_f"), "It failed."])
    agent = AssistantAgent("bot", model, tools=[function_tool(fails)])
    http = await served.http(create_app(teams=[RoundRobinTeam("tools", [agent])]))
    response = await http.post(
        "/v1/chat/completions",
        json={"model": "tools", "messages": [{"role": "user", "content": "go"}]},
    )
    assert response.status_code == 200
    tool = spans()["execute_tool fails"]
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes["error.type"] == "tool_error"
    assert tool.attributes["gen_ai.tool.call.id"] == "call_f"
    assert spans()["invoke_agent tools"].status.status_code is StatusCode.UNSET


async def test_a_request_is_the_parent_of_its_store_operations(served: Served, spans: Any) -> None:
    team = RoundRobinTeam("poet", [AssistantAgent("poet", ScriptedModel(["Tea."]))])
    http = await served.http(create_app(teams=[team]))
    assert (await http.get("/v1/runs/run_elsewhere")).status_code == 404  # asked of the store
    found = spans()
    read = found["GET /v1/runs/{run_id}"]
    assert read.attributes["http.route"] == "/v1/runs/{run_id}"
    assert read.status.status_code is StatusCode.UNSET  # a 404 is the client's error
    store = found["store get_run"]
    assert store.parent is not None and store.parent.span_id == read.context.span_id
    assert store.attributes["db.operation.name"] == "get_run"


async def test_a_code_execution_is_a_span_of_the_turn(
    served: Served, spans: Any, tmp_path: Path
) -> None:
    model = ScriptedModel([tool_call("run_code", '{"language": "sh", "code": "exit 3"}'), "No."])
    executor = LocalExecutor("local", enabled=True, work_root=tmp_path, approval="never")  # type: ignore[arg-type]
    agent = CodeAssistantAgent("helper", model, executor=executor)
    http = await served.http(create_app(teams=[RoundRobinTeam("coder", [agent])]))
    response = await http.post(
        "/v1/chat/completions",
        json={"model": "coder", "messages": [{"role": "user", "content": "go"}]},
    )
    assert response.status_code == 200
    found = spans()
    code = found["execute_code sh"]
    assert code.attributes["troupe.code.exit_code"] == 3
    assert code.attributes["error.type"] == "error"
    assert "troupe.code.text" not in code.attributes  # content capture is off
    assert (
        code.parent is not None
        and code.parent.span_id == found["invoke_agent helper"].context.span_id
    )
