"""Server-sent events as a client reads them: frames of ``id`` and ``data`` lines."""

from __future__ import annotations

from typing import NamedTuple


class Frame(NamedTuple):
    id: int | None
    data: str


def sse_frames(text: str) -> list[Frame]:
    """The frames of an SSE body (comments such as keepalives left out)."""
    frames = []
    for block in text.split("\n\n"):
        event_id: int | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("id:"):
                event_id = int(line[3:].strip())
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            frames.append(Frame(event_id, "\n".join(data)))
    return frames


def assert_numbered(frames: list[Frame], first: int = 1) -> None:
    """Every frame has an id, and the ids count up from ``first`` with no gap."""
    assert [f.id for f in frames] == list(range(first, first + len(frames)))
