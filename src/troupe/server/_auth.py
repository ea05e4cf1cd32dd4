"""Optional bearer API keys. ``X-Api-Key`` is accepted too, as several clients send it."""

from __future__ import annotations

__all__ = ["ApiKeys"]

import hashlib
import hmac
from collections.abc import Iterable

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from troupe.errors import AuthenticationError


class ApiKeys:
    """A Litestar guard that checks keys in constant time."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = [hashlib.sha256(key.encode()).digest() for key in keys if key]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    @staticmethod
    def presented(connection: ASGIConnection) -> str:  # type: ignore[type-arg]
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return connection.headers.get("x-api-key", "").strip()

    def scope(self, connection: ASGIConnection) -> str:  # type: ignore[type-arg]
        """Who is asking, as a short hash of their key: conversations are kept apart by it."""
        key = self.presented(connection)
        return hashlib.sha256(key.encode()).hexdigest()[:16] if key and self.enabled else ""

    # async on purpose: Litestar runs a sync guard in a worker thread, per request.
    async def __call__(self, connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        if not self._digests:
            return
        key = self.presented(connection)
        if not key:
            raise AuthenticationError(
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
            )
        digest = hashlib.sha256(key.encode()).digest()
        if not any(hmac.compare_digest(digest, known) for known in self._digests):
            raise AuthenticationError(f"Incorrect API key provided: {_redact(key)}.")


def _redact(key: str) -> str:
    return key[:3] + "…" + key[-2:] if len(key) > 8 else "***"
