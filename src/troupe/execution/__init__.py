"""Code execution: executors that run generated code, and the ``run_code`` tool.

``DockerExecutor`` (the default for anything generated) runs code in a
locked-down container per sandbox (an API key's conversation); ``LocalExecutor`` runs it as a local
subprocess and must be enabled explicitly. ``RunCodeTool`` gives an
assistant's model a ``run_code(language, code)`` tool; the
``CodeExecutorAgent`` (in ``troupe.agents``) runs code blocks as a team member.
"""

from __future__ import annotations

__all__ = [
    "CodeBlock",
    "DockerExecutor",
    "ExecutionResult",
    "ExecutionScope",
    "Executor",
    "LocalExecutor",
    "PendingCode",
    "RunCodeTool",
    "Sandbox",
    "SandboxUse",
    "execution_scope",
    "extract_code_blocks",
    "normalize_language",
    "run_reported",
    "truncate_output",
]

from troupe.execution._base import (
    ExecutionResult,
    Executor,
    Sandbox,
    SandboxUse,
    normalize_language,
    truncate_output,
)
from troupe.execution._blocks import CodeBlock, extract_code_blocks
from troupe.execution._docker import DockerExecutor
from troupe.execution._local import LocalExecutor
from troupe.execution._run import run_reported
from troupe.execution._tool import ExecutionScope, PendingCode, RunCodeTool, execution_scope
