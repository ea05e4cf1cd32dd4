"""Adapters: Chainlit, Streamlit and Slack front ends, as clients of troupe's HTTP API.

They depend on ``troupe.wire`` and the ``openai`` SDK only, never on the
server or team code. ``TeamStreamHandler`` is the base each one fills in.

Importing this package is cheap: the names below (and the ``openai`` SDK they
use) load on first use, so that ``troupe serve``, which registers the
adapters' subcommands, never imports the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from troupe.adapters._base import (
        APPROVE,
        REJECT,
        ConversationInfo,
        TeamClient,
        TeamInfo,
        TeamStreamHandler,
        TurnOutcome,
        answer_choices,
        describe_error,
    )

__all__ = [
    "APPROVE",
    "REJECT",
    "ConversationInfo",
    "TeamClient",
    "TeamInfo",
    "TeamStreamHandler",
    "TurnOutcome",
    "answer_choices",
    "describe_error",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from troupe.adapters import _base

        return getattr(_base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
