"""The model-call boundary: every call of a ``ChatModel`` goes through ``model_stream``.

With metrics and traces off it is ``model.stream(request)`` itself. On, it
times the call, counts it by provider, model and outcome, and makes its
``chat {model}`` span (a child of the agent's turn).
"""

from __future__ import annotations

__all__ = ["model_stream"]

import contextlib
import time
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from troupe import logs
from troupe.telemetry._state import active

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from troupe.models import ChatModel, ModelRequest, ModelResponse, ModelStreamItem


def model_stream(model: ChatModel, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
    """``model.stream(request)``, measured when metrics or traces are on."""
    if active.off:
        return model.stream(request)
    return _measured(model, request)


async def _measured(
    model: ChatModel, request: ModelRequest
) -> AsyncGenerator[ModelStreamItem, None]:
    from troupe.models import ModelResponse

    provider, name = model.provider, model.model_name
    tracing = active.tracing
    span = None
    if tracing is not None:
        from opentelemetry.trace import SpanKind

        bound = logs.context()
        parent = tracing.turns.get((bound.get("run_id", ""), bound.get("agent", "")))
        span = tracing.start(
            f"chat {name}",
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": name,
                "gen_ai.conversation.id": bound.get("conversation_id", ""),
            },
            parent=parent,
            kind=SpanKind.CLIENT,
        )
        if tracing.capture_content:
            from troupe.telemetry._tracing import messages_json

            span.set_attribute("gen_ai.input.messages", messages_json(request.messages))
    outcome = "cancelled"
    started = time.perf_counter()
    try:
        async with contextlib.aclosing(model.stream(request)) as items:
            async for item in items:
                if isinstance(item, ModelResponse):
                    outcome = "ok"  # the caller may close the stream at this last item
                    if span is not None:
                        _answered(span, item, tracing is not None and tracing.capture_content)
                yield item
    except Exception as err:
        outcome = "error"
        if span is not None:
            from troupe.telemetry._tracing import fail

            fail(span, getattr(err, "code", None) or type(err).__name__, str(err))
        raise
    finally:
        elapsed = time.perf_counter() - started
        if active.metrics is not None:
            active.metrics.model_calls.labels(provider, name, outcome).inc()
            active.metrics.model_duration.labels(provider, name, outcome).observe(elapsed)
        if span is not None:
            if outcome == "cancelled":
                span.set_attribute("error.type", "cancelled")
            span.end()


def _answered(span: Span, response: ModelResponse, capture: bool) -> None:
    span.set_attributes(
        {
            "gen_ai.usage.input_tokens": response.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": response.usage.completion_tokens,
            "gen_ai.response.finish_reasons": [response.finish_reason],
        }
    )
    if response.model:
        span.set_attribute("gen_ai.response.model", response.model)
    if capture:
        from troupe.telemetry._tracing import output_json

        span.set_attribute(
            "gen_ai.output.messages",
            output_json(response.content, response.tool_calls, response.finish_reason),
        )
