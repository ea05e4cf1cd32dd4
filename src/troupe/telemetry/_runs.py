"""What runs tell metrics and traces: read off their events, in one place.

A ``RunTelemetry`` is a run observer (``troupe.runs.RunObserver``) that also
listens to each event as the run appends it. From the one event vocabulary
it counts runs, tokens (``usage`` events: the usage troupe reports), tool calls
and code executions, and makes the spans of the run (``invoke_agent {team}``),
of each agent's turn (``agent_start`` to ``agent_end``), of each tool call
(``tool_call`` to ``tool_result``) and of each code execution.
"""

from __future__ import annotations

__all__ = ["RunTelemetry"]

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from troupe.events import (
    AgentFinished,
    AgentStarted,
    CodeExecuted,
    CodeExecutionStarted,
    Event,
    RunFailed,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
    UsageReported,
)

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from troupe.runs import LiveRun
    from troupe.teams import Team
    from troupe.telemetry._metrics import Metrics
    from troupe.telemetry._tracing import Context, Tracing


logger = logging.getLogger("troupe.telemetry")


class _Watch:
    """What the telemetry keeps of one run while it runs."""

    __slots__ = ("models", "open", "parent", "span", "started", "team", "text_seen")

    def __init__(self, team: str, models: dict[str, str], parent: Context | None) -> None:
        self.team = team
        self.models = models
        self.started = time.perf_counter()
        self.text_seen = False
        self.parent = parent
        self.span: Span | None = None
        # Open spans of turns, tool calls and code executions, by agent / call / execution id.
        self.open: dict[str, Span] = {}


