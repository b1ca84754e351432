"""archiver.transport under fetch, against real local servers: Happy Eyeballs dialling past a
black-holed address, TLS verified against the host name (trustme), HTTP/2 (hypercorn), a real
forwarding proxy (from the settings and from the environment, with the egress rule for the
target), and the total connection limit."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from archiver.config import Settings, load_settings
from archiver.errors import BlockedAddress, ConfigError, TransportError
from archiver.fetch import HostClients, fetch, make_client
from archiver.network import HIGH_WATER, AddressPolicy, GuardedBackend, dial, interleave
from support.h2server import PAGE, H2Server
from support.proxyserver import Proxy


def resolving_to(*addresses: str):
    async def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolver


def get(url: str, settings: Settings, sleeps, resolver=None):
    async def run():
        kwargs = {"resolver": resolver} if resolver else {}
        async with make_client(settings, **kwargs) as client:
            return await fetch(client, url, settings, sleep=sleeps)

    return asyncio.run(run())


# --- dialling -------------------------------------------------------------------------------------


@pytest.fixture()
def black_hole(server) -> Iterator[str]:
    """127.0.0.2 on the test server's port, answering no SYN: its accept queue is kept full."""
    port = server.server_address[1]
    listener = socket.socket()
    listener.bind(("127.0.0.2", port))
    listener.listen(0)
    queued = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.2", port))
        queued.append(s)
    yield "127.0.0.2"
    for s in [*queued, listener]:
        s.close()


def test_a_dead_first_address_costs_the_attempt_delay_not_the_connect_timeout(server, settings, sleeps, black_hole):
    patient = replace(settings, connect_timeout=10.0, retries=0)
    url = f"http://news.test:{server.server_address[1]}/pages/seed-plain.html"
    started = time.monotonic()
    fetched = get(url, patient, sleeps, resolving_to(black_hole, "127.0.0.1"))
    assert fetched.status == 200 and fetched.attempts == 1
    assert time.monotonic() - started < 3  # 0.25 s for the black hole, not 10
    with pytest.raises(TransportError, match=r"timed out connecting to news.test \(127.0.0.2:"):
        get(url, replace(patient, connect_timeout=1.0), sleeps, resolving_to(black_hole))


def test_a_refused_address_moves_on_to_the_next_at_once(server):
    """Nothing listens on 127.0.0.3; the next address is dialled as soon as that fails, not
    after the attempt delay (5 s here)."""
    backend = GuardedBackend(AddressPolicy(allow_private=True), resolver=resolving_to("127.0.0.3", "127.0.0.1"),
                             attempt_delay=5.0)

    async def run() -> str:
        stream = await backend.connect_tcp("news.test", server.server_address[1], timeout=10.0)
        try:
            return stream.get_extra_info("server_addr")[0]
        finally:
            await stream.aclose()

    started = time.monotonic()
    assert asyncio.run(run()) == "127.0.0.1"
    assert time.monotonic() - started < 3


def test_addresses_alternate_by_family_first_family_first():
    assert interleave(["2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2", "192.0.2.3"]) == [
        "2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "192.0.2.3",
    ]
    assert interleave(["192.0.2.1", "2001:db8::1"]) == ["192.0.2.1", "2001:db8::1"]
    assert interleave([]) == []


def test_any_refused_address_refuses_the_host(server, settings, sleeps):
    strict = replace(settings, allow_private=False, retries=0)
    before = len(server.log.paths())
    with pytest.raises(BlockedAddress, match="non-public address 10.0.0.1"):
        get(f"http://news.test:{server.server_address[1]}/", strict, sleeps, resolving_to("93.184.216.34", "10.0.0.1"))
    assert len(server.log.paths()) == before


def test_a_silent_server_times_out_between_bytes(base_url, settings, sleeps):
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"timed out reading the answer \(nothing for 0.3s\)"):
        get(f"{base_url}/slow-drip", replace(settings, read_timeout=0.3, retries=0), sleeps)
    assert time.monotonic() - started < 3


def test_reading_pauses_while_the_body_waits_unread():
    """A server sending 20 MiB as fast as it can: while nobody reads, at most HIGH_WATER bytes
    (and one socket read) wait in the stream; the body still arrives whole."""
    size = 20 * 1024 * 1024

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(size // 65536):
            writer.write(b"x" * 65536)
            await writer.drain()
        writer.close()

    async def run() -> int:
        server = await asyncio.start_server(flood, "127.0.0.1", 0)
        stream = await dial("127.0.0.1", server.sockets[0].getsockname()[1])
        await asyncio.sleep(0.5)  # the server would have sent it all by now, were it let
        assert stream.unread <= HIGH_WATER + 256 * 1024
        received = 0
        while chunk := await stream.read(65536, timeout=5):
            received += len(chunk)
        await stream.aclose()
        server.close()
        return received

    assert asyncio.run(run()) == size


# --- TLS and HTTP/2 -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    """(a throwaway CA's certificate, a key and certificate chain for `localhost` it signed)."""
    trustme = pytest.importorskip("trustme")
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(folder / "localhost.pem"))
    return folder / "ca.pem", folder / "localhost.pem"


@pytest.fixture(scope="module")
def h2_server(tls_files) -> Iterator[H2Server]:
    pytest.importorskip("hypercorn")
    with H2Server(tls_files[1]) as server:
        yield server


