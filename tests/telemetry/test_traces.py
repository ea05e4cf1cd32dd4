"""Traces of a real ``troupe serve``, received by a real OTLP receiver."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.e2e.conftest import CONFIG, Upstream, stop, upstream
from tests.telemetry import servers
from tests.telemetry.otlp_receiver import Receiver, Span, otlp_receiver

__all__ = ["upstream"]

pytestmark = pytest.mark.e2e

KEY = "sk-traces"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with otlp_receiver() as receiver:
        yield receiver


def serve(config: Path, receiver: Receiver, **env: str) -> tuple[str, subprocess.Popen[bytes]]:
    return servers.serve(
        config,
        {
            "TROUPE_API_KEYS": KEY,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_SERVICE_NAME": "troupe-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "",
            **env,
        },
    )


def ask(url: str, traceparent: str) -> dict[str, object]:
    response = httpx2.post(
        f"{url}/v1/chat/completions",
        json={"model": "solo", "messages": [{"role": "user", "content": "What is 2+3?"}]},
        headers={"Authorization": f"Bearer {KEY}", "traceparent": traceparent},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def script_tool_then_answer(upstream: Upstream) -> None:
    upstream.script(
        {
            "tool_calls": [
                {"name": "calculator", "arguments": '{"expression": "2+3"}', "id": "call_7"}
            ],
            "prompt_tokens": 40,
            "completion_tokens": 9,
        },
        {"text": "It is 5.", "prompt_tokens": 60, "completion_tokens": 4},
    )


def one(spans: list[Span], name: str) -> Span:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, (name, spans)
    return found[0]


def test_a_run_is_traced_under_the_callers_trace(
    upstream: Upstream, receiver: Receiver, tmp_path: Path
) -> None:
    config = tmp_path / "teams.yaml"
    config.write_text(CONFIG.format(base_url=upstream.base_url))
    url, proc = serve(config, receiver)
    trace_id, caller = secrets.token_hex(16), secrets.token_hex(8)
    try:
        script_tool_then_answer(upstream)
        answer = ask(url, f"00-{trace_id}-{caller}-01")
        spans = receiver.wait_for(trace_id, "invoke_agent solo", "POST /v1/chat/completions")
    finally:
        stderr = stop(proc)
    assert "Traceback" not in stderr, stderr

    http = one(spans, "POST /v1/chat/completions")
    assert http.parent_id == caller  # the caller's traceparent, continued
    assert http.attributes["http.response.status_code"] == 200
    run = one(spans, "invoke_agent solo")
    assert run.parent_id == http.span_id
    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.usage.input_tokens"] == 100
    assert run.attributes["gen_ai.usage.output_tokens"] == 13
    assert run.resource["service.name"] == "troupe-under-test"

    turn = one(spans, "invoke_agent bot")
    assert turn.parent_id == run.span_id
    chats = [s for s in spans if s.name == "chat fake-model"]
    assert [c.parent_id for c in chats] == [turn.span_id, turn.span_id]
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in chats] == [
        ["tool_calls"],
        ["stop"],
    ]
    assert [
        (c.attributes["gen_ai.usage.input_tokens"], c.attributes["gen_ai.usage.output_tokens"])
        for c in chats
    ] == [(40, 9), (60, 4)]
    usage = answer["usage"]
    assert isinstance(usage, dict) and usage["prompt_tokens"] == 100
    for chat in chats:
        assert chat.attributes["gen_ai.provider.name"] == "openai"
        assert chat.attributes["gen_ai.request.model"] == "fake-model"
        assert "gen_ai.input.messages" not in chat.attributes  # content capture is off

    tool = one(spans, "execute_tool calculator")
    assert tool.parent_id == turn.span_id
    assert tool.attributes["gen_ai.tool.name"] == "calculator"
    assert tool.attributes["gen_ai.tool.call.id"] == "call_7"
    assert "gen_ai.tool.call.arguments" not in tool.attributes

    stored = [s for s in spans if s.name.startswith("store ")]
    assert stored and all(s.attributes["db.operation.name"] for s in stored)
    assert {s.span_id for s in spans} >= {s.parent_id for s in spans} - {caller}


def test_contents_are_recorded_only_when_asked(
    upstream: Upstream, receiver: Receiver, tmp_path: Path
) -> None:
    config = tmp_path / "teams.yaml"
    config.write_text(CONFIG.format(base_url=upstream.base_url))
    url, proc = serve(config, receiver, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    trace_id = secrets.token_hex(16)
    try:
        script_tool_then_answer(upstream)
        ask(url, f"00-{trace_id}-{secrets.token_hex(8)}-01")
        spans = receiver.wait_for(trace_id, "invoke_agent solo", "execute_tool calculator")
    finally:
        stop(proc)

    first, second = [s for s in spans if s.name == "chat fake-model"]
    assert "What is 2+3?" in first.attributes["gen_ai.input.messages"]
    assert "It is 5." in second.attributes["gen_ai.output.messages"]
    tool = one(spans, "execute_tool calculator")
    assert tool.attributes["gen_ai.tool.call.arguments"] == '{"expression": "2+3"}'
    assert tool.attributes["gen_ai.tool.call.result"] == "5"
