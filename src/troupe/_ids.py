"""Cheap unique ids for the per-request path.

``uuid4`` reads the kernel's random source on every call (a system call that
also lets go of the GIL); these ids are a random prefix drawn once per process
and a counter, so minting one is a few string operations. Unique across
processes and replicas through the prefix (48 random bits, drawn again in a
forked child), and never repeated within a process.
"""

from __future__ import annotations

__all__ = ["unique_hex"]

import itertools
import os

_prefix = ""
_counter: itertools.count[int] = itertools.count()


def _reseed() -> None:
    global _prefix, _counter
    _prefix = os.urandom(6).hex()
    _counter = itertools.count(int.from_bytes(os.urandom(4)) >> 1)


_reseed()
os.register_at_fork(after_in_child=_reseed)


def unique_hex(length: int = 32) -> str:
    """``length`` (at least 20) hex digits, unique to this process's prefix and counter."""
    return f"{_prefix}{next(_counter):0{length - 12}x}"
