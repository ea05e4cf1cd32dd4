"""API keys: from the config, ``TROUPE_API_KEYS``, and the store (``troupe keys create``).

A bearer key (``X-Api-Key`` is accepted too, as several clients send it) is
checked in constant time against the keys of the config, else looked up by its
SHA-256 in the store, whose answers are kept ``cache_seconds`` (so a revoked
key stops working on every replica within that time). With no key anywhere,
the server is open. The guard leaves who asked (``Principal``) on the request:
conversations are kept apart by its ``scope``, and its teams and limits apply.
"""

from __future__ import annotations

__all__ = ["ApiKeys", "Principal"]

import hashlib
import hmac
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from troupe.errors import AuthenticationError, PermissionDeniedError
from troupe.store import ApiKeyRecord, KeyStore

_STATE = "troupe_principal"
# Unknown keys remembered at most (a client trying random keys cannot grow it further).
_CACHE_LIMIT = 10_000


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who asks: ``scope`` (a short hash of the key, "" on an open server), a stored key's
    name, and what the key may use (None: no limit)."""

    scope: str = ""
    name: str | None = None
    teams: frozenset[str] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent_runs: int | None = None

    def allows(self, team: str) -> bool:
        return self.teams is None or team in self.teams


def _scope(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _principal(key: str, record: ApiKeyRecord) -> Principal:
    return Principal(
        scope=_scope(key),
        name=record.name,
        teams=frozenset(record.teams) if record.teams is not None else None,
        rpm=record.rpm,
        tpm=record.tpm,
        max_concurrent_runs=record.max_concurrent_runs,
    )


class ApiKeys:
    """The config's keys and the store's; ``guard()`` checks them."""

    def __init__(
        self, keys: Iterable[str], store: Any = None, *, cache_seconds: float = 2.0
    ) -> None:
        self._digests = [hashlib.sha256(key.encode()).digest() for key in keys if key]
        self._store: KeyStore | None = store if isinstance(store, KeyStore) else None
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKeyRecord | None]] = {}
        self._stored_keys: tuple[float, bool] = (-float("inf"), False)
        # The latest principal seen for each scope: what the run admission checks.
        self.principals: dict[str, Principal] = {}

    @property
    def enabled(self) -> bool:
        """Whether the config names keys (the store may add some later)."""
        return bool(self._digests)

    @staticmethod
    def presented(connection: ASGIConnection) -> str:  # type: ignore[type-arg]
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return connection.headers.get("x-api-key", "").strip()

    def principal(self, connection: ASGIConnection) -> Principal:  # type: ignore[type-arg]
        """Who the guard let in (an open server: everyone, scope "")."""
        found = connection.scope.get("state", {}).get(_STATE)
        return found if isinstance(found, Principal) else Principal()

    def scope(self, connection: ASGIConnection) -> str:  # type: ignore[type-arg]
        """Who is asking, as a short hash of their key: conversations are kept apart by it."""
        return self.principal(connection).scope

    async def _open(self) -> bool:
        if self._digests:
            return False
        if self._store is None:
            return True
        checked, stored = self._stored_keys
        if time.monotonic() - checked > self.cache_seconds:
            stored = await self._store.has_keys()
            self._stored_keys = (time.monotonic(), stored)
        return not stored

    async def _stored(self, digest: str) -> ApiKeyRecord | None:
        if self._store is None:
            return None
        cached = self._cache.get(digest)
        if cached is not None and time.monotonic() - cached[0] <= self.cache_seconds:
            return cached[1]
        record = await self._store.find_key(digest)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[digest] = (time.monotonic(), record)
        return record

    def guard(self) -> Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]:  # type: ignore[type-arg]
        """The Litestar guard (a function: Litestar copies guard objects, and with them their
        state, which must stay this one's)."""

        # async on purpose: Litestar runs a sync guard in a worker thread, per request.
        async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
            await self.check(connection)

        return guard

    def before_request(
        self, then: Callable[[Any], Any] | None = None, *, unrestricted: bool = False
    ) -> Callable[[Any], Awaitable[Any]]:
        """The check as a router's ``before_request`` hook, where a guard would cost
        Litestar a copy of the route handler on every request. ``then``: the app's own hook
        (a router's replaces it), run after the check; what it returns is the answer.
        ``unrestricted``: only a key that may use every team passes (what the whole server's
        figures need, such as ``/metrics``)."""

        async def before_request(request: Any) -> Any:
            await self.check(request)
            if unrestricted and self.principal(request).teams is not None:
                raise PermissionDeniedError(
                    "This API key is limited to some teams; it cannot read the whole "
                    "server's figures. Use a key without a team limit."
                )
            if then is None:
                return None
            result = then(request)
            return await result if inspect.isawaitable(result) else result

        return before_request

    async def check(self, connection: ASGIConnection) -> None:  # type: ignore[type-arg]
        """Let the request in (leaving its ``Principal`` on it) or raise 401."""
        if await self._open():
            return
        key = self.presented(connection)
        if not key:
            raise AuthenticationError(
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
            )
        digest = hashlib.sha256(key.encode()).digest()
        if any(hmac.compare_digest(digest, known) for known in self._digests):
            principal = Principal(scope=_scope(key))
        else:
            record = await self._stored(digest.hex())
            if record is None:
                raise AuthenticationError(f"Incorrect API key provided: {_redact(key)}.")
            principal = _principal(key, record)
        self.principals[principal.scope] = principal
        connection.scope.setdefault("state", {})[_STATE] = principal


def _redact(key: str) -> str:
    return key[:3] + "…" + key[-2:] if len(key) > 8 else "***"
