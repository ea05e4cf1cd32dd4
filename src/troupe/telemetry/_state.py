"""What is switched on in this process: the hooks on hot paths check these and nothing else.

Both stay ``None`` unless a server turned them on, so with metrics and traces off a
model call or a store operation costs one attribute read more, and neither
``prometheus_client`` nor OpenTelemetry is imported.
"""

from __future__ import annotations

__all__ = ["active"]

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from troupe.telemetry._metrics import Metrics
    from troupe.telemetry._tracing import Tracing


class _Active:
    __slots__ = ("metrics", "tracing")

    def __init__(self) -> None:
        self.metrics: Metrics | None = None
        self.tracing: Tracing | None = None

    @property
    def off(self) -> bool:
        return self.metrics is None and self.tracing is None


active = _Active()
