"""The agent protocols' routes (AG-UI, A2A), for the extras that are installed.

Each protocol needs its SDK (``troupe-server[agui]``, ``troupe-server[a2a]``); without it its
routes are left out and the rest of the server runs as before.
"""

from __future__ import annotations

__all__ = ["protocol_handlers", "public_protocol_handlers"]

import logging
from typing import Any

logger = logging.getLogger("troupe.server")


def protocol_handlers() -> list[Any]:
    """Routes behind the API keys."""
    handlers: list[Any] = []
    try:
        from troupe.server.agui import agui_handlers
    except ImportError as err:
        logger.debug("AG-UI is off (install troupe-server[agui]): %s", err)
    else:
        handlers += agui_handlers
    try:
        from troupe.server.a2a import a2a_handlers
    except ImportError as err:
        logger.debug("A2A is off (install troupe-server[a2a]): %s", err)
    else:
        handlers += a2a_handlers
    return handlers


def public_protocol_handlers() -> list[Any]:
    """Routes anyone may read (the A2A agent cards, which say how to authenticate)."""
    try:
        from troupe.server.a2a import a2a_public_handlers
    except ImportError:
        return []
    return list(a2a_public_handlers)
