"""HTTP/1.1 connections for `fetch`: h11 over asyncio, kept alive per origin, behind the egress guard.

`fetch` decides what to ask for (redirects, retries, caps, decoding, cookies); this module sends
one GET over a connection and streams the answer back. h11 does the HTTP/1.1 (framing, chunked
bodies, keep-alive rules); this module owns the sockets:

- `ConnectionPool.request` reuses an idle connection to the same origin, or dials a new one. It
  resolves the host itself and dials only addresses the `AddressPolicy` allows (the guard sits
  in the connection, on the address actually dialled, so DNS tricks and redirects cannot reach
  private addresses). TLS is verified, with the URL's host for SNI and the certificate check.
- A `Response` streams its body (`chunks`); reading pauses once 256 KiB wait unread, so a fast
  server cannot fill memory. A connection goes back to the pool only when its answer was read to
  the end and both sides may go on; anything else (a body left unread, `Connection: close`, an
  error) closes it.
- A request on a kept-alive connection that the server had already closed (the race every
  HTTP/1.1 client meets) is sent once more on a new connection, as long as nothing of an answer
  came back: a GET is safe to repeat.
- Errors are `ConnectFailed`, `WireTimeout` (per read and per connect) and `BrokenResponse`
  (malformed HTTP, or the connection lost mid-answer); the guard raises `Refused`.

Written for the crawl's CPU budget: httpcore's pool, with its anyio layers, cost three times the
CPU per page that this does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import h11

MAX_HEAD = 100 * 1024  # the most bytes of a response's status line and headers
HIGH_WATER = 256 * 1024  # unread bytes at which the socket stops being read

Origin = tuple[str, str, int]  # scheme, host, port


class WireError(Exception):
    """A request failed on the connection; the message says how."""


class ConnectFailed(WireError):
    """The host could not be resolved, reached, or spoken TLS with."""


class WireTimeout(WireError):
    """No progress within the read or connect timeout."""


class BrokenResponse(WireError):
    """The answer broke HTTP/1.1, or the connection ended mid-answer."""


class Refused(WireError):
    """The egress guard: the host resolves to an address the policy does not allow."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to non-public address {address}")
        self.host = host
        self.address = address


# --- the egress guard ------------------------------------------------------------------------------


