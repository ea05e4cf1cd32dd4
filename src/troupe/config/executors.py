"""The ``executors:`` section: where generated code runs, and building executors from it."""

from __future__ import annotations

__all__ = ["DockerExecutorSpec", "ExecutorSpec", "LocalExecutorSpec", "build_executor"]

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from troupe.errors import ConfigError, ConfigIssue
from troupe.execution import DockerExecutor, Executor, LocalExecutor

_SIZE = r"^[0-9]+(\.[0-9]+)?[bkmgBKMG]?$"


def _bytes(size: str) -> int:
    units = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    unit = size[-1].lower()
    if unit in units:
        return int(float(size[:-1]) * units[unit])
    return int(float(size))


class _ExecutorBase(
    msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True, tag_field="kind"
):
    timeout: Annotated[float, Meta(gt=0)] = 30.0
    # ``always``: the run pauses for the human's approval before any code runs.
    approval: Literal["always", "never"] = "never"
    # Output beyond this many characters is cut, with a note.
    max_output: Annotated[int, Meta(ge=100)] = 8000
    memory: Annotated[str, Meta(pattern=_SIZE)] = "256m"


class DockerExecutorSpec(_ExecutorBase, tag="docker", kw_only=True, frozen=True):
    """Code runs in a container per conversation (the default for generated code)."""

    image: str = "troupe-sandbox"
    cpus: Annotated[float, Meta(gt=0)] = 1.0
    pids: Annotated[int, Meta(ge=8)] = 64
    # A docker network mode; ``none`` (no network) unless you need one.
    network: str = "none"
    # The Docker engine, as DOCKER_HOST would name it (``ssh://``, ``tcp://``); unset:
    # the environment's DOCKER_HOST or the local socket.
    docker_host: str | None = None
    user: str = "1000:1000"
    # Seconds a conversation's container may sit unused before it is removed.
    idle_timeout: Annotated[float, Meta(gt=0)] = 600.0


class LocalExecutorSpec(_ExecutorBase, tag="local", kw_only=True, frozen=True):
    """Code runs as a subprocess of the server: NOT contained; ``enabled: true`` required."""

    enabled: bool = False
    memory: Annotated[str, Meta(pattern=_SIZE)] = "512m"
    pids: Annotated[int, Meta(ge=1)] | None = None


ExecutorSpec = DockerExecutorSpec | LocalExecutorSpec


def build_executor(name: str, spec: ExecutorSpec) -> Executor:
    """The executor ``name`` of the config; ``ConfigError`` paths are relative to its entry."""
    if isinstance(spec, LocalExecutorSpec):
        if not spec.enabled:
            raise ConfigError(
                ConfigIssue(
                    "$.enabled",
                    f"the local executor {name!r} runs code unconfined on the server; "
                    "set enabled: true to use it anyway (or use kind: docker)",
                )
            )
        return LocalExecutor(
            name,
            enabled=True,
            timeout=spec.timeout,
            memory=_bytes(spec.memory),
            pids=spec.pids,
            max_output=spec.max_output,
            approval=spec.approval,
        )
    return DockerExecutor(
        name,
        image=spec.image,
        timeout=spec.timeout,
        memory=spec.memory,
        cpus=spec.cpus,
        pids=spec.pids,
        network=spec.network,
        docker_host=spec.docker_host,
        user=spec.user,
        max_output=spec.max_output,
        idle_timeout=spec.idle_timeout,
        approval=spec.approval,
    )
