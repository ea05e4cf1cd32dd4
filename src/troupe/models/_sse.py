"""Server-sent events, split from a byte stream: what OpenAI and Anthropic stream."""

from __future__ import annotations

__all__ = ["SSEParser"]


class SSEParser:
    """Splits a byte stream into the ``data`` payloads of its server-sent events.

    ``event:``, ``id:``, ``retry:`` and comment lines are dropped: both
    providers repeat the event's type inside its JSON data.
    """

    __slots__ = ("_data", "_tail")

    def __init__(self) -> None:
        self._tail = b""
        self._data: list[bytes] = []

    @property
    def idle(self) -> bool:
        """No event begun and not ended: the next block starts a new one."""
        return not self._tail and not self._data

    def feed(self, block: bytes) -> list[bytes]:
        # The usual read: whole events of one ``data: `` line each (OpenAI's stream, however
        # many chunks one read brought), maybe after the rest of an event the last read cut
        # and before the start of one it cuts: split without a loop over its lines. Split
        # at each event's start, such events hold no newline but the two that end each.
        pending = self._tail + block if self._tail else block
        if not self._data and pending.startswith(b"data: ") and b"\r" not in pending:
            end = pending.rfind(b"\n\n")
            if end >= 0:
                payloads = pending[:end].split(b"\n\ndata: ")
                if b"\n" not in b"".join(payloads):  # (a copy and a memchr: counting is slower)
                    payloads[0] = payloads[0][6:]
                    self._tail = pending[end + 2 :]
                    return payloads
            elif pending.find(b"\n") in (-1, len(pending) - 1):  # one event's line so far
                self._tail = pending
                return []
        return self._lines(pending)

    def _lines(self, pending: bytes) -> list[bytes]:
        """Any other read (after the unread rest of the last one), line by line."""
        lines = pending.split(b"\n")
        self._tail = lines.pop()
        events: list[bytes] = []
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    events.append(self._data[0] if len(self._data) == 1 else b"\n".join(self._data))
                    self._data = []
            elif line.startswith(b"data:"):
                self._data.append(line[6:] if line.startswith(b"data: ") else line[5:])
        return events

    def end(self) -> list[bytes]:
        """Payloads of an unterminated last event, for servers that skip the blank line."""
        return self.feed(b"\n\n") if self._tail or self._data else []
