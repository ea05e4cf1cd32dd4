"""The shared adapter base, driven from Streamlit's synchronous script thread.

Streamlit runs a page as a plain function in a thread of its own. ``play_turn``
runs ``TeamStreamHandler.run`` (the base's request, decoding, hooks and error
messages, unchanged) on an event loop in that thread, so the hooks draw with
``st`` calls directly. When the user presses stop or sends another message,
Streamlit raises its stop or rerun exception out of the next drawing call;
it leaves through the request, which closes, and the server stops the run.
"""

from __future__ import annotations

__all__ = ["TeamsUnavailable", "fetch_teams", "play_turn"]

import anyio
from anyio.from_thread import start_blocking_portal

from troupe.adapters._base import (
    TeamClient,
    TeamInfo,
    TeamStreamHandler,
    TurnOutcome,
    describe_error,
)


class TeamsUnavailable(Exception):
    """The server's teams could not be listed; the message says why and what to do."""


def play_turn(
    handler: TeamStreamHandler,
    server_url: str,
    team: str,
    text: str,
    *,
    api_key: str | None = None,
    conversation_id: str | None = None,
) -> TurnOutcome:
    """Send ``text`` to ``team``; ``handler``'s hooks draw the turn as it arrives.

    A bug under the request becomes the turn's error (``on_error``), never a
    broken page.
    """

    async def turn() -> TurnOutcome:
        client = TeamClient(server_url, api_key=api_key)
        try:
            return await handler.run(client, team, text, conversation_id=conversation_id)
        finally:
            with anyio.CancelScope(shield=True):
                await client.aclose()

    try:
        return anyio.run(turn)
    except Exception as err:
        message = describe_error(err, server_url)
        anyio.run(handler.on_error, message)
        return TurnOutcome(conversation_id=conversation_id, error=message)


def fetch_teams(server_url: str, api_key: str | None = None) -> list[TeamInfo]:
    """The server's teams; ``TeamsUnavailable`` says why they cannot be listed."""

    async def fetch() -> list[TeamInfo]:
        client = TeamClient(server_url, api_key=api_key, timeout=15.0)
        try:
            return await client.teams()
        finally:
            with anyio.CancelScope(shield=True):
                await client.aclose()

    try:
        with start_blocking_portal() as portal:
            return portal.call(fetch)
    except Exception as err:
        raise TeamsUnavailable(describe_error(err, server_url)) from err
