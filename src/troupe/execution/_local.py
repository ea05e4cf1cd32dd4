"""``LocalExecutor``: code as a subprocess of the server. For trusted setups only.

Not a sandbox: the code runs as the server's user with its file system and
network. It gets a work directory per (API key, conversation) under
``work_root/<owner>/<sandbox>`` (``owner.json`` there names the conversation, so
the server can drop the directory when the conversation goes), a wall-clock timeout (the
whole process group is killed), and ``resource`` limits on memory, CPU time,
file size and processes. It must be enabled explicitly and logs a warning.
"""

from __future__ import annotations

__all__ = ["LocalExecutor"]

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Literal

import anyio
import anyio.abc
import msgspec

from troupe.errors import ConfigError, ConfigIssue
from troupe.execution._base import (
    ExecutionResult,
    Sandbox,
    SandboxUse,
    as_sandbox,
    normalize_language,
    truncate_output,
)

logger = logging.getLogger(__name__)


# Runs first in the child: set the limits, then become the interpreter (no preexec_fn needed).
_LIMITER = """
import os, resource, sys
memory, cpu, pids = (int(v) for v in sys.argv[1:4])
if memory:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
if pids:
    resource.setrlimit(resource.RLIMIT_NPROC, (pids, pids))
os.execv(sys.argv[4], sys.argv[4:])
"""


class LocalExecutor:
    """Runs code in a subprocess; ``enabled=True`` is required because nothing is contained."""

    def __init__(
        self,
        name: str = "local",
        *,
        enabled: bool = False,
        timeout: float = 30.0,
        memory: int | None = 512 * 1024 * 1024,
        pids: int | None = None,
        max_output: int = 8000,
        approval: Literal["always", "never"] = "never",
        work_root: str | os.PathLike[str] | None = None,
    ) -> None:
        if not enabled:
            raise ConfigError(
                ConfigIssue(
                    "$.enabled",
                    f"executor {name!r}: the local executor runs code unconfined on the server; "
                    "set enabled: true to use it anyway",
                )
            )
        logger.warning(
            "executor %r runs generated code as local subprocesses, NOT in a sandbox", name
        )
        self._name = name
        self._approval: Literal["always", "never"] = approval
        self.timeout = timeout
        self.memory = memory
        self.pids = pids
        self.max_output = max_output
        self.work_root = Path(work_root or Path(tempfile.gettempdir()) / f"troupe-local-{name}")

    @property
    def name(self) -> str:
        return self._name

    @property
    def approval(self) -> Literal["always", "never"]:
        return self._approval

    def work_dir(self, sandbox: Sandbox | str) -> Path:
        sandbox = as_sandbox(sandbox)
        return self.work_root / sandbox.owner / sandbox.key

    def _prepare(self, sandbox: Sandbox) -> Path:
        """The sandbox's work directory, made if needed; its owner stamped as used now."""
        work = self.work_dir(sandbox)
        work.mkdir(parents=True, exist_ok=True)
        owner = work.parent / "owner.json"
        root = Sandbox(sandbox.root, sandbox.scope)
        owner.write_bytes(msgspec.json.encode(root))
        return work

    def _command(self, language: str, code: str) -> list[str]:
        if language == "python":
            return [sys.executable, "-c", code]
        shell = shutil.which(language) or f"/bin/{language}"
        return [shell, "-c", code]

    async def execute(self, sandbox: Sandbox | str, language: str, code: str) -> ExecutionResult:
        lang = normalize_language(language)
        if lang is None:
            return ExecutionResult(exit_code=-1, error=f"unsupported language {language!r}")
        work = await anyio.to_thread.run_sync(self._prepare, as_sandbox(sandbox))
        cpu = int(self.timeout) + 1
        limits = [str(self.memory or 0), str(cpu), str(self.pids or 0)]
        process = await anyio.open_process(
            [sys.executable, "-c", _LIMITER, *limits, *self._command(lang, code)],
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group, so a timeout kills everything it started.
            start_new_session=True,
        )
        chunks: list[bytes] = []
        size = 0
        timed_out = False
        try:
            with anyio.move_on_after(self.timeout) as scope:
                assert process.stdout is not None
                async for chunk in process.stdout:
                    # Keep reading past the limit so the process never blocks on a full pipe.
                    if size <= self.max_output * 4:
                        chunks.append(chunk)
                    size += len(chunk)
                await process.wait()
            timed_out = scope.cancelled_caught
        finally:
            with anyio.CancelScope(shield=True):
                if process.returncode is None:
                    _kill_group(process)
                # Closes its pipes now, not when collected (after the event loop, maybe).
                await process.aclose()
        text = b"".join(chunks).decode(errors="replace")
        output, truncated = truncate_output(text, self.max_output, size)
        if timed_out:
            return ExecutionResult(
                exit_code=-1,
                output=output,
                truncated=truncated,
                timed_out=True,
                error=f"timed out after {_seconds(self.timeout)} s",
            )
        code_ = process.returncode if process.returncode is not None else -1
        return ExecutionResult(exit_code=code_, output=output, truncated=truncated)

    async def end_conversation(self, sandbox: Sandbox | str) -> None:
        owner = self.work_root / as_sandbox(sandbox).owner
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(owner, ignore_errors=True))

    async def sandboxes(self) -> list[SandboxUse]:
        return await anyio.to_thread.run_sync(self._sandboxes)

    def _sandboxes(self) -> list[SandboxUse]:
        found = []
        for owner in self.work_root.glob("*/owner.json"):
            try:
                sandbox = msgspec.json.decode(owner.read_bytes(), type=Sandbox)
                used_at = owner.stat().st_mtime
            except (OSError, msgspec.DecodeError, msgspec.ValidationError):
                # Being removed, or not ours: a directory with no readable owner is left alone.
                continue
            found.append(SandboxUse(sandbox=sandbox, used_at=used_at))
        return found

    async def close(self) -> None:
        return None


def _kill_group(process: anyio.abc.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _seconds(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
