"""Moving teams between troupe and other frameworks: ``troupe import autogen``, ``troupe export``.

The names are imported on first use, so that the ``troupe`` command starts quickly.
"""

from __future__ import annotations

__all__ = ["AutoGenImport", "NotCarried", "export_teams", "import_autogen", "team_config"]

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from troupe.interop.autogen_import import AutoGenImport, NotCarried, import_autogen
    from troupe.interop.export import export_teams, team_config


def __getattr__(name: str) -> Any:
    import importlib

    module = "export" if name in ("export_teams", "team_config") else "autogen_import"
    if name not in __all__:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"troupe.interop.{module}"), name)
