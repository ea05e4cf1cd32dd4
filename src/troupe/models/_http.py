"""One streamed HTTP POST, over aiohttp (asyncio) or an httpx client (trio, or one passed in).

A provider that sends its own requests needs little of an HTTP client: post a
body, read the status and headers, iterate the body's bytes as they come,
and close — releasing the connection for reuse when the body was read to its
end, closing it otherwise, so that the server sees a cancelled request go.
``Transport`` is that, for the two clients troupe supports: aiohttp on
asyncio (the fastest here, and what the relay uses: ``bench/``), and an
``httpx2.AsyncClient`` on trio or when one is passed in. Connection pools are
made on first use and bound to that event loop.

A request that cannot be sent raises ``TransportError`` (connection refused,
a timeout: ``timed_out`` tells); a body that breaks off raises the client's
own error, one of ``transport_errors()``, so that the per-chunk loop adds no
layer of its own.
"""

from __future__ import annotations

__all__ = ["HttpResponse", "Transport", "TransportError", "transport_errors"]

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final

import sniffio

from troupe.models._upstream import is_timeout

if TYPE_CHECKING:
    import aiohttp
    import httpx2

# The OpenAI SDK's pool: up to 1,000 connections, 100 kept alive.
_MAX_CONNECTIONS: Final = 1000
_KEEPALIVE: Final = 100
# Error bodies are read for their message; a misbehaving server's body is not read whole.
_MAX_ERROR_BODY: Final = 64 * 1024


class TransportError(Exception):
    """The request could not be sent, or no answer came (``timed_out``); caused by the
    client's own error."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause) or type(cause).__name__)
        self.timed_out = is_timeout(cause)


class HttpResponse:
    """A response whose body is still to be read (``body``) and then closed (``aclose``).

    ``body`` yields the bytes as they arrive, raw: a failure mid-body raises what the client
    raises (one of ``transport_errors()``), for the provider to map.
    """

    __slots__ = ("_close", "_close_now", "body", "headers", "reason", "status")

    def __init__(
        self,
        status: int,
        reason: str,
        headers: Mapping[str, str],
        body: AsyncIterator[bytes],
        close: Callable[[bool], Awaitable[None]],
        close_now: Callable[[bool], None] | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers  # case-insensitive (aiohttp's and httpx's mappings are)
        self.body = body
        self._close = close
        self._close_now = close_now

    async def text(self) -> str:
        """The body (up to 64 KiB) as text: for an error status's message."""
        read = bytearray()
        with contextlib.suppress(*transport_errors()):  # what arrived is the message
            async for block in self.body:
                read += block
                if len(read) >= _MAX_ERROR_BODY:
                    break
        return bytes(read[:_MAX_ERROR_BODY]).decode("utf-8", "replace")

    async def aclose(self, *, whole: bool = False) -> None:
        """Give the connection back when the body was read ``whole``, else close it (the
        server sees the request go)."""
        await self._close(whole)

    def close_now(self, *, whole: bool = False) -> bool:
        """``aclose`` at once, when the client can (aiohttp): nothing to await, nothing a
        cancellation could interrupt. False when the close must be awaited."""
        if self._close_now is None:
            return False
        self._close_now(whole)
        return True


def transport_errors() -> tuple[type[BaseException], ...]:
    """What the HTTP clients raise for a connection refused, lost or timed out."""
    found: list[type[BaseException]] = [OSError, asyncio.TimeoutError]
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None:
        found.append(aiohttp.ClientError)
    httpx2 = sys.modules.get("httpx2")
    if httpx2 is not None:
        found.append(httpx2.RequestError)
    return tuple(found)


