"""Which process holds a run's lease, and when it counts as gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from troupe.runs._owner import current_owner, owner_alive


def test_a_dead_process_of_this_machine_is_gone_and_this_one_lives() -> None:
    me = current_owner()
    assert owner_alive(me)
    machine = me.split(":")[0]
    done = subprocess.run(
        [sys.executable, "-c", "from troupe.runs._owner import current_owner as c; print(c())"],
        capture_output=True,
        text=True,
        check=True,
    )
    child = done.stdout.strip()
    assert child.split(":")[0] == machine  # the same machine, and the process is over
    assert not owner_alive(child)


def test_a_process_elsewhere_with_the_same_host_name_is_alive_until_its_lease_expires() -> None:
    """Containers share host names while their pids are their own: pid 1 of another
    container (or another boot, another pid namespace) is not ours to judge."""
    host = socket.gethostname()
    assert owner_alive(f"{host}:{os.getpid()}:1")  # an owner written in the old form
    assert owner_alive(f"{host}+deadbeef+4026531836:1:5")  # another boot
    assert owner_alive(f"{host}+?:1:5")  # a machine without /proc
    assert owner_alive("elsewhere:1:5")
