"""Tool and parameter descriptions from a docstring.

Google style (``Args:``) is the house style; Sphinx (``:param x:``) and NumPy
(``Parameters`` underlined with dashes) are understood too, since tools are
often written elsewhere. The description is the prose before the first
section, so a paragraph explaining how to use the tool reaches the model.
"""

from __future__ import annotations

__all__ = ["Docstring", "parse_docstring"]

import inspect
import re
from dataclasses import dataclass, field

_GOOGLE_SECTION = re.compile(
    r"(?:args|arguments|params|parameters|keyword args|keyword arguments|other parameters"
    r"|returns?|yields?|raises|examples?|notes?|attributes|see also|warnings?|references"
    r"|todo)\s*:",
    re.IGNORECASE,
)
_GOOGLE_PARAMS = re.compile(
    r"(?:args|arguments|params|parameters|keyword args|keyword arguments|other parameters)\s*:",
    re.IGNORECASE,
)
_GOOGLE_ENTRY = re.compile(r"\*{0,2}(?P<name>[A-Za-z_]\w*)\s*(?:\([^)]*\))?\s*:\s*(?P<desc>.*)")
_SPHINX_PARAM = re.compile(
    r":(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*\s)?\*{0,2}(?P<name>[A-Za-z_]\w*)"
    r"\s*:\s*(?P<desc>.*)"
)
_NUMPY_UNDERLINE = re.compile(r"-{3,}")
_NUMPY_PARAMS = {"parameters", "other parameters", "keyword arguments"}


@dataclass(frozen=True)
class Docstring:
    description: str = ""
    params: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str | None) -> Docstring:
    """Split a docstring into its leading prose and per-parameter descriptions."""
    if not doc or not doc.strip():
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    prose_end = next((i for i in range(len(lines)) if _starts_section(lines, i)), len(lines))
    params = {**_numpy_params(lines), **_sphinx_params(lines), **_google_params(lines)}
    return Docstring("\n".join(lines[:prose_end]).strip(), params)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_numpy_header(lines: list[str], i: int) -> bool:
    return (
        i + 1 < len(lines)
        and bool(lines[i].strip())
        and _NUMPY_UNDERLINE.fullmatch(lines[i + 1].strip()) is not None
    )


def _starts_section(lines: list[str], i: int) -> bool:
    text = lines[i].strip()
    return (
        (_indent(lines[i]) == 0 and _GOOGLE_SECTION.fullmatch(text) is not None)
        or text.startswith(":")
        or _is_numpy_header(lines, i)
    )


def _join(parts: list[str]) -> str:
    return " ".join(part.strip() for part in parts if part.strip())


def _google_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    in_section = False
    entry_indent = -1
    name: str | None = None
    parts: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        indent = _indent(line)
        if indent == 0:
            in_section = _GOOGLE_PARAMS.fullmatch(line.strip()) is not None
            entry_indent, name = -1, None
            continue
        if not in_section:
            continue
        if entry_indent < 0:
            entry_indent = indent
        if indent == entry_indent:
            match = _GOOGLE_ENTRY.fullmatch(line.strip())
            name, parts = (match["name"], [match["desc"]]) if match else (None, [])
        elif indent > entry_indent and name is not None:
            parts.append(line)
        if name is not None:
            params[name] = _join(parts)
    return params


def _sphinx_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    name: str | None = None
    current: list[str] = []
    for line in lines:
        text = line.strip()
        if text.startswith(":"):
            match = _SPHINX_PARAM.fullmatch(text)
            name, current = (match["name"], [match["desc"]]) if match else (None, [])
        elif name is not None and text and _indent(line) > 0:
            current.append(text)
        elif not text or _indent(line) == 0:
            name = None
        if name is not None:
            params[name] = _join(current)
    return params


def _numpy_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    in_section = False
    names: list[str] = []
    current: list[str] = []
    for i, line in enumerate(lines):
        if _is_numpy_header(lines, i):
            in_section = line.strip().lower() in _NUMPY_PARAMS
            names = []
            continue
        if not in_section or not line.strip() or _NUMPY_UNDERLINE.fullmatch(line.strip()):
            continue
        if _indent(line) == 0:
            declared = line.split(":", 1)[0]
            names = [n.strip().lstrip("*") for n in declared.split(",") if n.strip()]
            current = []
        else:
            current.append(line)
        for name in names:
            params[name] = _join(current)
    return params
