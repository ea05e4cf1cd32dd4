"""A real Docker engine and the sandbox image, set up once per session by the scripts.

No silent skips: when the engine cannot be started or the image not built,
the tests that need them fail with the scripts' output.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from troupe.execution import DockerExecutor

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _run(script: str) -> None:
    done = subprocess.run(
        [str(SCRIPTS / script)], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"scripts/{script} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def docker_engine() -> None:
    _run("docker-engine")
    _run("build-sandbox-image")


@pytest.fixture(scope="session")
def instance() -> str:
    """This session's owner label: tests never touch other sessions' containers."""
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sandbox(docker_engine: None, instance: str) -> AsyncIterator[DockerExecutor]:
    executor = DockerExecutor(
        "sandbox",
        timeout=3,
        max_output=500,
        pids=32,
        memory="64m",
        instance=instance,
        namespace=instance,
    )
    try:
        yield executor
    finally:
        for use in await executor.sandboxes():
            await executor.end_conversation(use.sandbox)
        await executor.close()
