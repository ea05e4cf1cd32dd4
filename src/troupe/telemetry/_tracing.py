"""OpenTelemetry traces, following the GenAI semantic conventions.

On when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
is set (and ``troupe-server[otel]`` installed): spans go to that OTLP/HTTP
endpoint, with the SDK's own ``OTEL_*`` variables honoured (service name and
resource, sampler, batch sizes, headers, timeouts, propagators). A host app
that configured a tracer provider of its own keeps it: troupe's spans go there.
Prompts, answers, tool arguments and results are recorded only with
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.
"""

from __future__ import annotations

__all__ = ["Tracing", "tracing_from_env"]

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from troupe.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage

logger = logging.getLogger("troupe.telemetry")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
CAPTURE_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
Context = otel_context.Context
_json = msgspec.json.Encoder()


class Tracing:
    """The tracer troupe's spans come from, and what it may record."""

    def __init__(
        self, tracer: trace.Tracer, *, capture_content: bool, provider: Any = None
    ) -> None:
        self.tracer = tracer
        self.capture_content = capture_content
        self._provider = provider  # ours to flush and shut down (None: the host's)
        # The open span of each agent's turn, by (run id, agent): model calls made for the
        # agent are its children.
        self.turns: dict[tuple[str, str], Span] = {}
        # The span of each run of this process, by run id (for the log writer's commits).
        self.runs: dict[str, Span] = {}

    def start(
        self,
        name: str,
        attributes: Mapping[str, Any],
        *,
        parent: Span | Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> Span:
        context = trace.set_span_in_context(parent) if isinstance(parent, Span) else parent
        return self.tracer.start_span(name, context=context, kind=kind, attributes=attributes)

    def extract(self, headers: Mapping[str, str]) -> Context:
        """The trace a request continues (its W3C ``traceparent``), or a new one."""
        return propagate.extract(headers)

    def current(self) -> Context:
        return otel_context.get_current()

    def attach(self, span: Span) -> object:
        return otel_context.attach(trace.set_span_in_context(span))

    def detach(self, token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    def has_parent(self) -> bool:
        return trace.get_current_span().get_span_context().is_valid

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()


def fail(span: Span, error_type: str, message: str = "") -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, message or None))


def messages_json(messages: Sequence[Message]) -> str:
    """``gen_ai.input.messages``: role and parts of each message, as the convention draws them."""
    return _json.encode([_message(m) for m in messages]).decode()


def output_json(content: str, calls: Sequence[Any], finish_reason: str) -> str:
    parts: list[dict[str, Any]] = [{"type": "text", "content": content}] if content else []
    parts += [
        {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments} for c in calls
    ]
    return _json.encode(
        [{"role": "assistant", "parts": parts, "finish_reason": finish_reason}]
    ).decode()


def _message(message: Message) -> dict[str, Any]:
    match message:
        case SystemMessage(content=content):
            return {"role": "system", "parts": [{"type": "text", "content": content}]}
        case UserMessage(content=str() as content):
            return {"role": "user", "parts": [{"type": "text", "content": content}]}
        case UserMessage(content=parts):
            return {
                "role": "user",
                "parts": [
                    {"type": "text", "content": p.text}
                    if hasattr(p, "text")
                    else {"type": "uri", "modality": "image", "uri": getattr(p, "url", "")}
                    for p in parts
                ],
            }
        case AssistantMessage(content=content, tool_calls=calls):
            return {
                "role": "assistant",
                "parts": ([{"type": "text", "content": content}] if content else [])
                + [
                    {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments}
                    for c in calls
                ],
            }
        case ToolMessage(call_id=call_id, content=content):
            return {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": call_id, "result": content}],
            }


def tracing_from_env(env: Mapping[str, str] | None = None) -> Tracing | None:
    """Tracing as the ``OTEL_*`` variables ask, or None when no endpoint is set."""
    env = os.environ if env is None else env
    if not any(env.get(name) for name in ENDPOINT_VARIABLES):
        return None
    capture = env.get(CAPTURE_VARIABLE, "").strip().lower() == "true"
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry's SDK is not installed: "
            "no traces (install troupe-server[otel])"
        )
        return None
    from troupe import __version__

    existing = trace.get_tracer_provider()
    if isinstance(existing, TracerProvider):  # the host app's: use it as it is
        return Tracing(existing.get_tracer("troupe", __version__), capture_content=capture)
    attributes = {"service.version": __version__}
    named = "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if not env.get("OTEL_SERVICE_NAME") and not named:
        attributes["service.name"] = "troupe"
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    logger.info("traces go to %s", _endpoint(env))
    return Tracing(
        provider.get_tracer("troupe", __version__), capture_content=capture, provider=provider
    )


def _endpoint(env: Mapping[str, str]) -> str:
    return env.get(ENDPOINT_VARIABLES[1]) or f"{env.get(ENDPOINT_VARIABLES[0], '')}/v1/traces"
