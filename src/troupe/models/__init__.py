"""Models: the ``ChatModel`` protocol, providers, and test doubles.

Providers live in their own modules (``troupe.models.openai``) and are imported
when a config uses them, so an unused provider's SDK is never loaded.
"""

from troupe.models._base import (
    ChatModel,
    FinishReason,
    ModelRequest,
    ModelResponse,
    ModelStreamItem,
    ReasoningChunk,
    ResponseBuilder,
    TextChunk,
    ToolCallChunk,
    ToolSpec,
    complete,
)
from troupe.models._guard import (
    ModelRequestsBlockedError,
    block_model_requests,
    check_model_request,
)
from troupe.models.demo import DemoModel
from troupe.models.testing import FunctionModel, ScriptedModel, tool_call

__all__ = [
    "ChatModel",
    "DemoModel",
    "FinishReason",
    "FunctionModel",
    "ModelRequest",
    "ModelRequestsBlockedError",
    "ModelResponse",
    "ModelStreamItem",
    "ReasoningChunk",
    "ResponseBuilder",
    "ScriptedModel",
    "TextChunk",
    "ToolCallChunk",
    "ToolSpec",
    "block_model_requests",
    "check_model_request",
    "complete",
    "tool_call",
]
