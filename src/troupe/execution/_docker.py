"""``DockerExecutor``: code in a locked-down container per (API key, conversation).

Each sandbox gets a container (an idle PID 1 that reaps orphans) and a named
volume mounted at ``/work``, its work directory; code runs in it with
``exec``. Two API keys using the same conversation id get two sandboxes. The
container is reused across the conversation's turns and removed after
``idle_timeout`` seconds unused or when the server stops; the volume stays (the
files are still there when the conversation comes back, on any replica using
the engine) until the conversation is deleted or expires. Everything is
labelled (``troupe.managed=1``, ``troupe.executor``, ``troupe.namespace``,
``troupe.owner``, ``troupe.scope``, ``troupe.conversation``; containers also
``troupe.instance``) so a crashed server's containers are removed when it
starts again, and a conversation's volumes are found when it goes.

Containment: no network (``network_mode=none`` unless configured), read-only
root file system, a writable tmpfs ``/tmp``, non-root user, every capability
dropped, ``no-new-privileges``, and memory, CPU and process-count limits.
Inside, each run is wrapped in coreutils ``timeout``, which kills the whole
process group; a cancelled run kills every process of the container's user.

The docker SDK is blocking: every call runs in a worker thread.
"""

from __future__ import annotations

__all__ = ["DockerExecutor"]

import contextlib
import hashlib
import logging
import socket
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread

from troupe.errors import RunError
from troupe.execution._base import (
    ExecutionResult,
    Sandbox,
    SandboxUse,
    as_sandbox,
    normalize_language,
    truncate_output,
)

if TYPE_CHECKING:
    from docker import DockerClient  # type: ignore[import-untyped]
    from docker.models.containers import Container  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

MANAGED = "troupe.managed"
_WORK = "/work"
# The exit status of coreutils ``timeout`` when the command timed out.
_TIMED_OUT = 124
# PID 1 of a sandbox: waits forever and reaps the orphans of killed runs, so a fork
# bomb's zombies do not keep using the process limit. (docker's own init binary is
# not always usable by a non-root user on a read-only root.)
_REAPER = """
import os, signal, time
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(1)
"""
# Largest code we pass as one argument (Linux caps a single argument at 128 KiB).
_MAX_CODE = 120_000


