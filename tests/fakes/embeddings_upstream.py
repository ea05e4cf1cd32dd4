"""A local embeddings server: OpenAI's ``POST /v1/embeddings`` and Ollama's ``POST /api/embed``.

The vectors are deterministic bags of words: each word (lower-cased, without
punctuation) adds 1 to one of ``dimensions`` coordinates chosen by a hash of
it, so texts that share words are similar and others are not. Every request
body is recorded (``requests``).
"""

from __future__ import annotations

__all__ = ["FakeEmbeddingsServer", "bag_of_words"]

import hashlib
import re
from typing import Any

import aiohttp.web as web
import msgspec

from tests.fakes._server import FakeServer

_WORD = re.compile(r"[a-z0-9]+")


def bag_of_words(text: str, dimensions: int = 64) -> list[float]:
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        index = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big") % dimensions
        vector[index] += 1.0
    return vector


class FakeEmbeddingsServer(FakeServer):
    def __init__(self, *, dimensions: int = 64) -> None:
        super().__init__()
        self.dimensions = dimensions
        self.requests: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def ollama_host(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/embeddings", self._openai)
        router.add_post("/api/embed", self._ollama)

    def _inputs(self, body: dict[str, Any]) -> list[str]:
        self.requests.append(body)
        self._notify()
        raw = body.get("input")
        return [raw] if isinstance(raw, str) else list(raw or [])

    async def _openai(self, request: web.Request) -> web.Response:
        body = await request.json(loads=msgspec.json.decode)
        texts = self._inputs(body)
        data = [
            {"object": "embedding", "index": i, "embedding": bag_of_words(t, self.dimensions)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        payload = {
            "object": "list",
            "data": data,
            "model": body.get("model", ""),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return web.Response(body=msgspec.json.encode(payload), content_type="application/json")

    async def _ollama(self, request: web.Request) -> web.Response:
        body = await request.json(loads=msgspec.json.decode)
        texts = self._inputs(body)
        payload = {
            "model": body.get("model", ""),
            "embeddings": [bag_of_words(t, self.dimensions) for t in texts],
        }
        return web.Response(body=msgspec.json.encode(payload), content_type="application/json")
