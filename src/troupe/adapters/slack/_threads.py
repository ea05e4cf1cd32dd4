"""Slack threads as troupe conversations: ids, the threads the bot is in, duplicates.

Nothing here talks to Slack or to the server; it is the bookkeeping the app
needs to decide whether a message starts a turn, and in which conversation.
"""

from __future__ import annotations

__all__ = [
    "Recent",
    "ThreadBook",
    "ThreadLocks",
    "clean_text",
    "conversation_id",
    "split_point",
]

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager

import anyio

_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")
_MAX_ID = 128


def conversation_id(workspace: str, channel: str, thread_ts: str, team: str) -> str:
    """The troupe conversation of one Slack thread talking to one team.

    ``slack:<workspace>:<channel>:<thread ts>:<team>``, within the server's
    rules for ids (up to 128 of letters, digits, ``.``, ``_``, ``:``, ``-``);
    a team name that does not fit is replaced by a digest of it.
    """
    parts = [_UNSAFE.sub("_", p) for p in ("slack", workspace or "-", channel, thread_ts)]
    head = ":".join(parts)
    tail = _UNSAFE.sub("_", team)
    if tail != team or len(head) + 1 + len(tail) > _MAX_ID:
        tail = hashlib.sha256(team.encode()).hexdigest()[:16]
    return f"{head}:{tail}"[:_MAX_ID]


def clean_text(text: str, bot_user_id: str | None) -> str:
    """A Slack message's text as the team should read it: no mention of the bot, unescaped."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text)
    # Slack escapes exactly these three in message text; "&amp;" last, so "&amp;lt;" stays "&lt;".
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def split_point(text: str, room: int, *, can_wait: bool) -> int:
    """Where to cut ``text`` so the first part fits in ``room`` characters.

    Prefers a paragraph break, then a line break, then a space in the second
    half of the room. With nothing to break at, returns 0 when ``can_wait``
    (the caller starts a new message instead) or cuts at ``room``.
    """
    if len(text) <= room:
        return len(text)
    window = text[:room]
    for mark in ("\n\n", "\n", " "):
        at = window.rfind(mark)
        if at >= room // 2:
            return at + len(mark)
    return 0 if can_wait else room


class Recent:
    """Keys seen in the last ``ttl`` seconds, at most ``size`` of them."""

    def __init__(self, *, size: int = 10_000, ttl: float = 3600.0) -> None:
        self.size = size
        self.ttl = ttl
        self._seen: OrderedDict[Hashable, float] = OrderedDict()

    def add(self, key: Hashable) -> bool:
        """Remember ``key``; False if it was already there (a duplicate)."""
        now = time.monotonic()
        while self._seen and (
            len(self._seen) >= self.size or next(iter(self._seen.values())) < now - self.ttl
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


class ThreadBook:
    """The threads the bot takes part in, and the team each one talks to (LRU, bounded)."""

    def __init__(self, *, size: int = 10_000) -> None:
        self.size = size
        self._teams: OrderedDict[tuple[str, str], str] = OrderedDict()

    def team_of(self, channel: str, thread_ts: str) -> str | None:
        team = self._teams.get((channel, thread_ts))
        if team is not None:
            self._teams.move_to_end((channel, thread_ts))
        return team

    def remember(self, channel: str, thread_ts: str, team: str) -> None:
        self._teams[(channel, thread_ts)] = team
        self._teams.move_to_end((channel, thread_ts))
        while len(self._teams) > self.size:
            self._teams.popitem(last=False)


class ThreadLocks:
    """One lock per thread, so a thread's turns run one after the other, in order."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[anyio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = anyio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