class RunTelemetry:
    def __init__(self, metrics: Metrics | None, tracing: Tracing | None) -> None:
        self.metrics = metrics
        self.tracing = tracing
        self._watches: dict[str, _Watch] = {}
        self._models: dict[str, dict[str, str]] = {}

    # --- the observer ---------------------------------------------------------------

    def run_started(self, run: LiveRun) -> None:
        team = run.record.team
        models = self._models.get(team)
        if models is None:
            models = self._models[team] = agent_models(run.team)
        # Called in the request that started the run: its trace is the run's parent.
        parent = self.tracing.current() if self.tracing is not None else None
        self._watches[run.id] = _Watch(team, models, parent)
        if self.metrics is not None:
            self.metrics.active_runs.labels(team).inc()
        run.listeners.append(self._event)

    def run_context(self, run: LiveRun) -> contextlib.AbstractContextManager[None] | None:
        watch = self._watches.get(run.id)
        if self.tracing is None or watch is None:
            return None
        record = run.record
        watch.span = self.tracing.start(
            f"invoke_agent {record.team}",
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": record.team,
                "gen_ai.conversation.id": record.conversation_id,
                "troupe.run.id": record.id,
                "troupe.run.background": record.background,
            },
            parent=watch.parent,
        )
        self.tracing.runs[run.id] = watch.span
        return self._current(watch.span)

    @contextlib.contextmanager
    def _current(self, span: Span) -> Iterator[None]:
        assert self.tracing is not None
        token = self.tracing.attach(span)
        try:
            yield
        finally:
            self.tracing.detach(token)

    def run_ended(self, run: LiveRun) -> None:
        watch = self._watches.pop(run.id, None)
        if watch is None:
            return
        with contextlib.suppress(ValueError):
            run.listeners.remove(self._event)
        outcome = "detached" if run.detached else run.status
        if self.metrics is not None:
            self.metrics.active_runs.labels(watch.team).dec()
            self.metrics.runs.labels(watch.team, outcome).inc()
            self.metrics.run_duration.labels(watch.team, outcome).observe(
                time.perf_counter() - watch.started
            )
        if self.tracing is not None:
            for key, span in watch.open.items():  # turns a failure cut short
                if key.startswith("turn:"):
                    self.tracing.turns.pop((run.id, key[5:]), None)
                span.end()
            if watch.span is not None:
                self.tracing.runs.pop(run.id, None)
                self._end_run_span(run, watch.span, outcome)

    def _end_run_span(self, run: LiveRun, span: Span, outcome: str) -> None:
        span.set_attributes(
            {
                "gen_ai.usage.input_tokens": run.usage.prompt_tokens,
                "gen_ai.usage.output_tokens": run.usage.completion_tokens,
                "troupe.run.status": outcome,
                "troupe.run.stop_reason": run.stop_reason or "",
            }
        )
        if run.status == "failed":
            from troupe.telemetry._tracing import fail

            error = run.error
            code = error.code if error is not None else None
            fail(span, code or "failed", run.stop_reason or "")
        span.end()

    # --- events -----------------------------------------------------------------------

    def _event(self, run: LiveRun, event: Event) -> None:
        watch = self._watches.get(run.id)
        if watch is None:
            return
        try:
            self._count(watch, event)
            if self.tracing is not None and watch.span is not None:
                self._trace(run, watch, event)
        except Exception:  # telemetry's bug must not fail the run that appends the event
            logger.exception("telemetry of event %s failed", type(event).__name__)

    def _count(self, watch: _Watch, event: Event) -> None:
        metrics = self.metrics
        match event:
            case TextDelta() if not watch.text_seen:
                watch.text_seen = True
                if metrics is not None:
                    metrics.time_to_first_token.labels(watch.team).observe(
                        time.perf_counter() - watch.started
                    )
            case UsageReported(agent=agent, usage=usage) if metrics is not None:
                model = watch.models.get(agent, "")
                tokens = metrics.tokens
                tokens.labels(watch.team, agent, model, "prompt").inc(usage.prompt_tokens)
                tokens.labels(watch.team, agent, model, "completion").inc(usage.completion_tokens)
            case ToolResultReturned(name=name, is_error=is_error) if metrics is not None:
                outcome = "error" if is_error else "ok"
                metrics.tool_calls.labels(watch.team, name, outcome).inc()
            case CodeExecuted(agent=agent) if metrics is not None:
                metrics.code_executions.labels(watch.team, agent, _code_outcome(event)).inc()
            case _:
                pass

    def _trace(self, run: LiveRun, watch: _Watch, event: Event) -> None:
        tracing = self.tracing
        assert tracing is not None
        match event:
            case AgentStarted(agent=agent):
                span = self._open(watch, f"turn:{agent}", f"invoke_agent {agent}", watch.span, {
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": agent,
                    "gen_ai.conversation.id": run.record.conversation_id,
                })  # fmt: skip
                tracing.turns[(run.id, agent)] = span
            case AgentFinished(agent=agent):
                tracing.turns.pop((run.id, agent), None)
                self._close(watch, f"turn:{agent}")
            case ToolCalled(agent=agent, call_id=call_id, name=name, arguments=arguments):
                span = self._open(watch, f"tool:{call_id}", f"execute_tool {name}", self._turn(watch, agent), {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": name,
                    "gen_ai.tool.call.id": call_id,
                    "gen_ai.tool.type": "function",
                    "gen_ai.agent.name": agent,
                })  # fmt: skip
                if tracing.capture_content:
                    span.set_attribute("gen_ai.tool.call.arguments", arguments)
            case ToolResultReturned(call_id=call_id, content=content, is_error=is_error):
                tool = watch.open.get(f"tool:{call_id}")
                if tool is not None and tracing.capture_content:
                    tool.set_attribute("gen_ai.tool.call.result", content)
                self._close(watch, f"tool:{call_id}", "tool_error" if is_error else None)
            case CodeExecutionStarted(agent=agent, execution_id=eid, language=language, code=code):
                span = self._open(watch, f"code:{eid}", f"execute_code {language}", self._turn(watch, agent), {
                    "troupe.code.execution_id": eid,
                    "troupe.code.language": language,
                    "gen_ai.agent.name": agent,
                })  # fmt: skip
                if tracing.capture_content:
                    span.set_attribute("troupe.code.text", code)
            case CodeExecuted(execution_id=eid, exit_code=exit_code):
                execution = watch.open.get(f"code:{eid}")
                if execution is not None:
                    execution.set_attribute("troupe.code.exit_code", exit_code)
                outcome = _code_outcome(event)
                self._close(watch, f"code:{eid}", None if outcome == "ok" else outcome)
            case RunFailed(code=code, message=message) if watch.span is not None:
                watch.span.add_event("error", {"error.type": code, "message": message})
            case _:
                pass

    def _turn(self, watch: _Watch, agent: str) -> Span | None:
        return watch.open.get(f"turn:{agent}") or watch.span

    def _open(
        self, watch: _Watch, key: str, name: str, parent: Span | None, attributes: dict[str, Any]
    ) -> Span:
        assert self.tracing is not None
        span = self.tracing.start(name, attributes, parent=parent)
        previous = watch.open.pop(key, None)
        if previous is not None:
            previous.end()
        watch.open[key] = span
        return span

    def _close(self, watch: _Watch, key: str, error: str | None = None) -> None:
        span = watch.open.pop(key, None)
        if span is None:
            return
        if error is not None:
            from troupe.telemetry._tracing import fail

            fail(span, error)
        span.end()


def _code_outcome(event: CodeExecuted) -> str:
    if event.timed_out:
        return "timeout"
    return "ok" if event.exit_code == 0 else "error"


def agent_models(team: Team) -> dict[str, str]:
    """The model each agent of ``team`` calls (inner teams' agents too), by agent name;
    a selector team's own model under ``<team>.selector`` (the name its usage carries)."""
    found: dict[str, str] = {}
    selector = getattr(team, "model", None)
    if selector is not None:
        found[f"{team.name}.selector"] = selector.model_name
    for agent in team.agents:
        model = getattr(agent, "model", None)
        if model is not None:
            found[agent.name] = model.model_name
        inner = getattr(agent, "team", None)
        if inner is not None:
            found.update(agent_models(inner))
    for tool in _tools(team):
        inner = getattr(tool, "team", None)
        if inner is not None:
            found.update(agent_models(inner))
    return found


def _tools(team: Team) -> list[Any]:
    return [
        tool for agent in team.agents for tool in dict(getattr(agent, "tools", {}) or {}).values()
    ]
