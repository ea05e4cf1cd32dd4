"""Models: the ``ChatModel`` protocol, providers, retries and fallback, test doubles.

Providers live in their own modules (``troupe.models.openai``,
``troupe.models.anthropic``, ``troupe.models.ollama``) and are imported when a
config uses them, so an unused provider's SDK is never loaded.
"""

from troupe.models._base import (
    ChatModel,
    FinishReason,
    ModelCapabilities,
    ModelRequest,
    ModelResponse,
    ModelStreamItem,
    OutputSchema,
    ReasoningChunk,
    ResponseBuilder,
    TextChunk,
    ToolCallChunk,
    ToolSpec,
    complete,
)
from troupe.models._capabilities import (
    capabilities_for,
    capabilities_of,
    capability_problem,
    has_images,
    missing_capabilities,
)
from troupe.models._guard import (
    ModelRequestsBlockedError,
    block_model_requests,
    check_model_request,
)
from troupe.models._retry import FallbackModel, RetryingModel, RetryPolicy, retrying
from troupe.models.demo import DemoModel
from troupe.models.testing import FunctionModel, ScriptedModel, tool_call

__all__ = [
    "ChatModel",
    "DemoModel",
    "FallbackModel",
    "FinishReason",
    "FunctionModel",
    "ModelCapabilities",
    "ModelRequest",
    "ModelRequestsBlockedError",
    "ModelResponse",
    "ModelStreamItem",
    "OutputSchema",
    "ReasoningChunk",
    "ResponseBuilder",
    "RetryPolicy",
    "RetryingModel",
    "ScriptedModel",
    "TextChunk",
    "ToolCallChunk",
    "ToolSpec",
    "block_model_requests",
    "capabilities_for",
    "capabilities_of",
    "capability_problem",
    "check_model_request",
    "complete",
    "has_images",
    "missing_capabilities",
    "retrying",
    "tool_call",
]
