"""Markdown tables of a ``bench.run`` result."""

from __future__ import annotations

from typing import Any

# (label, phase, getter, decimals)
_ROWS: list[tuple[str, str, str, int]] = [
    ("requests/s", "c1", "requests_per_s", 1),
    ("requests/s", "c64", "requests_per_s", 1),
    ("tokens/s", "c1", "tokens_per_s", 0),
    ("tokens/s", "c64", "tokens_per_s", 0),
    ("content frames/s", "c1", "chunks_per_s", 0),
    ("content frames/s", "c64", "chunks_per_s", 0),
    ("TTFT p50 (ms)", "c1", "ttft_ms.p50", 2),
    ("TTFT p50 (ms)", "c64", "ttft_ms.p50", 1),
    ("TTFT p50, paced upstream (ms)", "paced", "ttft_ms.p50", 2),
    ("TTFT p99, paced upstream (ms)", "paced", "ttft_ms.p99", 2),
    ("server CPU per request (ms)", "c1", "server_cpu_ms_per_request", 2),
    ("server CPU per request (ms)", "c64", "server_cpu_ms_per_request", 2),
    ("server CPU per request, paced upstream (ms)", "paced", "server_cpu_ms_per_request", 2),
    ("server CPU per request, 5 ms pace (ms)", "paced64", "server_cpu_ms_per_request", 2),
    ("server CPU per chunk, 5 ms pace (µs)", "paced64", "server_cpu_us_per_chunk", 1),
    ("TTFT p50, 5 ms pace (ms)", "paced64", "ttft_ms.p50", 2),
    ("peak RSS, VmHWM (MiB)", "c1", "memory_kib.VmHWM", 1),
    ("peak RSS, VmHWM (MiB)", "c64", "memory_kib.VmHWM", 1),
]
_PHASE = {"c1": "c=1", "c64": "c=64", "paced": "c=1", "paced64": "c=64"}


def _get(data: dict[str, Any], path: str) -> float:
    value: Any = data
    for key in path.split("."):
        value = value[key]
    return float(value) / (1024 if path.startswith("memory_kib") else 1)


def _fmt(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def table(results: dict[str, Any]) -> str:
    relay, troupe = results["targets"]["relay"], results["targets"]["troupe"]
    lines = ["| metric | relay | troupe | troupe / relay |", "|---|---:|---:|---:|"]
    for label, phase, path, decimals in _ROWS:
        if phase not in relay or phase not in troupe:  # an older result
            continue
        a, b = _get(relay[phase], path), _get(troupe[phase], path)
        lines.append(
            f"| {label}, {_PHASE[phase]} | {_fmt(a, decimals)} | {_fmt(b, decimals)} | {b / a:.2f}x |"
        )
    lines += ["", _goals(relay, troupe)]
    if "micro" in results:
        lines += ["", micro_table(results["micro"])]
    return "\n".join(lines)


def _goals(relay: dict[str, Any], troupe: dict[str, Any]) -> str:
    phases = [p for p in ("c1", "c64", "paced64") if p in relay and p in troupe]
    cpu = [
        troupe[p]["server_cpu_ms_per_request"] / relay[p]["server_cpu_ms_per_request"]
        for p in phases
    ]
    ratios = ", ".join(
        f"{r:.1f}x at {_PHASE[p]}{' paced' if p == 'paced64' else ''}"
        for p, r in zip(phases, cpu, strict=True)
    )
    ttft = troupe["paced"]["ttft_ms"]["p50"] - relay["paced"]["ttft_ms"]["p50"]
    verdict = {True: "met", False: "NOT met"}
    return (
        f"Goals: server CPU per request within 2x of the relay: {verdict[max(cpu) <= 2]} "
        f"({ratios}); "
        f"TTFT within 1 ms of the relay (paced, p50): {verdict[ttft <= 1]} ({ttft:+.2f} ms)."
    )


def micro_table(micro: dict[str, Any]) -> str:
    lines = ["| micro-cost | per call |", "|---|---:|"]
    for section in ("encoding", "hop"):
        for name, ns in micro[section].items():
            lines.append(f"| {name.removesuffix('_ns')} | {ns / 1000:.2f} µs |")
    lines += [
        "",
        "| layer (in-process, CPU) | per chunk | fixed per request | per 200-token request |",
        "|---|---:|---:|---:|",
    ]
    for name, costs in micro["streams"].items():
        total = next(v for k, v in costs.items() if k.startswith("cpu_ms_per_request_"))
        lines.append(
            f"| {name} | {costs['cpu_us_per_chunk']:.1f} µs | {costs['cpu_ms_fixed_per_request']:.2f} ms | {total:.2f} ms |"
        )
    return "\n".join(lines)


def variants_table(results: dict[str, Any]) -> str:
    base = results["targets"]["troupe"]
    relay = results["targets"]["relay"]
    lines = [
        "| troupe variant | CPU/request c=1 (ms) | c=64 (ms) | vs relay c=1 / c=64 "
        "| CPU/request paced (ms) | requests/s c=64 | TTFT p50 c=1 (ms) | TTFT p50 paced (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = {"relay (floor)": relay, "troupe as is": base}
    rows.update({f"troupe + {name}": data for name, data in results["variants"].items()})
    for name, data in rows.items():
        c1, c64 = data["c1"]["server_cpu_ms_per_request"], data["c64"]["server_cpu_ms_per_request"]
        r1, r64 = (
            c1 / relay["c1"]["server_cpu_ms_per_request"],
            c64 / relay["c64"]["server_cpu_ms_per_request"],
        )
        lines.append(
            f"| {name} | {c1:.2f} | {c64:.2f} | {r1:.1f}x / {r64:.1f}x "
            f"| {data['paced']['server_cpu_ms_per_request']:.2f} | {data['c64']['requests_per_s']:.1f} | {data['c1']['ttft_ms']['p50']:.2f} "
            f"| {data['paced']['ttft_ms']['p50']:.2f} |"
        )
    return "\n".join(lines)
