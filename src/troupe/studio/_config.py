"""The config page's two halves: the loaded config with its secrets masked, and the checker.

The checker runs what ``troupe check`` runs (``read_teams``) on text a person types; it
never writes a file. ``${VAR}`` is checked for being set, and a set variable's value never
reaches the answer: it is read as ``${VAR}`` itself.
"""

from __future__ import annotations

__all__ = ["MAX_CHECK_BYTES", "check_text", "masked_config"]

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from troupe.config import read_teams
from troupe.config.load import parse_yaml
from troupe.errors import ConfigError
from troupe.tools import imports_already_made

MASK = "********"
# The largest config the checker reads (a config is a few kilobytes; more is someone's test).
MAX_CHECK_BYTES = 256 * 1024
# The last word of a name such as ``api_key``, ``X-Api-Key``, ``api-key``, ``auth_token``,
# ``clientSecret``, ``accessToken`` (camelCase words are split first: ``_words``).
_SECRET = re.compile(
    r"(^|[-_])(api[-_]?keys?|keys?|secret|token|password|passwd|authorization|auth)$", re.I
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# A credential written in a value: ``Authorization: Basic ...``, ``Bearer sk-1...`` (with a
# digit: "bearer of news" in a prompt stays).
_AUTH_VALUE = re.compile(
    r"(\bauthorization\s*[:=]\s*(?:(?:bearer|basic|token)\s+)?|\bbearer\s+(?=[^\s\d]*\d))"
    r"(?!\$\{)[^\s\"',;}]+",
    re.I,
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")
_ENV_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$")


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if isinstance(value, str):
        if (
            _SECRET.search(_CAMEL.sub("_", key))
            and not _ENV_ONLY.match(value)
            and value not in ("", "none")
        ):
            return MASK
        value = _AUTH_VALUE.sub(rf"\1{MASK}", value)
        return _URL_PASSWORD.sub(rf"\1{MASK}\3", value)
    return value


def masked_config(text: str) -> str:
    """The config's YAML with keys, tokens, passwords and URL passwords masked (comments are
    not kept: a comment can hold a secret too)."""
    try:
        data = parse_yaml(text)
    except ConfigError:
        return "# the config file is not valid YAML any more"
    masked = _mask(data)
    return yaml.safe_dump(masked, sort_keys=False, allow_unicode=True, width=100)


class _Unrevealed(Mapping[str, str]):
    """The environment as the checker sees it: which variables are set, not their values."""

    def __getitem__(self, name: str) -> str:
        if name not in os.environ:
            raise KeyError(name)
        return "${" + name + "}" if os.environ[name] else ""

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)


def check_text(text: str) -> dict[str, Any]:
    """``troupe check`` on ``text``: ``ok``, every error with its path, the teams it builds."""
    try:
        # Whoever types here runs no code on the server: only modules it loaded resolve.
        with imports_already_made():
            spec, teams = read_teams(text, env=_Unrevealed(), source="teams.yaml")
    except ConfigError as err:
        issues = [{"path": issue.path, "message": issue.message} for issue in err.issues]
        return {"ok": False, "errors": issues, "teams": [], "models": []}
    return {"ok": True, "errors": [], "teams": list(teams), "models": list(spec.models)}
