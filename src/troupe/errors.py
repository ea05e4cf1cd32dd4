"""The troupe error tree.

Every error troupe raises on purpose is a ``TroupeError``. The server maps the
tree to OpenAI-shaped JSON (``{"error": {"message", "type", "param", "code"}}``)
in one place, using the class attributes below::

    TroupeError
    ├── ConfigError                 a config file or Python definition is invalid
    ├── RequestError (400)          the client sent something we cannot serve
    │   ├── AuthenticationError (401)
    │   ├── PermissionDeniedError (403)
    │   ├── ModelNotFoundError (404)
    │   ├── ConversationBusyError (409)
    │   ├── ConversationNotRunningError (409)
    │   └── RequestTooLargeError (413)
    ├── RunError (500)              a team run failed for a reason of its own
    └── UpstreamError (502)         a model provider failed
        ├── UpstreamTimeoutError (504)
        └── UpstreamRateLimitError (429)

Control flow is not an error: a tool that raises becomes an error *result* the
model can read, never an exception that ends the run.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ConfigIssue",
    "ConversationBusyError",
    "ConversationNotRunningError",
    "ModelNotFoundError",
    "PermissionDeniedError",
    "RequestError",
    "RequestTooLargeError",
    "RunError",
    "TroupeError",
    "UpstreamError",
    "UpstreamRateLimitError",
    "UpstreamTimeoutError",
    "first_error",
]

from dataclasses import dataclass

from troupe.logs import redact


class TroupeError(Exception):
    """Base of every error troupe raises on purpose."""

    status_code: int = 500
    error_type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration, at a JSON path such as ``$.teams.writers``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(TroupeError):
    """A configuration is invalid. ``issues`` lists every problem found, with its path."""

    code = "invalid_config"

    def __init__(
        self, issues: list[ConfigIssue] | ConfigIssue, *, source: str | None = None
    ) -> None:
        self.issues = [issues] if isinstance(issues, ConfigIssue) else list(issues)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"invalid configuration{where}:\n{lines}")


class RequestError(TroupeError):
    """The client's request cannot be served as sent."""

    status_code = 400
    error_type = "invalid_request_error"
    code: str | None = "invalid_request"


class AuthenticationError(RequestError):
    status_code = 401
    code = "invalid_api_key"


class PermissionDeniedError(RequestError):
    """A valid key asking for what it may not have (the openai SDK's ``PermissionDeniedError``)."""

    status_code = 403
    code = "forbidden"


class ModelNotFoundError(RequestError):
    status_code = 404
    code = "model_not_found"


class ConversationBusyError(RequestError):
    status_code = 409
    code = "conversation_busy"


class ConversationNotRunningError(RequestError):
    status_code = 409
    code = "conversation_not_running"


class RequestTooLargeError(RequestError):
    status_code = 413
    code = "request_too_large"


class RunError(TroupeError):
    """A team run failed for a reason that is not the client's nor a provider's.

    Its message often quotes an exception from deep inside a run, and clients
    read it: anything in it that looks like a key, token or password is masked.
    """

    code = "run_failed"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(redact(message), param=param, code=code)


class UpstreamError(TroupeError):
    """A model provider failed.

    ``message`` says which agent, provider and model, and what the provider
    said: it is what API clients see. ``detail`` adds where the provider was
    reached (its base URL, which is internal to the deployment): it is for the
    server's log, and it is also ``str(err)``, so tracebacks show it.
    """

    status_code = 502
    error_type = "upstream_error"
    code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        provider: str = "",
        model: str = "",
        agent: str = "",
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.detail = detail or message
        self.args = (self.detail,)
        self.provider = provider
        self.model = model
        self.agent = agent

    def reworded(self, message: str, detail: str, **fields: str) -> UpstreamError:
        """The same kind of error with new wording (and fields), keeping its cause."""
        err = type(self)(
            message,
            detail=detail,
            provider=fields.get("provider", self.provider),
            model=fields.get("model", self.model),
            agent=fields.get("agent", self.agent),
            code=self.code,
        )
        err.__cause__ = self.__cause__
        return err

    def for_agent(self, agent: str) -> UpstreamError:
        """The same error, attributed to ``agent`` (providers don't know who called them)."""
        if self.agent:
            return self
        return self.reworded(
            f"agent '{agent}': {self.message}", f"agent '{agent}': {self.detail}", agent=agent
        )


class UpstreamTimeoutError(UpstreamError):
    status_code = 504
    code = "upstream_timeout"


class UpstreamRateLimitError(UpstreamError):
    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to report for a group raised by concurrent children (parallel graph
    branches, parallel tool calls): the first of troupe's own errors, else the first."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    return next((e for e in leaves if isinstance(e, TroupeError)), leaves[0])
