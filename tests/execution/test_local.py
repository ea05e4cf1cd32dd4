"""The local executor: explicit opt-in, a timeout, a work directory per conversation."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from troupe.errors import ConfigError
from troupe.execution import LocalExecutor

pytestmark = pytest.mark.anyio


def test_the_local_executor_must_be_enabled_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError, match="set enabled: true"):
        LocalExecutor("local")
    with caplog.at_level(logging.WARNING):
        LocalExecutor("local", enabled=True)
    assert "NOT in a sandbox" in caplog.text


async def test_runs_code_in_a_work_directory_per_conversation(tmp_path: Path) -> None:
    executor = LocalExecutor("local", enabled=True, work_root=tmp_path)
    written = await executor.execute("c1", "python", "open('f.txt', 'w').write('hi')")
    assert written.ok
    read = await executor.execute("c1", "sh", "cat f.txt; echo; echo oops >&2; exit 3")
    assert read.exit_code == 3 and read.output == "hi\noops\n"
    other = await executor.execute("c2", "sh", "ls")
    assert other.output == ""
    await executor.end_conversation("c1")
    assert not executor.work_dir("c1").exists()


async def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    executor = LocalExecutor("local", enabled=True, timeout=0.5, work_root=tmp_path)
    result = await executor.execute("c1", "sh", "sleep 30 & echo started; wait")
    assert result.timed_out and result.error == "timed out after 0.5 s"
    assert result.output == "started\n"


async def test_memory_limit_and_truncation(tmp_path: Path) -> None:
    executor = LocalExecutor(
        "local", enabled=True, memory=200 * 1024 * 1024, max_output=100, work_root=tmp_path
    )
    bomb = await executor.execute("c1", "python", "x = bytearray(1_000_000_000)")
    assert not bomb.ok and "MemoryError" in bomb.output
    long = await executor.execute("c1", "python", "print('y' * 1000)")
    assert long.truncated and long.output.endswith("[output truncated: 901 more characters]")


async def test_an_unknown_language_is_an_error_result(tmp_path: Path) -> None:
    executor = LocalExecutor("local", enabled=True, work_root=tmp_path)
    result = await executor.execute("c1", "ruby", "puts 1")
    assert result.error == "unsupported language 'ruby'" and not result.ok
