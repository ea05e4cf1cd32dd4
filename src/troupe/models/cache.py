"""A model response cache: the same request twice reaches the provider once.

``CachedModel`` wraps any ``ChatModel``. A request's key is a hash of the
whole request (messages, tools, tool choice, output schema), the model's
provider and name, and its settings (``salt``: temperature, base URL, … —
never the API key). A miss streams from the provider as usual and stores
the final response; a hit streams the stored response (its text in pieces,
then the response) without a request, and reports no usage, as AutoGen's
``ChatCompletionCache`` does: it cost nothing. A failed call is not stored.

Where responses are kept is a ``ResponseCache``: ``MemoryCache`` (this
process, least recently used first out), ``RedisCache`` (shared by replicas,
with a TTL), or the store's database (``troupe.store.DatabaseCache``). A
cache that fails (Redis down) is logged and skipped: the call goes upstream.
"""

from __future__ import annotations

__all__ = ["CachedModel", "MemoryCache", "RedisCache", "ResponseCache", "request_key"]

import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator
from typing import Any, Protocol

import msgspec

from troupe.messages import AssistantMessage, Usage
from troupe.models._base import (
    ChatModel,
    ModelRequest,
    ModelResponse,
    ModelStreamItem,
    TextChunk,
)
from troupe.models._capabilities import ModelWrapper

logger = logging.getLogger("troupe.models")
_encode = msgspec.msgpack.encode
_decode_response = msgspec.msgpack.Decoder(ModelResponse).decode


class ResponseCache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes) -> None: ...


def request_key(model: ChatModel, request: ModelRequest, salt: str = "") -> str:
    """The cache key of ``request`` to ``model``: what the provider would be sent."""
    messages = tuple(
        msgspec.structs.replace(m, usage=None) if isinstance(m, AssistantMessage) else m
        for m in request.messages
    )
    body = _encode(
        (
            salt,
            model.provider,
            model.model_name,
            msgspec.structs.replace(request, messages=messages),
        )
    )
    return hashlib.sha256(body).hexdigest()


class CachedModel(ModelWrapper):
    """``model`` with its responses kept in ``cache``."""

    def __init__(self, model: ChatModel, cache: ResponseCache, *, salt: str = "") -> None:
        super().__init__(model)
        self.cache = cache
        self.salt = salt
        self.hits = 0
        self.misses = 0

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.model, attribute)

    async def aclose(self) -> None:
        """Close the model's client and the cache's connections."""
        for resource in (self.model, self.cache):
            close = getattr(resource, "aclose", None)
            if close is not None:
                await close()

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        key = request_key(self.model, request, self.salt)
        stored = await self._get(key)
        if stored is not None:
            self.hits += 1
            if stored.content:
                yield TextChunk(stored.content)
            yield msgspec.structs.replace(stored, usage=Usage())
            return
        self.misses += 1
        async for item in self.model.stream(request):
            if isinstance(item, ModelResponse) and item.finish_reason != "error":
                await self._set(key, item)
            yield item

    async def _get(self, key: str) -> ModelResponse | None:
        try:
            raw = await self.cache.get(key)
            return _decode_response(raw) if raw is not None else None
        except Exception as err:  # a cache is an optimisation: never fail a call for it
            logger.warning("model cache read failed (%s): calling %s", err, self.model.provider)
            return None

    async def _set(self, key: str, response: ModelResponse) -> None:
        try:
            await self.cache.set(key, _encode(response))
        except Exception as err:
            logger.warning("model cache write failed: %s", err)


class MemoryCache:
    """Responses kept in this process, the least recently used dropped past ``max_entries``."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, bytes] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class RedisCache:
    """Responses kept in Redis (the ``redis`` extra), each for ``ttl_seconds``."""

    def __init__(
        self, url: str, *, ttl_seconds: float | None = None, prefix: str = "troupe:cache:"
    ) -> None:
        import redis.asyncio

        self._redis: Any = redis.asyncio.Redis.from_url(url)
        self.ttl = int(ttl_seconds) if ttl_seconds else None
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self.prefix + key)
        return bytes(value) if value is not None else None

    async def set(self, key: str, value: bytes) -> None:
        await self._redis.set(self.prefix + key, value, ex=self.ttl)

    async def aclose(self) -> None:
        await self._redis.aclose()
