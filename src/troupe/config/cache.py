"""``cache:`` on a model in config: where its responses are kept (wired in models.py /
build.py)."""

from __future__ import annotations

__all__ = ["ModelCacheSpec", "cached_model"]

import hashlib
import os
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from troupe.errors import ConfigError, ConfigIssue
from troupe.models import ChatModel
from troupe.models.cache import CachedModel, MemoryCache, ResponseCache


class ModelCacheSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Keep the model's responses: the same request again makes no upstream request."""

    # ``memory`` (this process), ``database`` (the store's), or ``redis``.
    store: Literal["memory", "database", "redis"] = "memory"
    # Redis: ``redis://host:6379/0`` (required). Database: the store's when unset.
    url: str | None = None
    # Redis: how long a response is kept; unset: until evicted.
    ttl_seconds: Annotated[float, Meta(gt=0)] | None = None
    # Memory: the most responses kept (the least recently used go first).
    max_entries: Annotated[int, Meta(ge=1)] = 10_000


def cached_model(
    model: ChatModel, cache: ModelCacheSpec, settings: msgspec.Struct, database_url: str
) -> ChatModel:
    """``model`` behind its cache. ``settings`` (the model's spec, its key left out) are
    part of every request's key; ``database_url`` is the store's."""
    salt = hashlib.sha256(
        msgspec.json.encode(msgspec.structs.replace(settings, api_key=None, cache=None))
    ).hexdigest()
    return CachedModel(model, _store(cache, database_url), salt=salt)


def _store(cache: ModelCacheSpec, database_url: str) -> ResponseCache:
    if cache.store == "memory":
        return MemoryCache(cache.max_entries)
    if cache.store == "redis":
        if not cache.url:
            raise ConfigError(ConfigIssue("$.cache.url", "a redis cache needs a url (redis://…)"))
        try:
            from troupe.models.cache import RedisCache

            return RedisCache(cache.url, ttl_seconds=cache.ttl_seconds)
        except ImportError:
            raise ConfigError(
                ConfigIssue("$.cache.store", "redis needs the redis extra: troupe-server[redis]")
            ) from None
    from troupe.store._model_cache import DatabaseCache

    url = cache.url or os.environ.get("TROUPE_DATABASE_URL", "").strip() or database_url
    try:
        return DatabaseCache(url)
    except ValueError as err:
        raise ConfigError(ConfigIssue("$.cache.url", str(err))) from None
