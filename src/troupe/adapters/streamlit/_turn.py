"""The shared adapter base, driven from Streamlit's synchronous script thread.

Streamlit runs a page as a plain function in a thread of its own, and
``st.write_stream`` pulls from a synchronous iterator. ``stream_turn`` runs
``TeamStreamHandler.run`` (the base's request, decoding, hooks and error
messages, unchanged) on an anyio blocking portal and hands each hook call to
the script thread through a queue. Closing the iterator early (the user
pressed stop, or sent another message) cancels the request, and the server
then stops the run.
"""

from __future__ import annotations

__all__ = ["Item", "TeamsUnavailable", "TurnFailed", "fetch_teams", "stream_turn"]

import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import anyio
from anyio.from_thread import start_blocking_portal

from troupe.adapters._base import (
    TeamClient,
    TeamInfo,
    TeamStreamHandler,
    TurnOutcome,
    describe_error,
)
from troupe.events import Event, RunFailed


@dataclass(frozen=True)
class TurnFailed:
    """The base's ``on_error``: a message a person can act on."""

    message: str
    code: str | None = None


# What a turn yields: the team's events, failures, and last the outcome.
Item = Event | TurnFailed | TurnOutcome


class TeamsUnavailable(Exception):
    """The server's teams could not be listed; the message says why and what to do."""


class _Forward(TeamStreamHandler):
    """Hands every hook call to the script thread."""

    def __init__(self, send: Callable[[Item], None]) -> None:
        self.send = send

    async def on_event(self, event: Event) -> None:
        if not isinstance(event, RunFailed):  # on_error reports it
            self.send(event)

    async def on_error(self, message: str, code: str | None = None) -> None:
        self.send(TurnFailed(message, code))


def stream_turn(
    server_url: str,
    team: str,
    text: str,
    *,
    api_key: str | None = None,
    conversation_id: str | None = None,
) -> Iterator[Item]:
    """Send ``text`` to ``team``; yield its events as they arrive, then the ``TurnOutcome``."""
    items: queue.SimpleQueue[Item | None] = queue.SimpleQueue()

    async def turn() -> None:
        client = TeamClient(server_url, api_key=api_key)
        try:
            outcome = await _Forward(items.put).run(
                client, team, text, conversation_id=conversation_id
            )
            items.put(outcome)
        finally:
            with anyio.CancelScope(shield=True):
                await client.aclose()

    with start_blocking_portal() as portal:
        future = portal.start_task_soon(turn)
        future.add_done_callback(lambda _: items.put(None))
        try:
            while (item := items.get()) is not None:
                yield item
        finally:
            future.cancel()  # a no-op once the turn is over
    error = None if future.cancelled() else future.exception()
    if error is not None:
        yield TurnFailed(describe_error(error, server_url))


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
