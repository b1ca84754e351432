"""archiver.wire: HTTP/1.1 connections against real local servers (plain and TLS), scripted to
misbehave: keep-alive reuse, a kept-alive connection the server dropped, 1xx answers, chunked
bodies, malformed answers, silence, back-pressure, and certificates."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Self

import pytest

from archiver.wire import (
    HIGH_WATER,
    AddressPolicy,
    BrokenResponse,
    ConnectFailed,
    ConnectionPool,
    Refused,
    WireTimeout,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def pool(ssl_context: ssl.SSLContext | None = None, *, read_timeout: float = 5.0, allow_private: bool = True) -> ConnectionPool:
    return ConnectionPool(
        AddressPolicy(allow_private=allow_private),
        ssl_context or ssl.create_default_context(),
        connect_timeout=5.0,
        read_timeout=read_timeout,
    )


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """The head of one request (empty at EOF)."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra) + body


class Scripted:
    """A server on 127.0.0.1 whose connections run `handler(reader, writer, n)`, n counting
    connections from 1, and a client pool for it (`pool`, made with `pool_options`); both are
    closed on leaving."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None, **pool_options: Any) -> None:
        self.handler = handler
        self.tls = tls
        self.connections = 0
        self.pool = pool(**pool_options)

    async def __aenter__(self) -> Self:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer, self.connections)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.pool.aclose()

    async def get(self, path: bytes = b"/", host: str = "127.0.0.1", scheme: str = "http") -> tuple[int, bytes]:
        response = await self.pool.request((scheme, host, self.port), path, [(b"Host", f"{host}:{self.port}".encode())])
        try:
            body = b"".join([chunk async for chunk in response.chunks()])
        finally:
            await response.aclose()
        return response.status, body


def answers(raw: bytes, *, then_close: bool = False) -> Handler:
    """A handler that answers the first request with `raw`, then closes or waits for another."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(raw)
        await writer.drain()
        if not then_close:
            await read_request(reader)

    return handler


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 30))


def test_sequential_requests_share_one_kept_alive_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while head := await read_request(reader):
            writer.write(ok(head.split(b" ")[1]))

    async def go() -> None:
        async with Scripted(handler) as server:
            answers = [await server.get(f"/page-{i}".encode()) for i in range(5)]
            assert answers == [(200, f"/page-{i}".encode()) for i in range(5)]
            assert server.connections == 1

    run(go())


def test_a_kept_alive_connection_the_server_dropped_is_replaced_without_an_error() -> None:
    """The first connection answers once, then closes as the second request arrives (the
    keep-alive race): the request goes again on a new connection."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        served = 0
        while await read_request(reader):
            if n == 1 and served == 1:
                return  # read the request, close without a word
            writer.write(ok(b"answer %d.%d" % (n, served)))
            await writer.drain()
            served += 1

    async def go() -> None:
        async with Scripted(handler) as server:
            assert await server.get() == (200, b"answer 1.0")
            assert await server.get() == (200, b"answer 2.0")
            assert server.connections == 2

    run(go())


def test_an_answer_cut_short_is_not_sent_again() -> None:
    handler = answers(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part", then_close=True)

    async def go() -> None:
        async with Scripted(handler) as server:
            with pytest.raises(BrokenResponse, match="closed the connection mid-answer"):
                await server.get()
            assert server.connections == 1

    run(go())


def test_informational_answers_are_skipped_and_chunked_bodies_joined() -> None:
    handler = answers(
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Test: yes\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )

    async def go() -> None:
        async with Scripted(handler) as server:
            response = await server.pool.request(("http", "127.0.0.1", server.port), b"/", [(b"Host", b"x")])
            body = b"".join([chunk async for chunk in response.chunks()])
            await response.aclose()
            assert (response.status, body) == (200, b"hello world")
            assert (b"X-Test", b"yes") in response.headers

    run(go())


def test_a_malformed_answer_is_a_broken_response() -> None:
    handler = answers(b"SPDY/9 banana\r\n\r\n")

    async def go() -> None:
        async with Scripted(handler) as server:
            with pytest.raises(BrokenResponse, match="malformed response"):
                await server.get()

    run(go())


def test_a_silent_server_times_out_on_read() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        await asyncio.sleep(10)

    async def go() -> None:
        async with Scripted(handler, read_timeout=0.3) as server:
            started = asyncio.get_running_loop().time()
            with pytest.raises(WireTimeout, match="nothing for 0.3s"):
                await server.get()
            assert asyncio.get_running_loop().time() - started < 3

    run(go())


def test_reading_pauses_while_the_body_waits_unread() -> None:
    """A server sending 20 MiB as fast as it can: while nobody reads, at most HIGH_WATER bytes
    (plus one socket read) wait in the connection; the body still arrives whole."""
    size = 20 * 1024 * 1024

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // 65536):
            writer.write(b"x" * 65536)
            await writer.drain()

    async def go() -> None:
        async with Scripted(handler) as server:
            response = await server.pool.request(("http", "127.0.0.1", server.port), b"/", [(b"Host", b"x")])
            (connection,) = server.pool._open
            await asyncio.sleep(0.5)  # the server would have sent it all by now, were it let
            assert connection.paused
            assert len(connection.buffer) <= HIGH_WATER + 256 * 1024
            received = 0
            async for chunk in response.chunks():
                received += len(chunk)
            await response.aclose()
            assert received == size

    run(go())


def test_private_addresses_are_refused_before_dialling() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)

    async def go() -> None:
        async with Scripted(handler, allow_private=False) as server:
            with pytest.raises(Refused, match="non-public address 127.0.0.1"):
                await server.get()
            assert server.connections == 0

    run(go())


def test_nothing_listening_is_a_connect_failure() -> None:
    async def go() -> None:
        async with Scripted(read_request_handler) as server:
            port = server.port
        connections = pool()
        with pytest.raises(ConnectFailed, match=f"127.0.0.1:{port}"):
            await connections.request(("http", "127.0.0.1", port), b"/", [(b"Host", b"x")])
        await connections.aclose()

    run(go())


async def read_request_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    await read_request(reader)


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(a server context for `localhost`, a client context that trusts only its CA)."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return server_context, client_context


def test_https_is_verified_against_the_host_name(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, client_context = tls

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while await read_request(reader):
            writer.write(ok(b"over TLS"))

    async def go() -> None:
        async with Scripted(handler, tls=server_context, ssl_context=client_context) as server:
            assert await server.get(host="localhost", scheme="https") == (200, b"over TLS")
            assert await server.get(host="localhost", scheme="https") == (200, b"over TLS")
            assert server.connections == 1
            # the same server under a name its certificate does not carry
            with pytest.raises(ConnectFailed, match="certificate"):
                await server.get(host="127.0.0.1", scheme="https")
        # a client with the system's CAs only: the throwaway CA is not among them
        async with Scripted(handler, tls=server_context) as server:
            with pytest.raises(ConnectFailed, match="certificate verify failed"):
                await server.get(host="localhost", scheme="https")

    run(go())
