"""troupe's Prometheus metrics: one set per process, exposed in the text format.

With ``PROMETHEUS_MULTIPROC_DIR`` set (several worker processes behind one port),
every process writes its values to files there and a scrape of any of them
adds up all (``prometheus_client``'s multiprocess mode): clear the directory
before the workers start, as its documentation says.
"""

from __future__ import annotations

__all__ = ["CONTENT_TYPE", "Metrics", "metrics", "render", "scraped"]

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Model calls and store operations: milliseconds to minutes.
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Runs: a second to ten minutes.
_SLOW = (0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """Every series troupe exports; labels ``team``, ``agent``, ``model``, ``provider``,
    ``tool``, ``outcome`` mean the same thing in each."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self.http_requests = Counter(
            "troupe_http_requests", "HTTP requests answered, by route and status.",
            ["method", "route", "status"], registry=r,
        )  # fmt: skip
        self.http_duration = Histogram(
            "troupe_http_request_duration_seconds",
            "Time to answer an HTTP request (a stream: until it ends).",
            ["method", "route"], buckets=_FAST, registry=r,
        )  # fmt: skip
        self.open_streams = Gauge(
            "troupe_open_streams", "Event streams (SSE) open now.",
            registry=r, multiprocess_mode="livesum",
        )  # fmt: skip
        self.runs = Counter(
            "troupe_runs", "Runs ended, by team and outcome (the run's status).",
            ["team", "outcome"], registry=r,
        )  # fmt: skip
        self.active_runs = Gauge(
            "troupe_active_runs", "Runs this process is running now.",
            ["team"], registry=r, multiprocess_mode="livesum",
        )  # fmt: skip
        self.run_duration = Histogram(
            "troupe_run_duration_seconds", "Time from a run's start to its end.",
            ["team", "outcome"], buckets=_SLOW, registry=r,
        )  # fmt: skip
        self.time_to_first_token = Histogram(
            "troupe_run_time_to_first_token_seconds",
            "Time from a run's start to the first text of its answer.",
            ["team"], buckets=_FAST, registry=r,
        )  # fmt: skip
        self.model_calls = Counter(
            "troupe_model_calls", "Model calls, by provider, model and outcome.",
            ["provider", "model", "outcome"], registry=r,
        )  # fmt: skip
        self.model_duration = Histogram(
            "troupe_model_call_duration_seconds", "Time a model call took, to its last token.",
            ["provider", "model", "outcome"], buckets=_FAST, registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "troupe_tokens", "Tokens used, as runs report them (kind: prompt or completion).",
            ["team", "agent", "model", "kind"], registry=r,
        )  # fmt: skip
        self.tool_calls = Counter(
            "troupe_tool_calls", "Server-side tool calls, by tool and outcome.",
            ["team", "tool", "outcome"], registry=r,
        )  # fmt: skip
        self.code_executions = Counter(
            "troupe_code_executions", "Code executions, by outcome (ok, error, timeout).",
            ["team", "agent", "outcome"], registry=r,
        )  # fmt: skip
        self.store_duration = Histogram(
            "troupe_store_operation_duration_seconds", "Time a store operation took.",
            ["operation", "outcome"], buckets=_FAST, registry=r,
        )  # fmt: skip


_metrics: Metrics | None = None


def metrics() -> Metrics:
    """This process's metrics (made on first use: a series can be registered once)."""
    global _metrics
    if _metrics is None:
        registry = CollectorRegistry()
        if not _multiprocess():  # in multiprocess mode these would be one process's
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        _metrics = Metrics(registry)
    return _metrics


def scraped() -> CollectorRegistry:
    """What a scrape shows: this process's series, or every process's in multiprocess mode."""
    if _multiprocess():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return metrics().registry


def render() -> bytes:
    """The scrape in Prometheus's text format."""
    return generate_latest(scraped())
