"""Token counting with the model's own tokenizer where troupe has one.

OpenAI models (the ``openai`` and ``azure`` providers) are counted with
tiktoken (the ``tokens`` extra) when it knows the model name; any other model,
or tiktoken missing or unable to load its encoding (it fetches it once, then
reads ``TIKTOKEN_CACHE_DIR``), is estimated (``estimate_tokens``). The
tokenizer is looked up once per model name, when the agent is built, never
on a turn's path.
"""

from __future__ import annotations

__all__ = ["token_counter"]

import functools
import logging
from collections.abc import Callable
from typing import Any

from troupe.agents._context import TokenCounter, estimate_tokens, message_tokens
from troupe.messages import Message
from troupe.models import ChatModel

logger = logging.getLogger("troupe.agents")

_TIKTOKEN_PROVIDERS = frozenset({"openai", "azure"})


def token_counter(model: ChatModel) -> TokenCounter:
    """How to count a message's tokens for ``model``."""
    if model.provider not in _TIKTOKEN_PROVIDERS:
        return estimate_tokens
    encode = _tiktoken(model.model_name)
    if encode is None:
        return estimate_tokens

    def count(message: Message) -> int:
        return message_tokens(message, encode)

    return count


@functools.cache
def _tiktoken(model_name: str) -> Callable[[str], int] | None:
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        encoding: Any = tiktoken.encoding_for_model(model_name)
    except KeyError:
        return None  # a model tiktoken does not know (an OpenAI-compatible server's)
    except Exception as err:  # no network for its first download, say
        logger.warning(
            "tiktoken cannot load the encoding of %r (%s): tokens are estimated", model_name, err
        )
        return None

    def text_tokens(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return text_tokens
