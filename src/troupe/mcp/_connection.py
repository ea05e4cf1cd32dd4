"""One MCP server's session for this process: opened once, shared by runs, reopened when it dies.

The SDK's transports and ``ClientSession`` are context managers whose task
groups must be entered and exited by the same task, so each session lives in
a task of its own (``_own``) in the task group given to ``serve``. Callers
from any run use the session; a call that finds it dead (the process exited,
the stream closed) marks it so, and the next call opens a new one.

A call is bounded by the server's ``timeout``. A call that times out, or whose
run is cancelled, tells the server with ``notifications/cancelled``.
``notifications/tools/list_changed`` makes the next listing ask the server again.
"""

from __future__ import annotations

__all__ = ["McpCallError", "McpConnection", "McpUnavailableError"]

import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import ClientSession, McpError, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.message import SessionMessage

from troupe.errors import TroupeError

if TYPE_CHECKING:
    from troupe.config.mcp import McpServerSpec

logger = logging.getLogger("troupe.mcp")
# Opening a session (starting a server process) may take longer than a call.
CONNECT_SECONDS = 30.0
_GONE = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)


class McpUnavailableError(TroupeError):
    """An MCP server cannot be reached (not started, down, or not answering)."""

    status_code = 502
    error_type = "upstream_error"
    code = "mcp_server_unavailable"


class McpCallError(Exception):
    """A tool call that failed on the way (timeout, closed connection, protocol error)."""


