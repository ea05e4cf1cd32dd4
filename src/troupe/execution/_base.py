"""What every executor is, and what an execution produced."""

from __future__ import annotations

__all__ = [
    "LANGUAGES",
    "ExecutionResult",
    "Executor",
    "Sandbox",
    "SandboxUse",
    "as_sandbox",
    "normalize_language",
    "truncate_output",
]

import hashlib
from typing import Literal, Protocol, runtime_checkable

import msgspec

# Language names accepted from models and fenced blocks -> the interpreter that runs them.
LANGUAGES: dict[str, str] = {
    "python": "python",
    "python3": "python",
    "py": "python",
    "sh": "sh",
    "shell": "sh",
    "bash": "bash",
}


def normalize_language(language: str) -> str | None:
    """``python``, ``sh`` or ``bash`` for a language name we run, else None."""
    return LANGUAGES.get(language.strip().lower())


class Sandbox(msgspec.Struct, frozen=True):
    """Whose work directory: a conversation of one API key (``scope``, a hash of the key).

    Two keys using the same conversation id get two sandboxes. An inner team's
    conversation id extends its parent's (``conv/inner``): it is another sandbox that
    goes with the parent conversation (its ``root``).
    """

    conversation_id: str
    scope: str = ""

    @property
    def root(self) -> str:
        """The conversation of the API whose deletion or expiry ends this sandbox."""
        return self.conversation_id.split("/", 1)[0]

    @property
    def key(self) -> str:
        """A name for this sandbox, safe in file and container names."""
        return _digest(self.scope, self.conversation_id)

    @property
    def owner(self) -> str:
        """A name for the root conversation's sandboxes (this one and its inner teams')."""
        return _digest(self.scope, self.root)


class SandboxUse(msgspec.Struct, frozen=True, kw_only=True):
    """An executor's sandboxes of one root conversation, and when they were last used."""

    sandbox: Sandbox
    used_at: float  # seconds since the epoch


def _digest(scope: str, conversation_id: str) -> str:
    return hashlib.sha256(f"{scope}\0{conversation_id}".encode()).hexdigest()[:24]


def as_sandbox(sandbox: Sandbox | str) -> Sandbox:
    """A plain conversation id is that conversation with no API key (a server without keys)."""
    return sandbox if isinstance(sandbox, Sandbox) else Sandbox(sandbox)


def truncate_output(output: str, limit: int, total: int | None = None) -> tuple[str, bool]:
    """``output`` cut to ``limit`` characters with a note saying how much was dropped.

    ``total``: the full output's size when only its start was kept.
    """
    size = max(len(output), total or 0)
    if size <= limit:
        return output, False
    dropped = size - limit
    return f"{output[:limit]}\n[output truncated: {dropped} more characters]", True


class ExecutionResult(msgspec.Struct, frozen=True, kw_only=True):
    """How one execution ended. ``output`` is stdout and stderr interleaved, truncated."""

    exit_code: int
    output: str = ""
    truncated: bool = False
    timed_out: bool = False
    # Set when the code did not run or was stopped: a timeout, a refused language.
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.error is None

    def describe(self) -> str:
        """The result as a model (or a human) reads it."""
        lines = []
        if self.error:
            lines.append(f"Error: {self.error}")
        elif self.exit_code == 137:
            lines.append("exit code 137: the process was killed (memory or process limit reached?)")
        else:
            lines.append(f"exit code {self.exit_code}")
        lines.append(self.output if self.output else "(no output)")
        return "\n".join(lines)


@runtime_checkable
class Executor(Protocol):
    """Runs code in a conversation's sandbox. Implementations never raise for the code's
    failures.

    ``execute`` returns an ``ExecutionResult`` for anything the code does (an
    error, a timeout, a limit reached); it raises ``RunError`` only when the
    executor itself is broken (the Docker engine cannot be reached).
    """

    @property
    def name(self) -> str: ...

    @property
    def approval(self) -> Literal["always", "never"]: ...

    async def execute(
        self, sandbox: Sandbox | str, language: str, code: str
    ) -> ExecutionResult: ...

    async def end_conversation(self, sandbox: Sandbox | str) -> None:
        """Drop the work directories (and containers) of the sandbox's root conversation."""
        ...

    async def sandboxes(self) -> list[SandboxUse]:
        """The root conversations this executor keeps work directories for."""
        ...

    async def close(self) -> None:
        """Release what this process holds (server shutdown); work directories stay."""
        ...
