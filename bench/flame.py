"""Summarise py-spy's collapsed stacks (``py-spy record -f raw``).

Prints self time by package, then the top functions by self and by inclusive time::

    python -m bench.flame profile.raw [--top 25] [--filter troupe]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# py-spy frames read ``function (path/to/file.py:line)``; drop the line so a function is one row.
_LINE = re.compile(r":\d+\)$")


_PREFIXES = re.compile(r"\((?:.*/site-packages/|.*/lib/python3\.\d+/|(?:.*/)?src/)")


def _frame(raw: str) -> str:
    name = _LINE.sub(")", raw.strip()).replace(str(Path.cwd()) + "/", "")
    return _PREFIXES.sub("(", name)


def package(frame: str) -> str:
    """The top-level package (or stdlib module) a frame's file belongs to."""
    path = frame.rpartition("(")[2].rstrip(")")
    return path.split("/", 1)[0].removesuffix(".py")


def summarise(path: Path) -> tuple[int, Counter[str], Counter[str], Counter[str]]:
    total = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        frames = [
            _frame(f)
            for f in stack.split(";")
            if not f.startswith("process ") and not f.startswith("thread ")
        ]
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        packages[package(frames[-1])] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    return total, own, inclusive, packages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--filter", default="", help="only frames containing this text")
    args = parser.parse_args()
    total, own, inclusive, packages = summarise(args.raw)
    print(f"{total} samples")
    for title, counter in (("package", packages), ("self", own), ("inclusive", inclusive)):
        print(f"\n{title:>9}  function")
        rows = [(f, n) for f, n in counter.most_common() if args.filter in f][: args.top]
        for frame, samples in rows:
            print(f"{100 * samples / total:8.1f}%  {frame}")


if __name__ == "__main__":
    main()
