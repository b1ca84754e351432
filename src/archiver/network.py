"""Where `fetch`'s connections may go and how they are dialled: httpcore's network backend.

httpx and httpcore do the HTTP (h11, h2, pooling, proxies); this module gives their pools
sockets, and only to allowed addresses:

- `GuardedBackend.connect_tcp` resolves the host itself, refuses the whole host when any of its
  addresses is not allowed (`AddressPolicy`: public addresses only, unless private ones or
  some networks are allowed; `AddressRefused`), and dials the checked addresses, never the
  name again, so DNS tricks cannot reach a private address. Dialling is Happy Eyeballs-style
  (RFC 8305): the addresses alternate by family and a new attempt starts every
  `attempt_delay` seconds, or as soon as one fails; the first connection up wins. A dead
  address costs a quarter of a second, not the whole connect timeout.
- httpcore starts TLS on the dialled socket with the URL's host name, for SNI and the
  certificate check.
- `ConnectionSlots` caps the connections open at once across every pool that shares it.
- `SocketStream` is the byte stream httpcore reads and writes: an asyncio protocol with a read
  buffer that stops reading the socket at 256 KiB unread, per-read timeouts, and a cheap
  "has the idle peer spoken or closed" answer for the pool's keep-alive check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

Resolver = Callable[[str, int], Awaitable[list[str]]]

ATTEMPT_DELAY = 0.25  # RFC 8305's recommended connection attempt delay
HIGH_WATER = 256 * 1024  # unread bytes at which the socket stops being read


# --- the egress policy ------------------------------------------------------------------------------


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


class AddressRefused(httpx.ConnectError):
    """The egress guard: the host resolves to an address the policy does not allow."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to non-public address {address}")
        self.host = host
        self.address = address


async def resolve(host: str, port: int) -> list[str]:
    """The host's addresses, in the system's order of preference, families interleaved
    (RFC 8305: IPv6, IPv4, IPv6 ... when IPv6 comes first)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve host {host!r}: {exc}") from None
    return interleave(list(dict.fromkeys(str(info[4][0]) for info in infos)))


def interleave(addresses: list[str]) -> list[str]:
    """Addresses alternating by family, the first one's family first (RFC 8305, section 4)."""
    if not addresses:
        return []
    first = [a for a in addresses if (":" in a) == (":" in addresses[0])]
    other = [a for a in addresses if (":" in a) != (":" in addresses[0])]
    mixed = [a for pair in zip(first, other) for a in pair]
    return mixed + first[len(mixed) // 2 :] + other[len(mixed) // 2 :]


# --- dialling -----------------------------------------------------------------------------------------


class ConnectionSlots:
    """At most `limit` connections open at once across every pool sharing this object.

    A dial past the limit first calls `reclaim` (which may close idle connections, such as a
    client not in use: it says whether it freed anything), then waits, within its connect
    timeout, for a connection to close."""

    def __init__(self, limit: int, reclaim: Callable[[], Awaitable[bool]] | None = None) -> None:
        self.limit = limit
        self.reclaim = reclaim
        self.open = 0
        self._waiters: list[asyncio.Future[None]] = []

    async def take(self) -> None:
        while self.open >= self.limit:
            if self.reclaim is not None and await self.reclaim():
                continue
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)
        self.open += 1

    def give_back(self) -> None:
        self.open -= 1
        for waiter in self._waiters:  # all of them: one woken and then cancelled would lose it
            if not waiter.done():
                waiter.set_result(None)


# --- one connection's bytes -------------------------------------------------------------------------------


class _Socket(asyncio.Protocol):
    """What arrived on a connection and was not read yet, and the read waiting for more."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False  # the peer closed its side, or the connection is gone
        self.lost: Exception | None = None
        self.paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.writable: asyncio.Future[None] | None = None  # set while the send buffer is full

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= HIGH_WATER and not self.paused and self.transport is not None:
            self.transport.pause_reading()
            self.paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.lost = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class SocketStream(httpcore.AsyncNetworkStream):
    """httpcore's view of one dialled connection (plain, or TLS once `start_tls` ran)."""

    def __init__(self, transport: asyncio.Transport, protocol: _Socket, on_close: Callable[[], None] | None = None) -> None:
        self._transport = transport
        self._protocol = protocol
        self.on_close = on_close

    @property
    def unread(self) -> int:
        """Bytes received and not read yet (at most HIGH_WATER and one socket read)."""
        return len(self._protocol.buffer)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        while not protocol.buffer:
            if protocol.eof:
                if protocol.lost is not None:
                    raise httpcore.ReadError(f"connection lost ({protocol.lost or 'reset by the server'})")
                return b""
            loop = asyncio.get_running_loop()
            waiter = protocol.waiter = loop.create_future()
            timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
            try:
                await waiter
            except TimeoutError:
                raise httpcore.ReadTimeout(f"nothing read for {timeout:g}s") from None
            finally:
                protocol.waiter = None
                if timer is not None:
                    timer.cancel()
        buffer = protocol.buffer
        if len(buffer) <= max_bytes:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
        if protocol.paused and len(buffer) < HIGH_WATER:
            protocol.paused = False
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._protocol.eof or self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        writable = self._protocol.writable
        if writable is not None:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(writable)
            except TimeoutError:
                raise httpcore.WriteTimeout(f"could not send for {timeout:g}s") from None

    async def aclose(self) -> None:
        self._transport.abort()  # at once: an unread body is not drained
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                tls = await loop.start_tls(self._transport, self._protocol, ssl_context, server_hostname=server_hostname)
        except TimeoutError:
            await self.aclose()
            raise httpcore.ConnectTimeout(f"TLS handshake with {server_hostname} took over {timeout:g}s") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            await self.aclose()
            raise httpcore.ConnectError(f"TLS with {server_hostname}: {exc}") from None
        except BaseException:
            await self.aclose()
            raise
        assert tls is not None
        self._transport = tls
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle connection the peer spoke on or closed: not reusable
            return self._protocol.eof or bool(self._protocol.buffer)
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info in ("ssl_object", "socket"):
            return self._transport.get_extra_info(info)
        return None


