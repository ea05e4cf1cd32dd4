"""Adapters: Chainlit, Streamlit and Slack front ends, as clients of troupe's HTTP API.

They depend on ``troupe.wire`` and the ``openai`` SDK only, never on the
server or team code. ``TeamStreamHandler`` is the base each one fills in.
"""

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