def is_public_address(address: str) -> bool:
    """True when an IP address is globally routable (not loopback, private, link-local, ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_address(str(ip.ipv4_mapped))
        if ip.sixtofour is not None:
            return is_public_address(str(ip.sixtofour))
        if ip.teredo is not None:
            return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


class AddressPolicy:
    """Which addresses may be dialled: public ones, plus the allowed networks, or all."""

    def __init__(self, allow_private: bool = False, allow_networks: Iterable[str] = ()) -> None:
        self.allow_private = allow_private
        self.networks = [ipaddress.ip_network(n, strict=False) for n in allow_networks]

    def allows(self, address: str) -> bool:
        if self.allow_private or is_public_address(address):
            return True
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


# --- one connection ----------------------------------------------------------------------------------


def _expire(waiter: asyncio.Future[None], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(WireTimeout(f"timed out reading the answer (nothing for {timeout:g}s)"))


class _Connection(asyncio.Protocol):
    """One socket: h11's state for it, the bytes received and not yet parsed, and the task
    waiting for more."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False  # the peer closed its side (or the connection is gone)
        self.eof_parsed = False  # ... and h11 has been told
        self.lost: Exception | None = None
        self.paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.idle_since = 0.0
        self.answered = False  # a byte of an answer to the current request has arrived

    # asyncio's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.answered = True
        if len(self.buffer) >= HIGH_WATER and not self.paused and self.transport is not None:
            self.transport.pause_reading()
            self.paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport: nothing more is sent on a half-closed connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.lost = exc
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    # the request's side

    @property
    def reusable(self) -> bool:
        """Idle, open, and both sides of h11 ready for a new request."""
        return (
            not self.eof
            and not self.buffer
            and self.transport is not None
            and not self.transport.is_closing()
            and self.h11.our_state is h11.IDLE
            and self.h11.their_state is h11.IDLE
        )

    def send(self, target: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        assert self.transport is not None
        self.answered = False
        try:
            data = self.h11.send(h11.Request(method=b"GET", target=target, headers=headers))
            end = self.h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise BrokenResponse(f"cannot send the request: {exc}") from None
        self.transport.write(data + end if end else data)

    async def next_event(self, timeout: float | None) -> Any:
        """h11's next event, reading from the socket as needed (each wait at most `timeout`)."""
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                if self.eof_parsed:  # the answer stopped short
                    raise BrokenResponse(f"{self._lost_detail()} ({exc})") from None
                raise BrokenResponse(f"malformed response ({exc})") from None
            if event is not h11.NEED_DATA:
                return event
            if self.buffer:
                data = bytes(self.buffer)
                self.buffer.clear()
                if self.paused and self.transport is not None:
                    self.paused = False
                    self.transport.resume_reading()
                self.h11.receive_data(data)
                continue
            if self.eof:
                if self.eof_parsed:
                    raise BrokenResponse(self._lost_detail())
                self.eof_parsed = True
                self.h11.receive_data(b"")
                continue
            await self._wait(timeout)

    async def _wait(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        waiter = self.waiter = loop.create_future()
        timer = loop.call_later(timeout, _expire, waiter, timeout) if timeout is not None else None
        try:
            await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()

    def _lost_detail(self) -> str:
        if self.lost is not None:
            return f"connection lost ({type(self.lost).__name__}: {self.lost or 'reset by the server'})"
        return "the server closed the connection mid-answer"

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # at once: an unread body is not drained
        self.eof = True


# --- the answer ----------------------------------------------------------------------------------------


class Response:
    """A response's status and headers; `chunks` streams the body, `aclose` ends it (use both in
    a try/finally: an answer not read to its end closes its connection)."""

    def __init__(self, pool: ConnectionPool, connection: _Connection, head: h11.Response) -> None:
        self.status = head.status_code
        self.reason = bytes(head.reason)
        self.headers: list[tuple[bytes, bytes]] = list(head.headers.raw_items())
        self._pool = pool
        self._connection: _Connection | None = connection

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (after HTTP framing: de-chunked, not decompressed)."""
        connection = self._connection
        if connection is None:
            return
        while True:
            event = await connection.next_event(self._pool.read_timeout)
            if type(event) is h11.Data:
                yield bytes(event.data)
            elif type(event) is h11.EndOfMessage:
                self._connection = None
                self._pool.release(connection)
                return
            elif type(event) is h11.ConnectionClosed:
                raise BrokenResponse("the server closed the connection mid-answer")

    async def aclose(self) -> None:
        """Let go of the connection: back to the pool when the body was read, else closed."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            self._pool.discard(connection)


# --- the pool ------------------------------------------------------------------------------------------


class ConnectionPool:
    """Connections of one client, kept alive per origin for `keepalive` seconds of idleness."""

    def __init__(
        self,
        policy: AddressPolicy,
        ssl_context: ssl.SSLContext,
        *,
        connect_timeout: float | None,
        read_timeout: float | None,
        keepalive: float = 5.0,
        max_idle: int = 20,
    ) -> None:
        self.policy = policy
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.keepalive = keepalive
        self.max_idle = max_idle
        self._idle: dict[Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def request(self, origin: Origin, target: bytes, headers: list[tuple[bytes, bytes]]) -> Response:
        """Send a GET of `target` to `origin` with `headers` (Host among them); the answer's head."""
        connection = self._reuse(origin)
        if connection is not None:
            try:
                return await self._exchange(connection, target, headers)
            except BrokenResponse:
                if connection.answered:
                    raise
                # the server closed this kept-alive connection as the request went: a new one
        return await self._exchange(await self._dial(origin), target, headers)

    async def _exchange(self, connection: _Connection, target: bytes, headers: list[tuple[bytes, bytes]]) -> Response:
        try:
            connection.send(target, headers)
            while True:
                event = await connection.next_event(self.read_timeout)
                if type(event) is h11.Response:
                    return Response(self, connection, event)
                if type(event) is h11.ConnectionClosed:
                    raise BrokenResponse("the server closed the connection without answering")
                # an informational (1xx) answer: the real one follows
        except BaseException:
            self.discard(connection)
            raise

    def _reuse(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.reusable and now - connection.idle_since < self.keepalive:
                return connection
            self.discard(connection)
        return None

    async def _dial(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise ConnectFailed(f"cannot resolve host {host!r}: {exc}") from None
        except TimeoutError:
            raise WireTimeout(f"timed out resolving host {host!r}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        blocked = [address for address in addresses if not self.policy.allows(address)]
        if blocked:
            raise Refused(host, blocked[0])
        tls = scheme == "https"
        failure: WireError = ConnectFailed(f"no address for host {host!r}")
        for address in addresses:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    _, connection = await loop.create_connection(
                        lambda: _Connection(origin),
                        address,
                        port,
                        ssl=self.ssl_context if tls else None,
                        server_hostname=host if tls else None,
                    )
            except TimeoutError:
                failure = WireTimeout(f"timed out connecting to {host} ({address}:{port})")
            except (OSError, ssl.SSLError) as exc:
                failure = ConnectFailed(f"{host} ({address}:{port}): {getattr(exc, 'strerror', None) or exc}")
            else:
                self._open.add(connection)
                return connection
        raise failure

    def release(self, connection: _Connection) -> None:
        """A connection whose answer was read to the end: kept for the next request if it can be."""
        if connection.h11.our_state is h11.DONE and connection.h11.their_state is h11.DONE:
            try:
                connection.h11.start_next_cycle()
            except h11.LocalProtocolError:
                pass
        idle = self._idle.setdefault(connection.origin, [])
        if connection.reusable and len(idle) < self.max_idle:
            connection.idle_since = time.monotonic()
            idle.append(connection)
        else:
            self.discard(connection)

    def discard(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)

    async def aclose(self) -> None:
        for connection in list(self._open):
            self.discard(connection)
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports finish closing


__all__ = [
    "AddressPolicy",
    "BrokenResponse",
    "ConnectFailed",
    "ConnectionPool",
    "Refused",
    "Response",
    "WireError",
    "WireTimeout",
    "is_public_address",
]