async def dial(
    address: str, port: int, local_address: str | None = None, socket_options: Iterable[Any] = ()
) -> SocketStream:
    """A TCP connection to an IP address (no resolving); raises httpcore.ConnectError."""
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.create_connection(
            _Socket, address, port, local_addr=(local_address, 0) if local_address else None
        )
    except OSError as exc:
        raise httpcore.ConnectError(f"{address}:{port}: {exc.strerror or exc}") from None
    for option in socket_options:
        transport.get_extra_info("socket").setsockopt(*option)
    return SocketStream(transport, protocol)


# --- the backend ---------------------------------------------------------------------------------------


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend behind the egress guard: resolve, check every address, dial
    the checked ones (Happy Eyeballs-style). With `policy` None every address is allowed (the
    backend of a proxy's pool: it dials only the proxy)."""

    def __init__(
        self,
        policy: AddressPolicy | None,
        *,
        resolver: Resolver = resolve,
        slots: ConnectionSlots | None = None,
        attempt_delay: float = ATTEMPT_DELAY,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.slots = slots
        self.attempt_delay = attempt_delay

    async def check(self, host: str, port: int) -> list[str]:
        """The host's addresses, all allowed by the policy; raises AddressRefused."""
        addresses = await self.resolver(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"no address for host {host!r}")
        if self.policy is not None:
            for address in addresses:
                if not self.policy.allows(address):
                    raise AddressRefused(host, address)
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                addresses = await self.check(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"timed out resolving host {host!r}") from None
        if self.slots is not None:
            try:
                async with asyncio.timeout_at(deadline):
                    await self.slots.take()
            except TimeoutError:
                raise httpcore.ConnectTimeout(
                    f"no free connection within {timeout:g}s: {self.slots.limit} are open (max_connections)"
                ) from None
        if deadline is not None:
            timeout = max(deadline - loop.time(), 0.001)
        try:
            stream = await self._race(host, addresses, port, timeout, local_address, socket_options)
        except BaseException:
            if self.slots is not None:
                self.slots.give_back()
            raise
        if self.slots is not None:
            stream.on_close = self.slots.give_back
        return stream

    async def _race(
        self,
        host: str,
        addresses: list[str],
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[Any] | None,
    ) -> SocketStream:
        """The first connection up of attempts started `attempt_delay` apart (the next at once
        when one fails); the others are cancelled or closed."""
        waiting = list(addresses)
        running: dict[asyncio.Task[SocketStream], str] = {}
        failures: list[str] = []
        won: SocketStream | None = None
        options = list(socket_options or ())
        try:
            async with asyncio.timeout(timeout):
                while won is None and (waiting or running):
                    if waiting:
                        address = waiting.pop(0)
                        attempt = dial(address, port, local_address, options)
                        running[asyncio.ensure_future(attempt)] = address
                    done, _ = await asyncio.wait(
                        running, timeout=self.attempt_delay if waiting else None,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    for task in done:
                        address = running.pop(task)
                        if task.exception() is None:
                            if won is None:
                                won = task.result()
                            else:
                                await task.result().aclose()
                        else:
                            failures.append(f"{address}:{port}: {task.exception() or 'failed'}")
        except TimeoutError:
            where = ", ".join(f"{a}:{port}" for a in addresses)
            raise httpcore.ConnectTimeout(f"timed out connecting to {host} ({where})") from None
        finally:
            for task in running:
                task.cancel()
            for task in running:
                try:
                    late = await task
                except BaseException:  # noqa: BLE001 - a cancelled or failed losing attempt
                    continue
                await late.aclose()
        if won is None:
            raise httpcore.ConnectError(f"{host} ({'; '.join(failures)})")
        return won

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
