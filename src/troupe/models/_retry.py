"""Retries and fallback, composed around any ``ChatModel``.

``retrying`` runs one model call again when it fails with a transient error
(see ``troupe.models._upstream``) *before it yielded anything*: a stream that
has started is never replayed, so a consumer never sees an answer twice. It
waits what the provider asked for (``Retry-After``), else an exponential
backoff with jitter. The providers use it for their own ``max_retries``;
``RetryingModel`` adds it to any other model.

``FallbackModel`` calls a second model when the first fails before streaming
anything, after the first one's own retries.
"""

from __future__ import annotations

__all__ = ["FallbackModel", "RetryPolicy", "RetryingModel", "retrying"]

import contextlib
import logging
import random
from collections.abc import AsyncGenerator, Callable

import anyio
import msgspec

from troupe.errors import UpstreamError
from troupe.models._base import ChatModel, ModelCapabilities, ModelRequest, ModelStreamItem
from troupe.models._capabilities import ModelWrapper, capabilities_of
from troupe.models._upstream import is_transient, retry_after_of

logger = logging.getLogger("troupe.models")

Attempt = Callable[[], AsyncGenerator[ModelStreamItem, None]]


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How often and how patiently to retry a failed model call.

    The n-th retry waits ``initial_delay * 2**n`` seconds (at most
    ``max_delay``), scaled by a random factor in [0.5, 1) so that many clients
    do not come back at once. When the provider says how long to wait
    (``Retry-After``), that wait is used instead; a wait longer than
    ``max_retry_after`` is not worth it and the error is raised at once.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, retry: int, retry_after: float | None) -> float | None:
        """Seconds before retry number ``retry`` (from 0), or None to give up."""
        if retry >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        backoff = min(self.max_delay, self.initial_delay * 2.0**retry)
        return backoff * random.uniform(0.5, 1.0)


def _final(err: UpstreamError, attempts: int) -> UpstreamError:
    if attempts == 1:
        return err
    after = f" (gave up after {attempts} attempts)"
    return err.reworded(err.message + after, err.detail + after)


async def retrying(attempt: Attempt, policy: RetryPolicy) -> AsyncGenerator[ModelStreamItem, None]:
    """Stream ``attempt()``; on a transient error before its first item, wait and call it again."""
    retries = 0
    while True:
        started = False
        try:
            async with contextlib.aclosing(attempt()) as items:
                async for item in items:
                    started = True
                    yield item
            return
        except UpstreamError as err:
            delay = None
            if not started and is_transient(err):
                delay = policy.delay(retries, retry_after_of(err))
            if delay is None:
                raise _final(err, retries + 1) from err.__cause__
            logger.warning("%s; retry %d of %d in %.2fs", err.detail, retries + 1,
                           policy.max_retries, delay)  # fmt: skip
        retries += 1
        await anyio.sleep(delay)


class RetryingModel(ModelWrapper):
    """Any ``ChatModel`` with ``retrying`` around each call (the providers have it built in)."""

    def __init__(self, model: ChatModel, policy: RetryPolicy | None = None) -> None:
        super().__init__(model)
        self.policy = policy or RetryPolicy()

    def __repr__(self) -> str:
        return f"RetryingModel({self.model!r}, max_retries={self.policy.max_retries})"

    def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        return retrying(lambda: self.model.stream(request), self.policy)


class FallbackModel:
    """``primary``, and ``fallback`` for a call that ``primary`` fails before streaming anything.

    It presents itself as the primary (``provider``, ``model_name``,
    ``capabilities``); the final ``ModelResponse.model`` says which answered.
    A failure after the primary has streamed part of an answer is raised as it
    is: the fallback would start the answer over.
    """

    def __init__(self, primary: ChatModel, fallback: ChatModel) -> None:
        self.primary = primary
        self.fallback = fallback

    @property
    def provider(self) -> str:
        return self.primary.provider

    @property
    def model_name(self) -> str:
        return self.primary.model_name

    @property
    def capabilities(self) -> ModelCapabilities:
        return capabilities_of(self.primary)

    def __repr__(self) -> str:
        return f"FallbackModel({self.primary!r}, fallback={self.fallback!r})"

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        started = False
        try:
            async with contextlib.aclosing(self.primary.stream(request)) as items:
                async for item in items:
                    started = True
                    yield item
            return
        except UpstreamError as err:
            if started:
                raise
            failure = err
        logger.warning(
            "%s; falling back to %s model '%s'",
            failure.detail,
            self.fallback.provider,
            self.fallback.model_name,
        )
        try:
            async with contextlib.aclosing(self.fallback.stream(request)) as items:
                async for item in items:
                    yield item
        except UpstreamError as err:
            both = err.reworded(
                f"{failure.message}; then the fallback failed too: {err.message}",
                f"{failure.detail}; then the fallback failed too: {err.detail}",
            )
            raise both from err
