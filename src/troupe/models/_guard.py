"""A switch that stops real provider calls, for test suites.

Providers call ``check_model_request(base_url)`` before every request. When
requests are blocked (``block_model_requests()``, or ``TROUPE_BLOCK_REMOTE_MODELS=1``
in the environment, which child processes inherit), only loopback endpoints
are allowed: the local fake servers that tests start.
"""

from __future__ import annotations

__all__ = ["ModelRequestsBlockedError", "block_model_requests", "check_model_request"]

import ipaddress
import os
from urllib.parse import urlsplit

_blocked = False
ENV_VAR = "TROUPE_BLOCK_REMOTE_MODELS"


class ModelRequestsBlockedError(RuntimeError):
    """A provider tried to reach a real model API while requests are blocked."""


def block_model_requests(blocked: bool = True) -> None:
    """Block (or allow again) requests to non-loopback model endpoints in this process."""
    global _blocked
    _blocked = blocked


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_model_request(base_url: str | None) -> None:
    """Raise if requests are blocked and ``base_url`` is not a loopback address."""
    if not (_blocked or os.environ.get(ENV_VAR) == "1"):
        return
    host = urlsplit(base_url or "").hostname or ""
    if not _is_loopback(host):
        raise ModelRequestsBlockedError(
            f"real model request to {base_url or 'the default endpoint'!r} blocked in tests: "
            "use ScriptedModel/FunctionModel or a local fake server"
        )
