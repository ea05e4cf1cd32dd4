"""The top of a written config: its sections, the empty ones left out."""

from __future__ import annotations

__all__ = ["config_of"]

from collections.abc import Mapping
from typing import Any


def config_of(
    models: Mapping[str, Any], executors: Mapping[str, Any], teams: Mapping[str, Any]
) -> dict[str, Any]:
    """``models:``, ``executors:`` (when there are any) and ``teams:``, in that order."""
    config: dict[str, Any] = {}
    if models:
        config["models"] = dict(models)
    if executors:
        config["executors"] = dict(executors)
    config["teams"] = dict(teams)
    return config
