"""The agent protocols' routes (AG-UI, A2A), for the extras that are installed.

Each protocol needs its SDK (``troupe-server[agui]``, ``troupe-server[a2a]``); without it its
routes are left out and the rest of the server runs as before. Whether it is installed is
asked of the installed files, not by importing it: the routes load their SDK on their first
request (a tenth of a second and some megabytes a replica need not pay before it answers).
"""

from __future__ import annotations

__all__ = ["protocol_handlers", "public_protocol_handlers"]

import importlib.util
import logging
from functools import cache
from pathlib import Path
from typing import Any

logger = logging.getLogger("troupe.server")


@cache
def _installed(package: str, *modules: str) -> bool:
    """Whether ``package`` is installed with ``modules`` (dotted, below it): an older SDK
    without the modules the routes import is as good as none."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return False
    roots = [Path(root) for root in (spec.submodule_search_locations or ())] if spec else []
    return any(all(_has_module(root, module) for module in modules) for root in roots)


def _has_module(root: Path, module: str) -> bool:
    *parents, name = module.split(".")
    where = root.joinpath(*parents)
    return (where / f"{name}.py").is_file() or (where / name / "__init__.py").is_file()


def _has_agui() -> bool:
    return _installed("ag_ui", "core", "encoder")


def _has_a2a() -> bool:
    return _installed("google.protobuf", "json_format") and _installed(
        "a2a", "types.a2a_pb2", "compat.v0_3.conversions", "compat.v0_3.types"
    )


def protocol_handlers() -> list[Any]:
    """Routes behind the API keys."""
    handlers: list[Any] = []
    if _has_agui():
        from troupe.server.agui import agui_handlers

        handlers += agui_handlers
    else:
        logger.debug("AG-UI is off (install troupe-server[agui])")
    if _has_a2a():
        from troupe.server.a2a import a2a_handlers

        handlers += a2a_handlers
    else:
        logger.debug("A2A is off (install troupe-server[a2a])")
    return handlers


def public_protocol_handlers() -> list[Any]:
    """Routes anyone may read (the A2A agent cards, which say how to authenticate)."""
    if not _has_a2a():
        return []
    from troupe.server.a2a import a2a_public_handlers

    return list(a2a_public_handlers)