def _seconds(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


class DockerExecutor:
    """Runs code in Docker containers, one per conversation, through the ``docker`` SDK."""

    def __init__(
        self,
        name: str = "docker",
        *,
        image: str = "troupe-sandbox",
        timeout: float = 30.0,
        memory: str = "256m",
        cpus: float = 1.0,
        pids: int = 64,
        network: str = "none",
        docker_host: str | None = None,
        user: str = "1000:1000",
        tmpfs_size: str = "64m",
        max_output: int = 8000,
        idle_timeout: float = 600.0,
        approval: Literal["always", "never"] = "never",
        instance: str | None = None,
        namespace: str = "default",
    ) -> None:
        self._name = name
        self._approval: Literal["always", "never"] = approval
        self.image = image
        self.timeout = timeout
        self.memory = memory
        self.cpus = cpus
        self.pids = pids
        self.network = network
        self.docker_host = docker_host
        self.user = user
        self.tmpfs_size = tmpfs_size
        self.max_output = max_output
        self.idle_timeout = idle_timeout
        # Which server owns the containers: only its own leftovers are removed at start.
        self.instance = instance or socket.gethostname()
        # Deployments sharing an engine keep their sandboxes apart by namespace.
        self.namespace = namespace
        self._client: DockerClient | None = None
        self._started = False
        self._start_lock = anyio.Lock()
        # By container name: a lock per sandbox, when it was last used, whose it is.
        self._locks: dict[str, anyio.Lock] = {}
        self._last_used: dict[str, float] = {}
        self._sandboxes: dict[str, Sandbox] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def approval(self) -> Literal["always", "never"]:
        return self._approval

    def __repr__(self) -> str:
        return f"DockerExecutor({self._name!r}, image={self.image!r})"

    # --- naming -------------------------------------------------------------------------

    def _key(self, sandbox: Sandbox | str) -> str:
        digest = hashlib.sha256(f"{self.namespace}/{as_sandbox(sandbox).key}".encode())
        return f"troupe-{self._name}-{digest.hexdigest()[:20]}"

    def _labels(self, sandbox: Sandbox | None = None) -> dict[str, str]:
        labels = {MANAGED: "1", "troupe.executor": self._name, "troupe.namespace": self.namespace}
        if sandbox is not None:
            labels["troupe.owner"] = sandbox.owner
            labels["troupe.scope"] = sandbox.scope
            labels["troupe.conversation"] = sandbox.root
        return labels

    def _filters(self, sandbox: Sandbox | None = None, *, mine: bool = False) -> dict[str, Any]:
        labels = self._labels()
        if sandbox is not None:
            labels["troupe.owner"] = sandbox.owner
        if mine:
            labels["troupe.instance"] = self.instance
        return {"label": [f"{k}={v}" for k, v in labels.items()]}

    # --- the engine (blocking; called in worker threads) --------------------------------

    def _connect(self) -> DockerClient:
        if self._client is None:
            import docker

            try:
                client = (
                    docker.DockerClient(base_url=self.docker_host)
                    if self.docker_host
                    else docker.from_env()
                )
                client.ping()
            except docker.errors.DockerException as err:
                where = self.docker_host or "DOCKER_HOST / the default socket"
                raise RunError(
                    f"executor '{self._name}': cannot reach the Docker engine at {where}: {err}",
                    code="executor_unavailable",
                ) from err
            self._client = client
        return self._client

    def _remove_leftovers(self) -> int:
        """Remove this instance's containers (a crash left them); how many. Volumes stay."""
        return self._remove_all(self._filters(mine=True), volumes=False)

    def _remove_all(self, filters: dict[str, Any], *, volumes: bool) -> int:
        import docker.errors  # type: ignore[import-untyped]

        client = self._connect()
        containers = client.containers.list(all=True, filters=filters)
        for container in containers:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        if volumes:
            for volume in client.volumes.list(filters=filters):
                with contextlib.suppress(docker.errors.NotFound):
                    volume.remove(force=True)
        return len(containers)

    def _container(self, sandbox: Sandbox) -> Container:
        import docker.errors

        client = self._connect()
        name = self._key(sandbox)
        try:
            container = client.containers.get(name)
            if container.status == "running":
                return container
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        try:
            client.volumes.get(name)
        except docker.errors.NotFound:
            client.volumes.create(name, labels=self._labels(sandbox))
        try:
            container = client.containers.run(
                self.image,
                ["python3", "-c", _REAPER],
                name=name,
                detach=True,
                labels={**self._labels(sandbox), "troupe.instance": self.instance},
                user=self.user,
                working_dir=_WORK,
                network_mode=self.network,
                read_only=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                mem_limit=self.memory,
                memswap_limit=self.memory,
                nano_cpus=int(self.cpus * 1e9),
                pids_limit=self.pids,
                tmpfs={"/tmp": f"rw,nosuid,nodev,size={self.tmpfs_size},mode=1777"},
                volumes={name: {"bind": _WORK, "mode": "rw"}},
            )
        except docker.errors.ImageNotFound as err:
            raise RunError(
                f"executor '{self._name}': image {self.image!r} not found on the Docker engine "
                "(build it with scripts/build-sandbox-image)",
                code="executor_unavailable",
            ) from err
        except docker.errors.APIError as err:
            if err.status_code == 409:  # another replica started it meanwhile
                return client.containers.get(name)
            raise RunError(
                f"executor '{self._name}': cannot start a container: {err}",
                code="executor_unavailable",
            ) from err
        return container

    def _exec(self, container: Container, command: list[str]) -> tuple[int, bytes, int]:
        """Run ``command``; its exit code, the first bytes of its output, its output size."""
        from docker.utils.socket import frames_iter  # type: ignore[import-untyped]

        api = self._connect().api
        exec_id = api.exec_create(
            container.id, command, user=self.user, workdir=_WORK, stdout=True, stderr=True
        )["Id"]
        limit = self.max_output * 4 + 1024
        kept: list[bytes] = []
        size = 0
        # The raw socket rather than ``stream=True``: the SDK never closes that one.
        sock = api.exec_start(exec_id, socket=True)
        try:
            for _, chunk in frames_iter(sock, tty=False):
                if size < limit:
                    kept.append(chunk)
                size += len(chunk)
        finally:
            raw = getattr(sock, "_sock", None)
            sock.close()
            if raw is not None:
                raw.close()
        exit_code = api.exec_inspect(exec_id).get("ExitCode")
        return (exit_code if exit_code is not None else -1), b"".join(kept)[:limit], size

    def _sweep(self, container: Container) -> int:
        """Kill what a run left behind (background processes, a fork bomb); how many.

        Only shell builtins: a fork bomb may leave no room for another process. If
        even the shell cannot start, restarting the container clears everything (the
        work directory is a volume, so it stays).
        """
        script = "set -- /proc/[0-9]*; echo $#; kill -9 -1 2>/dev/null; true"
        for _ in range(3):
            try:
                exit_code, output = container.exec_run(["sh", "-c", script], user=self.user)
            except Exception:  # the engine could not even start the shell
                exit_code, output = -1, b""
            if exit_code == 0 and output.strip().isdigit():
                # PID 1 and this shell are always there.
                return max(int(output.strip()) - 2, 0)
        container.restart(timeout=0)
        return -1

    def _run(self, container: Container, command: list[str]) -> tuple[int, bytes, int, int]:
        exit_code, raw, size = self._exec(container, command)
        return exit_code, raw, size, self._sweep(container)

    def _kill_all(self, name: str) -> None:
        """Kill every process of the sandbox user in the container ``name``."""
        try:
            container = self._connect().containers.get(name)
            container.exec_run(["sh", "-c", "kill -9 -1"], user=self.user)
        except Exception:  # the container may be gone already; nothing left to kill then
            logger.debug("could not kill processes in %s", name, exc_info=True)

    def _remove_container(self, name: str) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.NotFound):
            self._connect().containers.get(name).remove(force=True)

    def _volumes(self) -> list[SandboxUse]:
        found: dict[Sandbox, float] = {}
        for volume in self._connect().volumes.list(filters=self._filters()):
            labels = volume.attrs.get("Labels") or {}
            conversation = labels.get("troupe.conversation")
            if not conversation:
                continue
            sandbox = Sandbox(conversation, labels.get("troupe.scope", ""))
            created = _epoch(volume.attrs.get("CreatedAt", ""))
            found[sandbox] = max(found.get(sandbox, 0.0), created)
        for name, used in self._last_used.items():
            held = self._sandboxes.get(name)
            if held is not None:
                root = Sandbox(held.root, held.scope)
                found[root] = max(found.get(root, 0.0), used)
        return [SandboxUse(sandbox=s, used_at=used) for s, used in found.items()]

    # --- the async surface --------------------------------------------------------------

    async def start(self) -> int:
        """Connect and remove leftovers of a previous run of this instance; how many."""
        async with self._start_lock:
            if self._started:
                return 0
            removed = await anyio.to_thread.run_sync(self._remove_leftovers)
            if removed:
                logger.info("executor %r removed %d leftover container(s)", self._name, removed)
            self._started = True
            return removed

    async def execute(self, sandbox: Sandbox | str, language: str, code: str) -> ExecutionResult:
        lang = normalize_language(language)
        if lang is None:
            return ExecutionResult(exit_code=-1, error=f"unsupported language {language!r}")
        if len(code.encode()) > _MAX_CODE:
            return ExecutionResult(exit_code=-1, error=f"code longer than {_MAX_CODE} bytes")
        sandbox = as_sandbox(sandbox)
        name = self._key(sandbox)
        await self.start()
        await self._reap_idle(keep=name)
        lock = self._locks.setdefault(name, anyio.Lock())
        async with lock:
            self._sandboxes[name] = sandbox
            container = await anyio.to_thread.run_sync(self._container, sandbox)
            interpreter = "python3" if lang == "python" else lang
            command = [
                "timeout",
                "-s",
                "KILL",
                _seconds(self.timeout),
                interpreter,
                "-c",
                code,
            ]
            started = time.monotonic()
            try:
                exit_code, raw, size, left = await anyio.to_thread.run_sync(
                    self._run, container, command, abandon_on_cancel=True
                )
            except BaseException:
                # Cancelled (client gone, run timeout) or the engine failed: stop the code now.
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._kill_all, name)
                raise
            finally:
                self._last_used[name] = time.time()
            elapsed = time.monotonic() - started
        output, truncated = truncate_output(raw.decode(errors="replace"), self.max_output, size)
        # ``timeout -s KILL`` exits 137 when it fired; so does an OOM kill: tell them apart by time.
        if exit_code in (_TIMED_OUT, 137) and elapsed >= self.timeout - 0.05:
            return ExecutionResult(
                exit_code=exit_code,
                output=output,
                truncated=truncated,
                timed_out=True,
                error=f"timed out after {_seconds(self.timeout)} s",
            )
        if left:
            killed = f"{left} processes" if left > 0 else "processes"
            return ExecutionResult(
                exit_code=exit_code,
                output=output,
                truncated=truncated,
                error=f"the code left {killed} running (limit {self.pids}); they were killed",
            )
        return ExecutionResult(exit_code=exit_code, output=output, truncated=truncated)

    async def _reap_idle(self, *, keep: str) -> None:
        """Remove the containers (not the work volumes) of sandboxes idle too long."""
        now = time.time()
        idle = [
            name
            for name, used in self._last_used.items()
            if name != keep and now - used > self.idle_timeout
        ]
        for name in idle:
            self._forget(name)
            await anyio.to_thread.run_sync(self._remove_container, name)

    def _forget(self, name: str) -> None:
        self._last_used.pop(name, None)
        self._locks.pop(name, None)
        self._sandboxes.pop(name, None)

    async def end_conversation(self, sandbox: Sandbox | str) -> None:
        """Remove the containers and volumes of the sandbox's root conversation."""
        sandbox = as_sandbox(sandbox)
        for name, held in list(self._sandboxes.items()):
            if held.owner == sandbox.owner:
                self._forget(name)
        filters = self._filters(sandbox)
        await anyio.to_thread.run_sync(lambda: self._remove_all(filters, volumes=True))

    async def sandboxes(self) -> list[SandboxUse]:
        return await anyio.to_thread.run_sync(self._volumes)

    async def close(self) -> None:
        """Remove this instance's containers (server shutdown); the work volumes stay."""
        if self._client is None:
            return
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._remove_leftovers)
            client, self._client = self._client, None
            self._started = False
            self._last_used.clear()
            self._locks.clear()
            self._sandboxes.clear()
            await anyio.to_thread.run_sync(client.close)


def _epoch(created: str) -> float:
    """Seconds since the epoch of an engine timestamp (``2026-12-03T02:30:00Z``); 0 if unreadable."""
    try:
        return datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
