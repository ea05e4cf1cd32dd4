"""The HTTP server: a Litestar plugin, ``create_app``, and conversation stores."""

from troupe.server._app import TroupePlugin, create_app
from troupe.server._service import ChatService
from troupe.server._store import ConversationStore, InMemoryConversationStore, Lease

__all__ = [
    "ChatService",
    "ConversationStore",
    "InMemoryConversationStore",
    "Lease",
    "TroupePlugin",
    "create_app",
]
