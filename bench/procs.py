"""Server processes for the benchmark, and what /proc says about them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
BIN = Path(sys.executable).parent
_CPUS = sorted(os.sched_getaffinity(0))
# The server under test gets a core of its own; the upstream and the load generator
# share the others, so the server's CPU time is neither stolen nor migrated.
SERVER_CPUS = {_CPUS[0]}
OTHER_CPUS = set(_CPUS[1:]) or SERVER_CPUS
PIN = len(_CPUS) > 1


def pin(cpus: set[int]) -> Callable[[], None] | None:
    """A ``preexec_fn`` that binds the child to ``cpus`` (nothing when pinning is off)."""
    if not PIN:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def memory_kib(pid: int) -> dict[str, int]:
    """``VmHWM`` (peak resident set) and ``VmRSS`` of process ``pid``, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0])
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A server process started in its own session; stopped with SIGTERM, then SIGKILL."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        ready_path: str,
        env: dict[str, str] | None = None,
        cpus: set[int] | None = None,
    ):
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{name}-{port}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                argv,
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=pin(cpus) if cpus else None,
            )
        self._wait_ready(ready_path)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_ready(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"{self.name} not ready after {timeout}s: {self.log.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def upstream(tokens: int, delay: float = 0.0) -> Server:
    """The fake OpenAI upstream of ``tests/fakes``: ``tokens`` tokens, ``delay`` seconds apart."""
    port = free_port()
    argv = [sys.executable, "-m", "tests.fakes.openai_upstream", "--port", str(port)]
    argv += ["--tokens", str(tokens), "--delay", str(delay)]
    return Server("upstream", argv, port, "/v1/models", cpus=OTHER_CPUS)


def relay(upstream_url: str) -> Server:
    port = free_port()
    argv = [
        str(BIN / "uvicorn"),
        "bench.relay:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = {"BENCH_UPSTREAM": upstream_url}
    return Server("relay", argv, port, "/health", env=env, cpus=SERVER_CPUS)


def troupe(config: Path, src: Path | None = None, store: str = "sqlite") -> Server:
    """``troupe serve``; with ``src``, the troupe package found there (another checkout's ``src/``)."""
    port = free_port()
    argv = [str(BIN / "troupe"), "serve", "--config", str(config), "--port", str(port)]
    argv += ["--log-level", "warning"]
    env = troupe_env(src, store, port)
    return Server("troupe", argv, port, "/health", env=env, cpus=SERVER_CPUS)


STORE_DIR = Path(os.environ.get("TMPDIR", "/tmp")) / "troupe-bench-stores"


def migrated_database(name: str) -> Path:
    """A fresh SQLite file in ``STORE_DIR``, migrated by ``troupe db upgrade`` (as a new
    replica finds its database)."""
    STORE_DIR.mkdir(exist_ok=True)
    database = STORE_DIR / name
    for stale in STORE_DIR.glob(f"{name}*"):
        stale.unlink()
    upgrade = [str(BIN / "troupe"), "db", "upgrade", "--database-url", f"sqlite:///{database}"]
    subprocess.run(upgrade, check=True, capture_output=True)
    return database


def troupe_env(src: Path | None, store: str, port: int) -> dict[str, str]:
    """``PYTHONPATH`` for ``src``; the conversation store: a fresh SQLite file (the
    default kind since 538228c; older troupes ignore the variable) or ``memory``."""
    env = {"PYTHONPATH": str(src.resolve())} if src else {}
    if store == "sqlite":
        STORE_DIR.mkdir(exist_ok=True)
        db = STORE_DIR / f"troupe-{port}.db"
        for stale in STORE_DIR.glob(f"{db.name}*"):
            stale.unlink()
        store = f"sqlite:///{db}"
    env["TROUPE_DATABASE_URL"] = store
    return env


def variant(config: Path, patches: str, src: Path | None = None, store: str = "sqlite") -> Server:
    """The troupe app with ``bench.variants`` patches, under uvicorn as ``troupe serve`` runs it."""
    port = free_port()
    argv = [str(BIN / "uvicorn"), "--factory", "bench.variants:create_app", "--port", str(port)]
    argv += ["--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "10"]
    env = {"BENCH_CONFIG": str(config), "BENCH_PATCHES": patches, **troupe_env(src, store, port)}
    return Server(f"troupe+{patches}", argv, port, "/health", env=env, cpus=SERVER_CPUS)


def machine_busy(seconds: float = 1.0) -> float:
    """Fraction of all cores' time spent busy over ``seconds`` (others' load is our noise)."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]  # idle, iowait
        return sum(values) - idle, sum(values)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(total1 - total0, 1)