class Transport:
    """POSTs with a streamed response. ``client``: an ``httpx2.AsyncClient`` to send with
    (left open by ``aclose``); else aiohttp on asyncio, or an httpx2 client of its own on trio.
    ``timeout`` bounds the connect and every wait for data (aiohttp's body: within twice it)."""

    def __init__(self, timeout: float, client: httpx2.AsyncClient | None = None) -> None:
        self.timeout = timeout
        self._given = client
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._own_httpx: httpx2.AsyncClient | None = None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        """Send; the response's status and headers are in, its body is still to read."""
        try:
            if self._given is not None:
                return await self._post_httpx(self._given, url, body, headers)
            if sniffio.current_async_library() == "asyncio":
                return await self._post_aiohttp(url, body, headers)
            return await self._post_httpx(self._httpx(), url, body, headers)
        except transport_errors() as exc:
            raise TransportError(exc) from exc

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
        own, self._own_httpx = self._own_httpx, None
        if own is not None:
            await own.aclose()

    # --- aiohttp ---

    def _aiohttp(self) -> aiohttp.ClientSession:
        import urllib.request  # aiohttp imports it too

        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._session_loop is not loop:
            # A session of another (finished) event loop cannot be closed from this one.
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=_MAX_CONNECTIONS, keepalive_timeout=5.0),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.timeout, sock_read=self.timeout
                ),
                skip_auto_headers=("User-Agent",),
                # HTTP(S)_PROXY and NO_PROXY, as httpx (and so the SDKs) honour them. Looked
                # up per request (0.7 ms of CPU each): only when a proxy is set at all.
                trust_env=bool(urllib.request.getproxies()),
            )
            self._session_loop = loop
        return session

    async def _post_aiohttp(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> HttpResponse:
        response = await self._aiohttp().post(url, data=body, headers=headers)
        unwatch = _watch_body(response, self.timeout)

        def close_now(whole: bool) -> None:
            unwatch()
            if whole:
                response.release()
            else:
                response.close()

        async def close(whole: bool) -> None:
            close_now(whole)

        return HttpResponse(
            response.status,
            response.reason or "",
            response.headers,
            response.content.iter_any(),
            close,
            close_now,
        )

    # --- httpx2 ---

    def _httpx(self) -> httpx2.AsyncClient:
        if self._own_httpx is None:
            import httpx2

            limits = httpx2.Limits(
                max_connections=_MAX_CONNECTIONS, max_keepalive_connections=_KEEPALIVE
            )
            self._own_httpx = httpx2.AsyncClient(limits=limits)
        return self._own_httpx

    async def _post_httpx(
        self, client: httpx2.AsyncClient, url: str, body: bytes, headers: Mapping[str, str]
    ) -> HttpResponse:
        import httpx2

        request = client.build_request(
            "POST", url, content=body, headers=headers, timeout=httpx2.Timeout(self.timeout)
        )
        response = await client.send(request, stream=True)

        async def close(_whole: bool) -> None:
            await response.aclose()

        return HttpResponse(
            response.status_code,
            response.reason_phrase,
            response.headers,
            response.aiter_bytes(),
            close,
        )


def _watch_body(response: aiohttp.ClientResponse, timeout: float) -> Callable[[], None]:
    """Bound the body's reads by ``timeout`` with a timer armed once a period, not once a
    read; returns what stops it.

    aiohttp's ``sock_read`` bounded the wait for the headers; for the body it would make a
    timer and cancel one at every read (a good part of a read's own cost at a model's pace).
    This turns that off for this request and checks the body's progress every ``timeout``
    seconds instead: a body that gets no data for ``timeout`` seconds fails within twice
    that, with the error aiohttp's own timeout raises. As aiohttp's, it does not count
    the time the body is held back because its reader is behind (reading paused).
    """
    connection = response.connection
    transport = connection.transport if connection is not None else None
    if connection is None or connection.protocol is None or transport is None:
        return _nothing  # the body is in already
    # The timer the headers' read armed stands until the body's first read.
    connection.protocol.read_timeout = None
    return _BodyWatch(response, transport, timeout).stop


class _BodyWatch:
    """A body's progress, checked every ``timeout`` seconds until ``stop``. Its timer and it
    hold each other only while armed (no cycle, with the response in it, left to the
    garbage collector once the body is read)."""

    __slots__ = ("_handle", "_loop", "_response", "_seen", "_timeout", "_transport")

    def __init__(
        self, response: aiohttp.ClientResponse, transport: asyncio.Transport, timeout: float
    ) -> None:
        self._response = response
        self._transport = transport
        self._timeout = timeout
        self._seen = response.content.total_bytes
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(timeout, self._check)

    def _check(self) -> None:
        self._handle = None
        response, content = self._response, self._response.content
        if content.is_eof() or content.exception() is not None or response.closed:
            return
        total, reading = content.total_bytes, self._transport.is_reading()
        if total == self._seen and reading:
            import aiohttp

            content.set_exception(aiohttp.SocketTimeoutError("Timeout on reading data from socket"))
            response.close()  # the server sees the request go
            return
        self._seen = total if reading else -1  # paused: a whole period once it reads again
        self._handle = self._loop.call_later(self._timeout, self._check)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def _nothing() -> None:
    pass
