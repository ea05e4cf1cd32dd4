"""OpenAI's Conversations API (``/v1/conversations``) beside troupe's own conversation routes."""

from troupe.server.conversations_api._routes import (
    conversations_handlers,
    create_conversation,
    update_conversation,
)

__all__ = ["conversations_handlers", "create_conversation", "update_conversation"]
