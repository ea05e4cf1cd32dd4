"""How providers fail: one way to word, classify and mark their errors.

Every provider error is an ``UpstreamError`` (or its 429 and 504 subclasses)
whose message says which provider, which model and what the provider said,
with the API key masked; its ``detail``, for the log, also names the endpoint. An error a retry may cure (429, 408,
409, 5xx, 529, a refused or dropped connection, a timeout) is marked
*transient*, with the wait the provider asked for, if any; the retry loop in
``troupe.models._retry`` reads the mark. The mark lives on the exception
object, so an error copied for an agent (``for_agent``) is a final one.
"""

from __future__ import annotations

__all__ = [
    "Headers",
    "Upstream",
    "check_base_url",
    "describe",
    "display_url",
    "is_timeout",
    "is_transient",
    "parse_retry_after",
    "retry_after_of",
    "root_cause",
    "should_retry",
]

import email.utils
import time
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from troupe.errors import (
    ConfigError,
    ConfigIssue,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
)
from troupe.logs import redact

_TRANSIENT: Final = "_troupe_transient"
_HINTS: Final = {
    401: " (check the API key)",
    403: " (check the API key's permissions)",
    404: " (check the model name and base URL)",
}


# HTTP response headers (httpx, httpx2 and aiohttp headers are such mappings, case-insensitive).
Headers = Mapping[str, str]


def mark_transient(err: UpstreamError, retry_after: float | None = None) -> UpstreamError:
    """Mark ``err`` as one a retry may cure; ``retry_after`` is the wait the provider asked for."""
    setattr(err, _TRANSIENT, -1.0 if retry_after is None else retry_after)
    return err


def is_transient(err: BaseException) -> bool:
    return isinstance(getattr(err, _TRANSIENT, None), float)


def retry_after_of(err: BaseException) -> float | None:
    """The wait the provider asked for before a retry, in seconds; None when it did not say."""
    value = getattr(err, _TRANSIENT, None)
    return value if isinstance(value, float) and value >= 0 else None


def parse_retry_after(headers: Headers | None) -> float | None:
    """Seconds from ``retry-after-ms``, or ``retry-after`` as seconds or an HTTP date."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        if name == "retry-after":
            try:
                when = email.utils.parsedate_to_datetime(str(value)).timestamp()
            except (TypeError, ValueError):
                return None
            return max(0.0, when - time.time())
    return None


def should_retry(status: int, headers: Headers | None = None) -> bool:
    """Whether a retry may cure an HTTP error status; ``x-should-retry`` decides when sent."""
    said = headers.get("x-should-retry") if headers is not None else None
    if said in ("true", "false"):
        return bool(said == "true")
    return status in (408, 409, 429) or status >= 500


def root_cause(exc: BaseException) -> BaseException:
    # Explicit causes only: an implicit __context__ is often a CancelledError
    # that a timeout was raised while handling.
    for _ in range(16):
        if exc.__cause__ is None:
            break
        exc = exc.__cause__
    return exc


def is_timeout(exc: BaseException) -> bool:
    # Decided by the root cause, because the SDKs' aiohttp adapter reports a
    # refused or dropped connection as a ConnectTimeout. By name, to cover
    # httpx's, httpx2's and httpcore's timeouts without importing them.
    root = root_cause(exc)
    return isinstance(root, TimeoutError) or "Timeout" in type(root).__name__


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def display_url(url: str) -> str:
    """``url`` without credentials or query string, fit for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) if netloc else url


def check_base_url(url: str) -> str:
    """``url`` if a provider can be reached at it, else a ``ConfigError`` at ``$.base_url``.

    Credentials in the URL (``user:password@``) are refused: the SDKs send the
    key as a header and fail every request when the URL has its own.
    """
    parts = urlsplit(url)
    problem = None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = f"{display_url(url)!r} is not an http(s) URL with a host"
    elif parts.username is not None or parts.password is not None:
        problem = (
            f"{display_url(url)!r} carries credentials (user:password@); put the key in "
            "api_key, or other credentials in headers"
        )
    if problem:
        raise ConfigError(ConfigIssue("$.base_url", problem))
    return url


class Upstream:
    """Builds one model's errors: where it failed, what the provider said, the key masked."""

    __slots__ = ("_secret", "model", "provider", "what", "where")

    def __init__(self, provider: str, model: str, base_url: str, *, secret: str = "") -> None:
        self.provider = provider
        self.model = model
        # Clients see what failed; the log also gets where (the base URL is internal).
        self.what = f"{provider} model {model!r}"
        self.where = f"{self.what} at {display_url(base_url)}"
        # Short placeholders ("none", "x") would mask ordinary words.
        self._secret = secret if len(secret) >= 6 else ""

    def mask(self, text: str) -> str:
        """``text`` without this model's key, nor anything that looks like a secret."""
        return redact(text.replace(self._secret, "***") if self._secret else text)

    def error(
        self,
        text: str,
        cls: type[UpstreamError] = UpstreamError,
        *,
        transient: bool = False,
        retry_after: float | None = None,
        code: str | None = None,
        logged: str | None = None,
    ) -> UpstreamError:
        """The error clients see (``text``); the log's ``detail`` also names the endpoint, and
        says ``logged`` instead of ``text`` when given (what may name internal addresses)."""
        err = cls(
            self.mask(f"{self.what}: {text}"),
            detail=self.mask(f"{self.where}: {logged or text}"),
            provider=self.provider,
            model=self.model,
            code=code,
        )
        return mark_transient(err, retry_after) if transient else err

    def status_error(self, status: int, said: str, headers: Headers | None = None) -> UpstreamError:
        """The error for an HTTP error status: 429 is a rate limit; transient per ``should_retry``."""
        wait = parse_retry_after(headers)
        transient = should_retry(status, headers)
        if status == 429:
            after = f" (retry after {wait:g}s)" if wait else ""
            return self.error(
                f"rate limited (HTTP 429): {said}{after}",
                UpstreamRateLimitError,
                transient=transient,
                retry_after=wait,
            )
        return self.error(
            f"HTTP {status}: {said}{_HINTS.get(status, '')}", transient=transient, retry_after=wait
        )

    def no_response(self, timeout: float) -> UpstreamError:
        return self.error(f"no response within {timeout:g}s", UpstreamTimeoutError, transient=True)

    def cannot_connect(self, exc: BaseException) -> UpstreamError:
        # The cause's text names the address it could not reach: for the log only.
        cause = root_cause(exc)
        return self.error(
            f"cannot connect ({type(cause).__name__})",
            logged=f"cannot connect ({describe(cause)})",
            transient=True,
        )

    def broken_stream(
        self, exc: BaseException, received: int, timeout: float, unit: str = "chunks"
    ) -> UpstreamError:
        """A stream that stalled or broke off after ``received`` pieces."""
        if is_timeout(exc):
            return self.error(
                f"the stream stalled: no data for {timeout:g}s after {received} {unit}",
                UpstreamTimeoutError,
                transient=True,
            )
        cause = root_cause(exc)
        said = f"the stream broke off after {received} {unit}"
        return self.error(
            f"{said} ({type(cause).__name__})", logged=f"{said}: {describe(cause)}", transient=True
        )
