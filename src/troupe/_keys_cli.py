"""``troupe keys``: create, list and revoke the API keys kept in the store's database.

Every replica using the database accepts a key made here (and stops accepting a
revoked one within ``server.key_cache_seconds``). The key is printed once, alone
on the last line of ``create``'s output; only its SHA-256 is stored.
"""

from __future__ import annotations

__all__ = ["register"]

import argparse
import re
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {value!r}")
    return number


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: up to 64 letters, digits, '.', '_', '-', starting with a letter or digit"
        )
    return value


def _teams(value: str) -> tuple[str, ...]:
    teams = tuple(team.strip() for team in value.split(",") if team.strip())
    if not teams:
        raise argparse.ArgumentTypeError("name at least one team: --teams a,b")
    return teams


def register(commands: Any) -> None:
    keys = commands.add_parser("keys", help="manage the API keys kept in the database")
    sub = keys.add_subparsers(dest="keys_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--config", "-c", help="YAML config whose server.database_url to use (as for serve)"
        )
        parser.add_argument(
            "--database-url", help="the database, instead of the config's or $TROUPE_DATABASE_URL"
        )

    create = sub.add_parser("create", help="make a key; it is printed once, on the last line")
    create.add_argument("--name", required=True, type=_name)
    create.add_argument("--teams", type=_teams, help="the teams it may use (default: every one)")
    create.add_argument("--rpm", type=_positive, help="requests (runs started) per minute")
    create.add_argument("--tpm", type=_positive, help="tokens per minute")
    create.add_argument("--max-concurrent-runs", type=_positive, help="runs in progress at once")
    common(create)
    create.set_defaults(func=_create)

    listing = sub.add_parser("list", help="list the keys (never the keys themselves)")
    common(listing)
    listing.set_defaults(func=_list)

    revoke = sub.add_parser("revoke", help="revoke a key: every replica refuses it within seconds")
    revoke.add_argument("name")
    common(revoke)
    revoke.set_defaults(func=_revoke)


def _with_store(args: argparse.Namespace, work: Callable[[Any], Awaitable[T]]) -> T | None:
    """``work(store)`` on the database ``args`` name; None (the error printed) if it cannot."""
    import anyio

    from troupe.cli import database_url_of
    from troupe.store import StoreError, parse_database_url

    url = database_url_of(args)
    if url is None:
        return None
    try:
        parsed = parse_database_url(url)
    except ValueError as err:
        print(f"troupe keys: {err}", file=sys.stderr)
        return None
    if parsed.kind == "memory":
        print(
            "troupe keys: conversations are kept in memory, so are no keys: name a database "
            "(--database-url or server.database_url)",
            file=sys.stderr,
        )
        return None

    async def run() -> T:
        from troupe.store import SQLConversationStore

        store = SQLConversationStore(parsed)
        try:
            await store.open()
            return await work(store)
        finally:
            await store.close()

    try:
        return anyio.run(run)
    except (ModuleNotFoundError, StoreError) as err:
        message = getattr(err, "message", str(err))
        print(f"troupe keys: {message}", file=sys.stderr)
        return None


def _create(args: argparse.Namespace) -> int:
    from troupe.store import ApiKeyRecord, KeyNameTakenError, key_digest, new_key

    key = new_key()
    record = ApiKeyRecord(
        name=args.name,
        digest=key_digest(key),
        prefix=key[:7],
        teams=args.teams,
        rpm=args.rpm,
        tpm=args.tpm,
        max_concurrent_runs=args.max_concurrent_runs,
    )

    async def work(store: Any) -> bool:
        try:
            await store.add_key(record)
        except KeyNameTakenError as err:
            print(f"troupe keys: {err.message}", file=sys.stderr)
            return False
        return True

    if not _with_store(args, work):
        return 1
    print(f"created key {args.name!r} ({_describe(record)}); it is shown once, here:")
    print(key)
    return 0


def _describe(record: Any) -> str:
    parts = [f"teams: {', '.join(record.teams)}" if record.teams else "every team"]
    if record.rpm:
        parts.append(f"{record.rpm} requests/min")
    if record.tpm:
        parts.append(f"{record.tpm} tokens/min")
    if record.max_concurrent_runs:
        parts.append(f"{record.max_concurrent_runs} runs at once")
    return "; ".join(parts)


def _list(args: argparse.Namespace) -> int:
    async def work(store: Any) -> list[Any]:
        found: list[Any] = await store.list_keys()
        return found

    records = _with_store(args, work)
    if records is None:
        return 1
    if not records:
        print("no keys (troupe keys create --name NAME)")
        return 0
    rows = [("NAME", "KEY", "STATUS", "CREATED", "ALLOWS")]
    for record in records:
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(record.created_at))
        status = "revoked" if record.revoked_at is not None else "active"
        rows.append((record.name, f"{record.prefix}…", status, created, _describe(record)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), end=""
        )
        print(f"  {row[4]}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    async def work(store: Any) -> bool:
        revoked: bool = await store.revoke_key(args.name)
        return revoked

    revoked = _with_store(args, work)
    if revoked is None:
        return 1
    if not revoked:
        print(f"troupe keys: no key in use named {args.name!r}", file=sys.stderr)
        return 1
    print(f"revoked key {args.name!r}: every replica refuses it within seconds")
    return 0
