"""The Slack adapter: troupe teams as a Slack bot, streaming answers into threads.

Needs the Slack extra (``pip install "troupe-server[slack]"``)::

    from troupe.adapters.slack import SlackAdapter, SlackSettings

    adapter = SlackAdapter(SlackSettings.from_env(team="support"))
    app = adapter.asgi_app()          # HTTP mode: any ASGI server, Slack posts to /slack/events
    # or: await adapter.serve_socket_mode()   (SLACK_APP_TOKEN)

The names are imported on first use, so ``troupe --help`` does not load
``slack_bolt``; see ``docs/adapters/slack.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from troupe.adapters.slack._app import SlackAdapter
    from troupe.adapters.slack._render import SlackTurn, ThreadPlace
    from troupe.adapters.slack._settings import SlackSettings
    from troupe.adapters.slack._threads import conversation_id

__all__ = ["SlackAdapter", "SlackSettings", "SlackTurn", "ThreadPlace", "conversation_id"]

_HOMES = {
    "SlackAdapter": "_app",
    "SlackSettings": "_settings",
    "SlackTurn": "_render",
    "ThreadPlace": "_render",
    "conversation_id": "_threads",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
