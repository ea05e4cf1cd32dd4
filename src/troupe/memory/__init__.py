"""Agent memory: what an agent recalls before each turn.

A ``Memory`` is queried with the text of the latest message before the
agent's model is called; what it returns goes into the model's context as
one system message ("Relevant memory content …", as AutoGen's memories do),
and the query and its results are ``memory_query`` / ``memory_result``
events. ``ListMemory`` holds static facts (all of them are recalled);
``VectorMemory`` keeps texts with their embeddings in the store's database
and recalls the ``top_k`` nearest to the query (cosine similarity, computed
in Python: portable to SQLite and PostgreSQL alike).
"""

from troupe.memory._base import Memory, MemoryItem, memory_message
from troupe.memory._embeddings import Embedder, OllamaEmbedder, OpenAIEmbedder
from troupe.memory._list import ListMemory

__all__ = [
    "Embedder",
    "ListMemory",
    "Memory",
    "MemoryItem",
    "OllamaEmbedder",
    "OpenAIEmbedder",
    "VectorMemory",
    "cosine",
    "memory_message",
]


def __getattr__(name: str) -> object:
    # The vector memory needs the store, which needs the agents: imported when used.
    if name in ("VectorMemory", "cosine"):
        from troupe.memory import _vector

        return getattr(_vector, name)
    raise AttributeError(f"module 'troupe.memory' has no attribute {name!r}")
