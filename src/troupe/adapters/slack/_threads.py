"""Slack threads as troupe conversations: ids, duplicates, message text.

Nothing here talks to Slack or to the server. A thread's conversation id is
made from the thread alone, so no map from threads to conversations is kept:
whether the bot takes part in a thread, and with which team, is the server's
to say (the conversation exists, and names its team).
"""

from __future__ import annotations

__all__ = [
    "Recent",
    "ThreadLocks",
    "clean_text",
    "conversation_id",
    "split_point",
]

import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager

import anyio

_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")
_MAX_ID = 128


def conversation_id(workspace: str, channel: str, thread_ts: str) -> str:
    """The troupe conversation of one Slack thread: ``slack:<workspace>:<channel>:<thread ts>``.

    Within the server's rules for ids (up to 128 of letters, digits, ``.``,
    ``_``, ``:``, ``-``); every adapter process derives the same id, so any of
    them, restarted or not, continues the thread.
    """
    parts = [_UNSAFE.sub("_", p) for p in ("slack", workspace or "-", channel, thread_ts)]
    return ":".join(parts)[:_MAX_ID]


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
