"""API keys kept by the store: made with ``troupe keys create``, seen by every replica.

A key is never stored: only its SHA-256 (``digest``) and its first characters
(``prefix``, to recognise it in ``troupe keys list``). A key may be limited to
some teams and to requests per minute, tokens per minute and runs at once.
Revoking keeps the record (``revoked_at``); its name can be given to a new key.
"""

from __future__ import annotations

__all__ = [
    "ApiKeyRecord",
    "KeyNameTakenError",
    "KeyStore",
    "MemoryKeys",
    "key_digest",
    "new_key",
]

import hashlib
import secrets
import time
from typing import Protocol, runtime_checkable

import msgspec

from troupe.errors import TroupeError

KEY_PREFIX = "tk-"


def new_key() -> str:
    """A new API key: 256 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyNameTakenError(TroupeError):
    status_code = 409
    code = "key_exists"


class ApiKeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    digest: str
    prefix: str
    # None: every team.
    teams: tuple[str, ...] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent_runs: int | None = None
    created_at: float = 0.0
    revoked_at: float | None = None


@runtime_checkable
class KeyStore(Protocol):
    async def add_key(self, record: ApiKeyRecord) -> None:
        """Keep ``record``; ``KeyNameTakenError`` if a key that is not revoked has its name."""
        ...

    async def list_keys(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones too, by name."""
        ...

    async def revoke_key(self, name: str) -> bool:
        """Revoke the key ``name``; False if there is no such key in use."""
        ...

    async def find_key(self, digest: str) -> ApiKeyRecord | None:
        """The key in use with this digest."""
        ...

    async def has_keys(self) -> bool:
        """Whether any key is in use (then every request needs one)."""
        ...


class MemoryKeys:
    """``KeyStore`` for the memory store (a mixin): keys of this process only."""

    @property
    def _api_keys(self) -> dict[str, ApiKeyRecord]:
        keys: dict[str, ApiKeyRecord] | None = self.__dict__.get("_api_key_records")
        if keys is None:
            keys = self.__dict__["_api_key_records"] = {}
        return keys

    async def add_key(self, record: ApiKeyRecord) -> None:
        known = self._api_keys.get(record.name)
        if known is not None and known.revoked_at is None:
            raise KeyNameTakenError(f"a key named {record.name!r} exists; revoke it first")
        self._api_keys[record.name] = msgspec.structs.replace(record, created_at=time.time())

    async def list_keys(self) -> list[ApiKeyRecord]:
        return sorted(self._api_keys.values(), key=lambda record: record.name)

    async def revoke_key(self, name: str) -> bool:
        known = self._api_keys.get(name)
        if known is None or known.revoked_at is not None:
            return False
        self._api_keys[name] = msgspec.structs.replace(known, revoked_at=time.time())
        return True

    async def find_key(self, digest: str) -> ApiKeyRecord | None:
        for record in self._api_keys.values():
            if record.digest == digest and record.revoked_at is None:
                return record
        return None

    async def has_keys(self) -> bool:
        return any(record.revoked_at is None for record in self._api_keys.values())