@pytest.fixture()
def trusting_the_ca(monkeypatch, tls_files):
    """SSL_CERT_FILE names the throwaway CA, as httpx reads it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))


def test_https_is_verified_against_the_host_name(h2_server, settings, sleeps, trusting_the_ca):
    async def twice() -> list[int]:
        async with make_client(settings) as client:
            for _ in range(2):
                fetched = await fetch(client, f"https://localhost:{h2_server.port}/a", settings, sleep=sleeps)
                assert (fetched.status, fetched.content) == (200, PAGE)
        return h2_server.ports[-2:]

    first, second = asyncio.run(twice())
    assert first == second  # one kept-alive connection
    # the same server under a name its certificate does not carry
    with pytest.raises(TransportError, match="certificate"):
        get(f"https://127.0.0.1:{h2_server.port}/a", replace(settings, retries=0), sleeps)


def test_without_ssl_cert_file_the_throwaway_ca_is_not_trusted(h2_server, settings, sleeps, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(TransportError, match="certificate verify failed"):
        get(f"https://localhost:{h2_server.port}/a", replace(settings, retries=0), sleeps)


def test_http2_when_asked(h2_server, settings, sleeps, trusting_the_ca):
    before = len(h2_server.versions)
    assert get(f"https://localhost:{h2_server.port}/h1", settings, sleeps).content == PAGE
    assert get(f"https://localhost:{h2_server.port}/h2", replace(settings, http2=True), sleeps).content == PAGE
    assert h2_server.versions[before:] == ["1.1", "2"]


def test_http2_without_h2_installed_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "h2", None)  # as if not installed: importing it fails
    with pytest.raises(ConfigError, match=r"http2 = true needs the h2 package: pip install 'archiver\[http2\]'"):
        make_client(Settings(http2=True))


# --- proxies ------------------------------------------------------------------------------------------


@pytest.fixture()
def proxy(monkeypatch) -> Iterator[Proxy]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with Proxy() as running:
        yield running


def test_http_through_the_configured_proxy(server, settings, sleeps, proxy):
    port = server.server_address[1]
    fetched = get(f"http://localhost:{port}/pages/seed-plain.html", replace(settings, proxy=proxy.url), sleeps)
    assert fetched.status == 200
    assert proxy.forwarded == [("GET", f"http://localhost:{port}/pages/seed-plain.html")]
    assert server.log.paths()[-1] == "/pages/seed-plain.html"


def test_https_and_http2_through_a_proxy_tunnel(h2_server, settings, sleeps, proxy, trusting_the_ca):
    before = len(h2_server.versions)
    via = replace(settings, proxy=proxy.url, http2=True)
    assert get(f"https://localhost:{h2_server.port}/tunnelled", via, sleeps).content == PAGE
    assert proxy.forwarded == [("CONNECT", f"localhost:{h2_server.port}")]
    assert h2_server.versions[before:] == ["2"]


def test_a_private_target_is_refused_before_the_proxy_is_asked(server, settings, sleeps, proxy):
    """The proxy itself is on 127.0.0.1 (configured: allowed); the target's address is checked."""
    url = f"http://localhost:{server.server_address[1]}/pages/seed-plain.html"
    strict = replace(settings, proxy=proxy.url, allow_private=False, retries=0)
    with pytest.raises(BlockedAddress, match="localhost resolves to non-public address"):
        get(url, strict, sleeps)
    assert proxy.forwarded == []
    assert get(url, replace(strict, allow_networks=("127.0.0.0/8",)), sleeps).status == 200
    assert len(proxy.forwarded) == 1


def test_proxies_from_the_environment_and_no_proxy(server, settings, sleeps, proxy, monkeypatch):
    port = server.server_address[1]
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    get(f"http://localhost:{port}/pages/seed-plain.html", settings, sleeps)
    assert proxy.forwarded == [("GET", f"http://localhost:{port}/pages/seed-plain.html")]
    get(f"http://localhost:{port}/pages/seed-plain.html", replace(settings, trust_env=False), sleeps)
    monkeypatch.setenv("NO_PROXY", "localhost")
    get(f"http://localhost:{port}/pages/seed-plain.html", settings, sleeps)
    assert len(proxy.forwarded) == 1  # trust_env = false, then NO_PROXY: both sent directly


def test_a_proxy_that_is_not_http_is_a_config_error(tmp_path, monkeypatch):
    config = tmp_path / "archiver.toml"
    config.write_text('[archiver]\nproxy = "socks5://127.0.0.1:1080"\n')
    with pytest.raises(ConfigError, match="archiver.proxy: must be an http:// or https:// URL"):
        load_settings(config, env={})
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(ConfigError, match="not an http:// or https:// proxy URL"):
        make_client(Settings())


# --- the connection limit ------------------------------------------------------------------------------


def test_the_connection_limit_holds_across_a_crawls_clients(server, settings, sleeps):
    """One slot for two hosts' clients: the second host's connection closes the first host's
    idle client; while the first is in use, the second waits and then fails clearly."""
    url = f"{server.base_url}/pages/seed-plain.html"
    one = replace(settings, max_connections=1, connect_timeout=0.5, retries=0)

    async def run() -> None:
        clients = HostClients(one)
        try:
            async with clients.client("a.test") as client:
                await fetch(client, url, one, sleep=sleeps)
            assert (clients.slots.open, len(clients)) == (1, 1)  # a.test's connection, kept alive
            async with clients.client("b.test") as client:
                assert (await fetch(client, url, one, sleep=sleeps)).status == 200
            assert (clients.slots.open, len(clients)) == (1, 1)  # a.test's client was closed
            async with clients.client("b.test"), clients.client("c.test") as client:
                with pytest.raises(TransportError, match=r"no free connection within 0.5s: 1 are open"):
                    await fetch(client, url, one, sleep=sleeps)
        finally:
            await clients.aclose()
        assert clients.slots.open == 0

    asyncio.run(run())
