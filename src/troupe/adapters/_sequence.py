"""Concurrent agents' messages one after another, for front ends with a single stream.

A terminal or a Slack answer is one stream of text: two agents writing at
once (parallel graph branches) would interleave word by word. ``Sequencer``
puts their messages one after another, the way ``content`` does on the wire,
while the front end keeps attributing every piece by its ``message_id``.
"""

from __future__ import annotations

__all__ = ["Sequencer"]

from typing import Generic, TypeVar

T = TypeVar("T")


class _Message(Generic[T]):
    __slots__ = ("ended", "held")

    def __init__(self, *, ended: bool = False) -> None:
        self.held: list[T] = []
        self.ended = ended


class Sequencer(Generic[T]):
    """Items of messages, given back in an order that keeps each message whole.

    The first message to add an item has the floor: its items come back at
    once. Items of other messages are held; when the message with the floor
    ends, the held messages come back whole in the order they began, and the
    first one still open takes the floor. An item of no message (``key``
    None) comes back at once when nobody has the floor, else after the
    messages before it.
    """

    def __init__(self) -> None:
        self._queue: list[_Message[T]] = []  # _queue[0], if any, has the floor
        self._open: dict[str, _Message[T]] = {}

    def add(self, key: str | None, item: T) -> list[T]:
        """``item`` of message ``key``; returns the items to show now."""
        if key is None:
            message: _Message[T] = _Message(ended=True)
            self._queue.append(message)
        elif key in self._open:
            message = self._open[key]
        else:
            message = self._open[key] = _Message()
            self._queue.append(message)
        if message is not self._queue[0]:
            message.held.append(item)
            return []
        if message.ended:
            self._queue.pop(0)
        return [item]

    def end(self, key: str) -> list[T]:
        """Message ``key`` ended; returns the held items this lets through."""
        message = self._open.pop(key, None)
        if message is None:
            return []
        message.ended = True
        if message is not self._queue[0]:
            return []
        self._queue.pop(0)
        out: list[T] = []
        while self._queue:
            head = self._queue[0]
            out.extend(head.held)
            head.held.clear()
            if not head.ended:
                break
            self._queue.pop(0)
        return out

    def drain(self) -> list[T]:
        """Everything held, in order (the turn is over, or it failed)."""
        out = [item for message in self._queue for item in message.held]
        self._queue.clear()
        self._open.clear()
        return out
