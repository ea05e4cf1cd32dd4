"""The Docker executor against a real engine: persistence, containment, lifecycle."""

from __future__ import annotations

import docker
import pytest

from tests.teams.conftest import Recorder
from troupe.events import CodeExecuted, CodeExecutionStarted
from troupe.execution import DockerExecutor, run_reported

pytestmark = pytest.mark.anyio


def _managed(instance: str) -> list[str]:
    client = docker.from_env()
    try:
        found = client.containers.list(
            all=True, filters={"label": ["troupe.managed=1", f"troupe.instance={instance}"]}
        )
        return [c.name for c in found]
    finally:
        client.close()


async def test_one_container_per_conversation_keeps_its_files(sandbox: DockerExecutor) -> None:
    events = Recorder()
    first = await run_reported(
        sandbox,
        sandbox="c1",
        agent="coder",
        language="python",
        code="open('notes.txt', 'w').write('kept'); print('written')",
        emit=events,
    )
    assert first.ok and first.output == "written\n"
    started, executed = events.events
    assert isinstance(started, CodeExecutionStarted) and started.agent == "coder"
    assert started.language == "python" and "notes.txt" in started.code
    assert isinstance(executed, CodeExecuted) and executed.exit_code == 0
    assert executed.execution_id == started.execution_id and executed.output == "written\n"

    second = await sandbox.execute("c1", "sh", "cat notes.txt; echo; id -u; pwd")
    assert second.output.split() == ["kept", "1000", "/work"]
    other = await sandbox.execute("c2", "bash", "ls")
    assert other.ok and other.output == ""  # another conversation: another work directory
    assert len(_managed(sandbox.instance)) == 2


async def test_root_filesystem_is_read_only_and_user_unprivileged(
    sandbox: DockerExecutor,
) -> None:
    result = await sandbox.execute("c1", "sh", "touch /etc/owned && echo wrote")
    assert not result.ok and "wrote" not in result.output
    assert "Read-only file system" in result.output or "Permission denied" in result.output
    caps = await sandbox.execute("c1", "sh", "grep CapEff /proc/self/status")
    assert caps.output.split() == ["CapEff:", "0000000000000000"]


async def test_timeout_kills_the_code_and_the_container_stays_usable(
    sandbox: DockerExecutor,
) -> None:
    result = await sandbox.execute(
        "c1", "python", "import time\nprint('start', flush=True)\ntime.sleep(60)"
    )
    assert result.timed_out and result.error == "timed out after 3 s"
    assert "start" in result.output
    assert "timed out after 3 s" in result.describe()
    after = await sandbox.execute("c1", "sh", "echo still here")
    assert after.output == "still here\n"


async def test_output_beyond_the_limit_is_truncated_with_a_note(sandbox: DockerExecutor) -> None:
    result = await sandbox.execute("c1", "python", "print('x' * 5000)")
    assert result.truncated
    assert result.output.startswith("x" * 500)
    assert result.output.endswith("[output truncated: 4501 more characters]")


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("bash", ":(){ :|:& };:"),
        ("python", "chunks = []\nwhile True:\n    chunks.append(bytearray(50_000_000))"),
        (
            "python",
            "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\n"
            "print('reached the network')",
        ),
    ],
    ids=["fork-bomb", "memory-bomb", "network"],
)
async def test_bombs_and_network_are_contained(
    sandbox: DockerExecutor, language: str, code: str
) -> None:
    result = await sandbox.execute("c1", language, code)
    assert not result.ok
    assert "reached the network" not in result.output
    after = await sandbox.execute("c1", "sh", "echo alive")
    assert after.output == "alive\n"


async def test_end_of_conversation_removes_its_sandbox_a_restart_keeps_the_files(
    docker_engine: None, instance: str
) -> None:
    owner = f"{instance}-crash"
    crashed = DockerExecutor("sandbox", timeout=5, instance=owner, namespace=owner)
    await crashed.execute("gone", "sh", "true")
    await crashed.execute("kept", "sh", "echo still here > notes")
    await crashed.end_conversation("gone")
    assert _managed(owner) == [crashed._key("kept")]
    # The server dies without closing the executor; the next start removes its containers...
    restarted = DockerExecutor("sandbox", timeout=5, instance=owner, namespace=owner)
    assert await restarted.start() == 1
    assert _managed(owner) == []
    # ... and the conversation's files are still there.
    assert [use.sandbox.conversation_id for use in await restarted.sandboxes()] == ["kept"]
    assert (await restarted.execute("kept", "sh", "cat notes")).output == "still here\n"
    await restarted.end_conversation("kept")
    assert await restarted.sandboxes() == []
    await restarted.close()
    await crashed.close()
