"""``run_code``: the tool that lets an assistant's model run code in an executor.

A tool is called with its arguments only, so the conversation and the calling
agent come from ``execution_scope`` (set for the turn by the agent that owns
the tool). With an executor that needs approval the tool does not run the
code: it records it in the scope, and the agent pauses the run for the human.
"""

from __future__ import annotations

__all__ = ["ExecutionScope", "PendingCode", "RunCodeTool", "execution_scope"]

import contextlib
import contextvars
from collections.abc import Iterator

import msgspec

from troupe.execution._base import Executor, Sandbox
from troupe.execution._run import Emit, run_reported
from troupe.models._base import ToolSpec
from troupe.tools import ToolOutput


class PendingCode(msgspec.Struct, frozen=True, kw_only=True):
    """Code waiting for the human's approval."""

    language: str
    code: str
    call_id: str = ""


class ExecutionScope:
    """Who runs code now: the sandbox (API key, conversation), the agent, and code held for
    approval."""

    def __init__(self, sandbox: Sandbox, agent: str) -> None:
        self.sandbox = sandbox
        self.agent = agent
        self.pending: list[PendingCode] = []


_scope: contextvars.ContextVar[ExecutionScope | None] = contextvars.ContextVar(
    "troupe_execution_scope", default=None
)


@contextlib.contextmanager
def execution_scope(scope: ExecutionScope) -> Iterator[ExecutionScope]:
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


class _Arguments(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    language: str
    code: str


class RunCodeTool:
    """``run_code(language, code)`` in ``executor``; the result is the exit code and output."""

    def __init__(self, executor: Executor, *, name: str = "run_code") -> None:
        self.executor = executor
        self.name = name
        self.description = (
            "Run a python or shell (sh, bash) program in a sandbox and return its exit code "
            "and output (stdout and stderr). The working directory persists for this "
            "conversation: files written in one call are there in the next."
        )
        self.spec = ToolSpec(
            name=self.name,
            description=self.description,
            parameters={
                "type": "object",
                "properties": {
                    "language": {"type": "string", "enum": ["python", "sh", "bash"]},
                    "code": {"type": "string", "description": "The program to run."},
                },
                "required": ["language", "code"],
                "additionalProperties": False,
            },
            strict=True,
        )

    async def call(self, arguments: str) -> ToolOutput:
        return await self.call_streaming(arguments, None)

    async def call_streaming(self, arguments: str, emit: Emit | None) -> ToolOutput:
        try:
            args = msgspec.json.decode(arguments or "{}", type=_Arguments)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            return ToolOutput(content=f"Error: invalid arguments: {err}", is_error=True)
        scope = _scope.get() or ExecutionScope(Sandbox("default"), self.name)
        if self.executor.approval == "always":
            scope.pending.append(PendingCode(language=args.language, code=args.code))
            return ToolOutput(content="Waiting for the user's approval to run this code.")
        result = await run_reported(
            self.executor,
            sandbox=scope.sandbox,
            agent=scope.agent,
            language=args.language,
            code=args.code,
            emit=emit,
        )
        return ToolOutput(content=result.describe(), is_error=not result.ok)