class McpConnection:
    """The session with MCP server ``name`` of this process."""

    def __init__(self, name: str, spec: McpServerSpec) -> None:
        self.name = name
        self.spec = spec
        self._session: ClientSession | None = None
        self._closing: anyio.Event | None = None
        # The calls in flight on the open session: cancelled when it dies under them.
        self._calls: set[anyio.CancelScope] = set()
        self._tools: list[types.Tool] | None = None
        self._lock = anyio.Lock()
        self._tg: TaskGroup | None = None
        self.opened = 0  # sessions opened so far (a reopened session counts again)

    def __repr__(self) -> str:
        return f"McpConnection({self.name!r}, {self.spec.transport})"

    @property
    def timeout(self) -> float:
        return self.spec.timeout

    def serve(self, tg: TaskGroup) -> None:
        """Open sessions as tasks of ``tg`` (from now until ``tg`` ends)."""
        self._tg = tg

    def close(self) -> None:
        """End the session (its task exits its contexts); the next use opens a new one."""
        if self._closing is not None:
            self._closing.set()
        self._session = None
        self._closing = None

    async def session(self) -> ClientSession:
        """The open session, opened now if there is none."""
        session = self._session
        if session is not None:
            return session
        async with self._lock:
            if self._session is None:
                if self._tg is None:
                    raise McpUnavailableError(
                        f"MCP server {self.name!r} is not started: serve the teams with troupe "
                        "(or use `async with troupe.mcp.serving(teams)`)"
                    )
                try:
                    await self._tg.start(self._own)
                except Exception as err:  # whatever the transport raised: the server is down
                    raise McpUnavailableError(
                        f"MCP server {self.name!r} ({self._where()}): {_reason(err)}"
                    ) from err
            assert self._session is not None
            return self._session

    def _where(self) -> str:
        spec = self.spec
        return spec.url or " ".join([spec.command or "", *spec.args]).strip()

    def _transport(self) -> Any:
        spec = self.spec
        if spec.command is not None:
            params = StdioServerParameters(
                command=spec.command, args=spec.args, env=spec.env or None, cwd=spec.cwd
            )
            return stdio_client(params)
        assert spec.url is not None
        return _HttpTransport(spec.url, spec.headers)

    async def _own(self, *, task_status: TaskStatus[None]) -> None:
        """Open a session, hold it until it is closed or dies; run as a task of ``serve``."""
        started = False
        closing = anyio.Event()
        calls: set[anyio.CancelScope] = set()
        try:
            async with AsyncExitStack() as stack:
                read, write, *_ = await stack.enter_async_context(self._transport())
                into, session_read = anyio.create_memory_object_stream[SessionMessage | Exception]()
                tg = await stack.enter_async_context(anyio.create_task_group())
                tg.start_soon(_pump, read, into, closing, calls)
                session = await stack.enter_async_context(
                    ClientSession(session_read, write, message_handler=self._on_message)
                )
                with anyio.fail_after(max(self.timeout, CONNECT_SECONDS)):
                    await session.initialize()
                    self._tools = await _list_all(session)
                self._session, self._closing, self._calls = session, closing, calls
                self.opened += 1
                started = True
                task_status.started()
                await closing.wait()
                tg.cancel_scope.cancel()
        except Exception as err:
            if not started:
                raise
            logger.warning("MCP server %r: the session ended: %s", self.name, _reason(err))
        finally:
            if self._closing is closing:
                self._session, self._closing = None, None

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, types.ServerNotification) and isinstance(
            message.root, types.ToolListChangedNotification
        ):
            self._tools = None

    async def list_tools(self) -> list[types.Tool]:
        """The server's tools (asked again after ``tools/list_changed``)."""
        session = await self.session()
        tools = self._tools
        if tools is None:
            try:
                with anyio.fail_after(self.timeout):
                    tools = self._tools = await _list_all(session)
            except (McpError, TimeoutError, *_GONE) as err:
                self._died(session, err)
                raise McpUnavailableError(
                    f"MCP server {self.name!r}: listing its tools failed: {_reason(err)}"
                ) from err
        return tools

    async def call(self, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """Call ``tool``; raises ``McpCallError`` when no result came back."""
        try:
            session = await self.session()
        except McpUnavailableError as err:
            raise McpCallError(err.message) from err
        calls = self._calls
        with anyio.CancelScope() as died:
            calls.add(died)
            try:
                return await self._call(session, tool, arguments)
            finally:
                calls.discard(died)
        self._died(session, McpCallError("the connection closed"))
        raise McpCallError(f"MCP server {self.name!r}: the connection closed during {tool}")

    async def _call(
        self, session: ClientSession, tool: str, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        # The id ``call_tool`` gives its request, to name it in notifications/cancelled.
        request_id: int = session._request_id
        closing = self._closing
        try:
            with anyio.fail_after(self.timeout):
                return await session.call_tool(tool, arguments)
        except TimeoutError:
            await _cancel(session, request_id, f"no result within {self.timeout:g}s")
            raise McpCallError(
                f"MCP server {self.name!r} did not answer {tool} within {self.timeout:g}s"
            ) from None
        except anyio.get_cancelled_exc_class():
            if closing is not None and not closing.is_set():  # (a dead session hears nothing)
                await _cancel(session, request_id, "the run was cancelled")
            raise
        except McpError as err:
            if err.error.code == types.CONNECTION_CLOSED:
                self._died(session, err)
            raise McpCallError(f"MCP server {self.name!r}: {err.error.message}") from err
        except _GONE as err:
            self._died(session, err)
            raise McpCallError(f"MCP server {self.name!r}: the connection closed") from err

    def _died(self, session: ClientSession, err: BaseException) -> None:
        if self._session is session:
            logger.warning("MCP server %r: %s; reopening on next use", self.name, _reason(err))
            self.close()


async def _pump(
    read: MemoryObjectReceiveStream[SessionMessage | Exception],
    into: MemoryObjectSendStream[SessionMessage | Exception],
    closing: anyio.Event,
    calls: set[anyio.CancelScope],
) -> None:
    """Pass the transport's messages to the session; when they end, the session is dead
    (and the calls waiting on it fail now rather than at their timeout)."""
    try:
        async with read, into:
            async for message in read:
                await into.send(message)
    except _GONE:
        pass
    finally:
        closing.set()
        for scope in calls:
            scope.cancel()


async def _cancel(session: ClientSession, request_id: int, reason: str) -> None:
    """Tell the server to stop request ``request_id`` (shielded: we are being cancelled)."""
    notification = types.ClientNotification(
        types.CancelledNotification(
            params=types.CancelledNotificationParams(requestId=request_id, reason=reason)
        )
    )
    with anyio.CancelScope(shield=True), anyio.move_on_after(5):
        try:
            await session.send_notification(notification)
        except (*_GONE, OSError, httpx.HTTPError):
            pass


async def _list_all(session: ClientSession) -> list[types.Tool]:
    capabilities = session.get_server_capabilities()
    if capabilities is not None and capabilities.tools is None:
        return []  # a server of prompts or resources only
    tools: list[types.Tool] = []
    cursor: str | None = None
    while True:
        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
        tools.extend(page.tools)
        cursor = page.nextCursor
        if not cursor:
            return tools


class _HttpTransport:
    """``streamable_http_client`` with the server's headers, and the httpx client it uses."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Any:
        client = await self._stack.enter_async_context(create_mcp_http_client(self.headers))
        return await self._stack.enter_async_context(
            streamable_http_client(self.url, http_client=client)
        )

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.__aexit__(*exc)  # type: ignore[arg-type]


def _reason(err: BaseException) -> str:
    if isinstance(err, McpError):
        return err.error.message
    if isinstance(err, TimeoutError):
        return "no answer in time"
    if isinstance(err, BaseExceptionGroup):
        return "; ".join(_reason(e) for e in err.exceptions)
    return str(err) or type(err).__name__
