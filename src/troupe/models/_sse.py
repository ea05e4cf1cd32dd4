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
        # The usual block: whole events of one ``data: `` line each (OpenAI's stream, however
        # many chunks one read brought), split without a loop over its lines. Split at each
        # event's start, such a block holds no newline but the two that end each event.
        if (
            block.startswith(b"data: ")
            and block.endswith(b"\n\n")
            and not self._tail
            and not self._data
            and b"\r" not in block
        ):
            payloads = block[:-2].split(b"\n\ndata: ")
            if b"\n" not in b"".join(payloads):  # (a copy and a memchr: counting is slower)
                payloads[0] = payloads[0][6:]
                return payloads
        lines = (self._tail + block).split(b"\n") if self._tail else block.split(b"\n")
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
