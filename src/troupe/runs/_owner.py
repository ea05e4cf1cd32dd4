"""Which process holds a lease: ``machine:pid:start``, and whether that process still lives.

A replica that restarts after ``kill -9`` finds leases of its dead predecessor
on the same machine: their process is gone (no such pid, or the pid was reused
by a process that started later), so it takes their runs over at once instead
of waiting for the leases to expire. A lease held anywhere else is alive until
it expires: nothing here can see that process.

"The same machine" must mean the same process table, not the same host name:
containers (and machines) often share a host name while each has pids of its
own, and judging another's pid in our table would take over live runs. So the
machine is the host name, the kernel's boot id and the pid namespace.
"""

from __future__ import annotations

__all__ = ["current_owner", "owner_alive"]

import os
import socket
from pathlib import Path


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/pid/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _machine() -> str:
    """The host name, this boot and this pid namespace: where a pid means one process."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # no /proc: pids cannot be checked, leases expire
        return f"{socket.gethostname()}+?"
    return f"{socket.gethostname()}+{boot}+{namespace}"


_HOST = _machine()
_owners: dict[int, str] = {}


def current_owner() -> str:
    """This process, as leases name it (computed per pid: a forked worker is another)."""
    pid = os.getpid()
    owner = _owners.get(pid)
    if owner is None:
        owner = _owners[pid] = f"{_HOST}:{pid}:{_start_time(pid) or '?'}"
    return owner


def owner_alive(owner: str) -> bool:
    """Whether the process named by ``owner`` may still be running."""
    host, _, rest = owner.partition(":")
    pid, _, start = rest.partition(":")
    if host != _HOST or host.endswith("+?") or not pid.isdigit() or start == "?":
        return True
    return _start_time(int(pid)) == start
