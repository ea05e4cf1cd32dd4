"""AG-UI: every team speaks the agent-user interaction protocol, as a view of its runs.

Needs the ``agui`` extra (``ag-ui-protocol``): the events are the SDK's own types.
The route imports nothing of it: the SDK is loaded by the first AG-UI request.
"""

from __future__ import annotations

from typing import Any

from troupe.server.agui._routes import agui_handlers

__all__ = ["AguiView", "agui_handlers", "interrupt_id"]


def __getattr__(name: str) -> Any:
    if name in ("AguiView", "interrupt_id"):
        from troupe.server.agui import _encode

        return getattr(_encode, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
