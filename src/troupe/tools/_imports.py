"""``import_tool``: a tool named by its import path, as config files do."""

from __future__ import annotations

__all__ = ["import_object", "import_tool", "imports_already_made"]

import importlib
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from troupe.tools._function import FunctionTool
from troupe.tools._tool import Tool

_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_ONLY_IMPORTED = ContextVar("troupe_only_imported", default=False)


@contextmanager
def imports_already_made() -> Iterator[None]:
    """Inside the block, ``import_object`` resolves only modules this process has already
    imported: checking a config someone typed (the studio's checker) runs no code."""
    token = _ONLY_IMPORTED.set(True)
    try:
        yield
    finally:
        _ONLY_IMPORTED.reset(token)


def import_object(path: str, *, what: str = "object") -> Any:
    """Import ``"package.module:name"`` (the name may be dotted).

    Every failure is a ``ValueError`` whose message fits a config error.
    """
    module_name, colon, attribute = path.partition(":")
    if not colon or not _DOTTED.fullmatch(module_name) or not _DOTTED.fullmatch(attribute):
        raise ValueError(f"invalid {what} path {path!r}: expected 'package.module:function'")
    if _ONLY_IMPORTED.get() and module_name not in sys.modules:
        raise ValueError(
            f"module {module_name!r} is not loaded by this server, and checking here imports "
            "nothing: run 'troupe check' where the module is to check it"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r}: {exc}") from exc
    except Exception as exc:
        raise ValueError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    obj: Any = module
    found: list[str] = []
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            owner = f"'{module_name}:{'.'.join(found)}'" if found else f"module {module_name!r}"
            raise ValueError(f"{owner} has no attribute {part!r}") from None
        found.append(part)
    return obj


def import_tool(path: str) -> Tool:
    """Import ``"package.module:function"`` and return it as a ``Tool``.

    A function (or other callable) becomes a ``FunctionTool``; an object that
    already is a ``Tool`` is returned as is. The part after the colon may be
    dotted (``"pkg.mod:toolkit.search"``). Every failure is a ``ValueError``
    whose message fits a config error.
    """
    obj = import_object(path, what="tool")
    if isinstance(obj, type):
        raise ValueError(f"{path!r} is a class; expected a function or a tool object")
    if isinstance(obj, Tool):
        return obj
    if not callable(obj):
        raise ValueError(f"{path!r} is not callable")
    try:
        return FunctionTool(obj)
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from exc
