"""Database URLs: what users write, what SQLAlchemy needs, what logs may show."""

from __future__ import annotations

__all__ = ["DEFAULT_DATABASE_URL", "MEMORY", "DatabaseUrl", "parse_database_url"]

import re
from pathlib import Path
from typing import Literal

import msgspec

DEFAULT_DATABASE_URL = "sqlite:///.troupe/troupe.db"
MEMORY = "memory"

_SCHEME = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*):(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_SQLITE = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}
_POSTGRES = {"postgres", "postgresql", "postgresql+asyncpg"}


class DatabaseUrl(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["sqlite", "postgresql", "memory"]
    # The URL for SQLAlchemy (PostgreSQL: with the asyncpg driver); "" for memory.
    sqlalchemy: str
    # For logs and messages: no password.
    display: str
    # SQLite: the database file.
    path: Path | None = None


def parse_database_url(url: str, *, base_dir: Path | None = None) -> DatabaseUrl:
    """Understand ``sqlite:///relative/path.db``, ``sqlite:////abs/path.db``,
    ``postgresql://user:pass@host:5432/db`` (or ``postgres://``), and ``memory``.

    A relative SQLite path is taken from ``base_dir`` (default: the working
    directory). Raises ``ValueError`` with a message fit for a config error.
    """
    url = url.strip()
    if url.lower() in (MEMORY, "memory:", "memory://"):
        return DatabaseUrl(kind="memory", sqlalchemy="", display=MEMORY)
    match = _SCHEME.match(url)
    scheme = match.group("scheme").lower() if match else ""
    rest = match.group("rest") if match else ""
    if scheme in _SQLITE:
        if not rest.startswith("///"):
            raise ValueError(
                f"{url!r} is not a SQLite URL with a path: use sqlite:///relative.db "
                "or sqlite:////absolute/path.db"
            )
        target, _, query = rest[3:].partition("?")
        if target in ("", ":memory:"):
            raise ValueError(
                f"{url!r}: an in-memory SQLite database would be empty on every connection; "
                "use 'memory' for a store that keeps nothing"
            )
        path = Path(target)
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        path = path.resolve()
        suffix = f"?{query}" if query else ""
        return DatabaseUrl(
            kind="sqlite",
            sqlalchemy=f"sqlite:///{path}{suffix}",
            display=f"sqlite:///{path}",
            path=path,
        )
    if scheme in _POSTGRES:
        if not rest.startswith("//"):
            raise ValueError(f"{_redact(url)!r} is not a PostgreSQL URL: use postgresql://host/db")
        return DatabaseUrl(
            kind="postgresql",
            sqlalchemy=f"postgresql+asyncpg:{rest}",
            display=_redact(f"postgresql:{rest}"),
        )
    raise ValueError(
        f"unsupported database URL {_redact(url)!r}: use sqlite:///path.db, "
        "postgresql://user@host/db or memory"
    )


def _redact(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"(//[^:/@]*):[^@/]*@", r"\1:***@", url)
