"""A2A: every team is an A2A agent (card + JSON-RPC), its tasks views of its runs.

Needs the ``a2a`` extra (``a2a-sdk``): requests and answers are the SDK's own types.
The routes import nothing of it: the SDK is loaded by the first A2A request.
"""

from __future__ import annotations

from typing import Any

from troupe.server.a2a._routes import a2a_handlers, a2a_public_handlers

__all__ = ["a2a_handlers", "a2a_public_handlers", "agent_card"]


def __getattr__(name: str) -> Any:
    if name == "agent_card":
        from troupe.server.a2a._endpoint import agent_card

        return agent_card
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
