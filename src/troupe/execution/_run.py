"""One execution as the stream sees it: ``code_execution`` before, ``code_result`` after."""

from __future__ import annotations

__all__ = ["Emit", "run_reported"]

import uuid
from collections.abc import Awaitable, Callable

from troupe.events import CodeExecuted, CodeExecutionStarted, Event
from troupe.execution._base import ExecutionResult, Executor, Sandbox

Emit = Callable[[Event], Awaitable[None]]


async def run_reported(
    executor: Executor,
    *,
    sandbox: Sandbox | str,
    agent: str,
    language: str,
    code: str,
    emit: Emit | None,
) -> ExecutionResult:
    """Run ``code``, announcing it and its result as events attributed to ``agent``."""
    execution_id = f"exec_{uuid.uuid4().hex[:20]}"
    if emit is not None:
        await emit(
            CodeExecutionStarted(
                agent=agent, execution_id=execution_id, language=language, code=code
            )
        )
    result = await executor.execute(sandbox, language, code)
    if emit is not None:
        await emit(
            CodeExecuted(
                agent=agent,
                execution_id=execution_id,
                exit_code=result.exit_code,
                output=result.describe() if result.error else result.output,
                truncated=result.truncated,
                timed_out=result.timed_out,
            )
        )
    return result
