"""Fenced code blocks in a message's text."""

from __future__ import annotations

__all__ = ["CodeBlock", "extract_code_blocks"]

import re

import msgspec

# ```lang\n...\n``` ; the language tag may be empty (then the block is skipped).
_FENCE = re.compile(r"^```[ \t]*([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


class CodeBlock(msgspec.Struct, frozen=True, kw_only=True):
    language: str
    code: str


def extract_code_blocks(text: str) -> list[CodeBlock]:
    """The fenced blocks of ``text`` in order, with their (lower-cased) language tags."""
    return [
        CodeBlock(language=match.group(1).lower(), code=match.group(2))
        for match in _FENCE.finditer(text)
        if match.group(2).strip()
    ]
