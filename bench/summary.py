"""Median and range of the main figures over several ``bench.run`` results.

On a small shared machine one run's figures move by 10-30 %; compare medians::

    python -m bench.summary bench/results/2026*.json
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.report import _ROWS, _get

_PHASE = {"c1": "c=1", "c64": "c=64", "paced": "c=1"}


def _label(result: dict[str, Any]) -> str:
    source = result.get("troupe", {})
    if "src" in source:
        label = source["src"]
        commit = Path(label).parent / "COMMIT"  # written next to src/ by whoever exported it
        label = commit.read_text().strip() if commit.exists() else label
    else:
        label = source.get("commit", "?") + ("+dirty" if source.get("dirty") else "")
    return f"{label}, {source['store']} store" if "store" in source else label


def _cell(values: list[float], decimals: int) -> str:
    if len(values) == 1:
        return f"{values[0]:,.{decimals}f}"
    return f"{statistics.median(values):,.{decimals}f} ({min(values):,.{decimals}f}–{max(values):,.{decimals}f})"


def summary(results: list[dict[str, Any]]) -> str:
    troupes: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        troupes.setdefault(_label(result), []).append(result["targets"]["troupe"])
    relays = [result["targets"]["relay"] for result in results]
    names = list(troupes)
    lines = [
        "| metric | relay | " + " | ".join(f"troupe {n}" for n in names) + " |",
        "|---|---:|" + "---:|" * len(names),
        f"| runs | {len(relays)} | " + " | ".join(str(len(troupes[n])) for n in names) + " |",
    ]
    for label, phase, path, decimals in _ROWS:
        cells = [_cell([_get(r[phase], path) for r in relays], decimals)]
        cells += [_cell([_get(t[phase], path) for t in troupes[n]], decimals) for n in names]
        lines.append(f"| {label}, {_PHASE[phase]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]]
    print(summary([json.loads(p.read_text()) for p in paths]))


if __name__ == "__main__":
    main()
