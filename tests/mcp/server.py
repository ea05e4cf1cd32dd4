"""A real MCP server for the tests, built with the SDK's FastMCP.

``python server.py stdio <dir>`` serves over stdio; ``python server.py http <dir> <port>``
over streamable HTTP at ``/mcp``. ``<dir>`` is where it leaves notes the tests read:
``cancelled-<tag>`` when a call was cancelled, ``pid`` with its process id.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
from mcp.server.fastmcp import Context, FastMCP, Image
from pydantic import BaseModel

mode, notes = sys.argv[1], Path(sys.argv[2])
port = int(sys.argv[3]) if len(sys.argv) > 3 else 8000
(notes / "pid").write_text(str(os.getpid()))

mcp = FastMCP("testing", host="127.0.0.1", port=port, log_level="WARNING")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@mcp.tool()
def secret() -> str:
    """A tool the allow-list keeps from models."""
    return "the secret"


@mcp.tool()
def delete_all(folder: str) -> str:
    """Delete every file of a folder (needs approval)."""
    (notes / "deleted").write_text(folder)
    return f"deleted everything in {folder}"


@mcp.tool()
def fail(why: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot do it: {why}")


class Weather(BaseModel):
    city: str
    celsius: float


@mcp.tool(structured_output=True)
def weather(city: str) -> Weather:
    """The weather, as structured content."""
    return Weather(city=city, celsius=21.5)


@mcp.tool()
def picture() -> Image:
    """A tiny PNG."""
    return Image(data=b"\x89PNG\r\n\x1a\n" + b"0" * 100, format="png")


@mcp.tool()
async def wait(tag: str) -> str:
    """Never answers; notes when it starts and when it is cancelled."""
    (notes / f"started-{tag}").write_text("yes")
    try:
        await anyio.sleep_forever()
    finally:
        (notes / f"cancelled-{tag}").write_text("yes")
    return "unreachable"


@mcp.tool()
def crash() -> str:
    """The server process dies mid-call."""
    os._exit(3)


@mcp.tool()
async def grow(ctx: Context) -> str:  # type: ignore[type-arg]
    """Adds a tool ``shout`` and tells the client its tools changed."""

    def shout(text: str) -> str:
        """Upper-case text."""
        return text.upper()

    mcp.add_tool(shout)
    await ctx.session.send_tool_list_changed()
    return "grown"


if __name__ == "__main__":
    mcp.run("stdio" if mode == "stdio" else "streamable-http")
