"""The fetch stage against a real HTTP server on 127.0.0.1 (no mocked network)."""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import replace

import pytest

from archiver.config import Settings
from archiver.errors import (
    BlockedAddress,
    HTTPStatusError,
    InvalidURL,
    TooLarge,
    TransportError,
)
from archiver.fetch import fetch, fetch_sync, make_client, parse_retry_after
from archiver.network import is_public_address
from support.faultserver import SEED


def get(url: str, settings: Settings, sleeps=None):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async with make_client(settings) as client:
            kwargs = {"sleep": sleeps} if sleeps is not None else {}
            return await fetch(client, url, settings, **kwargs)

    return asyncio.run(run())


def test_fetches_a_page_with_headers_and_body(base_url, settings):
    fetched = get(f"{base_url}/pages/seed-elementor.html", settings)
    assert fetched.status == 200
    assert fetched.content == SEED.read_bytes()
    assert fetched.content_type == "text/html"
    assert fetched.charset == "utf-8"
    assert fetched.header("ETag")
    assert fetched.attempts == 1
    assert fetched.fetched_at.endswith("Z")


def test_sends_identifying_user_agent(server, settings):
    custom = replace(settings, user_agent="archiver-test/1.0 (+mailto:ops@example.org)")
    get(f"{server.base_url}/pages/seed-plain.html", custom)
    _, _, path, headers = server.log.entries[-1]
    assert path == "/pages/seed-plain.html"
    assert headers["user-agent"] == "archiver-test/1.0 (+mailto:ops@example.org)"


def test_request_carries_host_validators_and_the_defaults(server, settings):
    """What goes on the wire: Host with the port, the crawl's defaults, the caller's headers."""
    async def run():  # type: ignore[no-untyped-def]
        async with make_client(settings) as client:
            return await fetch(client, f"{server.base_url}/pages/seed-plain.html", settings,
                               headers={"If-None-Match": '"v1"'})

    asyncio.run(run())
    _, _, path, headers = server.log.entries[-1]
    assert headers["host"] == server.base_url.removeprefix("http://")
    assert headers["if-none-match"] == '"v1"' and "gzip" in headers["accept-encoding"]
    assert headers["accept"].startswith("text/html")


async def to_loopback(host: str, port: int) -> list[str]:
    """A resolver that sends every host name to the test server's 127.0.0.1."""
    return ["127.0.0.1"]


@pytest.mark.parametrize(
    ("url", "host", "target"),
    [
        ("http://Bücher.example:{port}/ä?q=1#frag", "xn--bcher-kva.example:{port}", "/%C3%A4?q=1"),
        ("http://example.org:{port}/a b", "example.org:{port}", "/a%20b"),
        ("http://[::1]:{port}/x", "[::1]:{port}", "/x"),
    ],
)
def test_requests_are_encoded_as_httpx_encodes_them(url, host, target, server, settings, sleeps):
    """What the server receives: IDNA hosts, percent-encoded paths, IPv6 in brackets; no fragment."""
    port = server.server_address[1]

    async def run():  # type: ignore[no-untyped-def]
        async with make_client(settings, resolver=to_loopback) as client:
            with pytest.raises(HTTPStatusError, match="404"):
                await fetch(client, url.format(port=port), settings, sleep=sleeps)
            return client.build_request("GET", "https://example.org:443/a").headers["host"]

    assert asyncio.run(run()) == "example.org"  # default ports dropped
    _, _, path, headers = server.log.entries[-1]
    assert (headers["host"], path) == (host.format(port=port), target)


def test_retries_503_twice_then_succeeds(base_url, settings, sleeps):
    fetched = get(f"{base_url}/flaky/a", settings, sleeps)
    assert fetched.status == 200
    assert fetched.attempts == 3
    assert len(sleeps.waits) == 2  # the injected sleep: no real waiting


def test_gives_up_after_retries_with_status(base_url, settings, sleeps):
    with pytest.raises(HTTPStatusError) as info:
        get(f"{base_url}/always-503", settings, sleeps)
    assert info.value.status == 503
    assert info.value.attempts == settings.retries + 1
    assert "after 4 attempts" in str(info.value)
    assert len(sleeps.waits) == settings.retries


def test_honours_retry_after_seconds(base_url, settings, sleeps):
    fetched = get(f"{base_url}/ratelimited/a", settings, sleeps)
    assert fetched.status == 200
    assert sleeps.waits == [7.0]


def test_retry_after_is_capped(base_url, settings, sleeps):
    get(f"{base_url}/ratelimited/b", replace(settings, retry_after_cap=2.0), sleeps)
    assert sleeps.waits == [2.0]


def test_retry_after_http_date(base_url, settings, sleeps):
    get(f"{base_url}/ratelimited-date/a", settings, sleeps)
    assert len(sleeps.waits) == 1 and 2.0 <= sleeps.waits[0] <= 6.0


def test_parse_retry_after_forms():
    now = time.time()
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after(date, now=now) or 0) <= 31


def test_404_is_not_retried(base_url, settings, sleeps):
    with pytest.raises(HTTPStatusError) as info:
        get(f"{base_url}/pages/no-such-page.html", settings, sleeps)
    assert info.value.status == 404
    assert info.value.attempts == 1
    assert sleeps.waits == []


def test_follows_redirects(base_url, settings):
    fetched = get(f"{base_url}/redirect", settings)
    assert fetched.final_url == f"{base_url}/pages/seed-elementor.html"
    assert fetched.redirects == (f"{base_url}/redirect",)


def test_redirect_limit(base_url, settings, sleeps):
    assert get(f"{base_url}/redirect-chain/9", settings).status == 200  # 10 hops
    with pytest.raises(TransportError, match="more than 10 redirects"):
        get(f"{base_url}/redirect-chain/10", settings, sleeps)  # 11 hops
    with pytest.raises(TransportError, match="redirects"):
        get(f"{base_url}/redirect-loop", settings, sleeps)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "example.com/news", "http://", "http://[::1"])
def test_rejects_bad_urls(url, settings):
    with pytest.raises(InvalidURL) as info:
        get(url, settings)
    assert url in str(info.value)


def test_refuses_private_addresses_by_default(base_url, settings):
    strict = replace(settings, allow_private=False)
    with pytest.raises(BlockedAddress, match="--allow-private"):
        get(f"{base_url}/pages/seed-elementor.html", strict)


@pytest.fixture()
def only_test_server(settings):
    """Private addresses refused, except the test server's own 127.0.0.1."""
    return replace(settings, allow_private=False, allow_networks=("127.0.0.1/32",))


def test_allowed_network_reaches_the_test_server(base_url, only_test_server):
    assert get(f"{base_url}/pages/seed-plain.html", only_test_server).status == 200


@pytest.mark.parametrize("route, address", [
    ("/redirect-private", "169.254.169.254"),
    ("/redirect-loopback", "127.0.0.2"),
])
def test_every_redirect_hop_is_checked(base_url, only_test_server, sleeps, route, address):
    with pytest.raises(BlockedAddress, match=address):
        get(f"{base_url}{route}", only_test_server, sleeps)


@pytest.mark.parametrize("host", [
    "127.1", "0x7f000001", "2130706433", "0177.0.0.1", "[::ffff:127.0.0.1]", "[::1]",
    "169.254.169.254", "[::ffff:a9fe:a9fe]", "100.64.0.1", "0.0.0.0", "localhost",
])
def test_odd_spellings_of_private_addresses_are_refused(host, server, settings, sleeps):
    port = server.server_address[1]
    strict = replace(settings, allow_private=False, retries=0, connect_timeout=1.0)
    before = len(server.log.paths())
    # refused by the guard, or (for spellings httpx will not parse) as a malformed URL
    with pytest.raises((BlockedAddress, InvalidURL)):
        get(f"http://{host}:{port}/pages/seed-plain.html", strict, sleeps)
    assert len(server.log.paths()) == before  # nothing reached the server


@pytest.mark.parametrize(
    "address, public",
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.5.4", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("not-an-ip", False),
    ],
)
def test_public_address_rules(address, public):
    assert is_public_address(address) is public


def test_size_cap(base_url, settings):
    with pytest.raises(TooLarge):
        get(f"{base_url}/big", replace(settings, max_body_bytes=1024 * 1024))


@pytest.mark.parametrize("route", ["/gzip-bomb", "/brotli-bomb"])
def test_compression_bombs_stop_at_the_cap(base_url, settings, route):
    with pytest.raises(TooLarge, match="after decompression"):
        get(f"{base_url}{route}", replace(settings, max_body_bytes=5 * 1024 * 1024))


def test_truncated_body_is_an_error(base_url, settings, sleeps):
    with pytest.raises(TransportError, match="broken|incomplete|closed"):
        get(f"{base_url}/truncated", settings, sleeps)


def test_deadline_cuts_off_a_slow_drip(base_url, settings, sleeps):
    started = time.monotonic()
    with pytest.raises(TransportError, match="deadline"):
        get(f"{base_url}/slow-drip", replace(settings, deadline=1.0, retries=0), sleeps)
    assert time.monotonic() - started < 10


def test_connection_refused(settings, sleeps):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransportError, match="connect"):
        get(f"http://127.0.0.1:{port}/", settings, sleeps)


def test_unknown_host(settings, sleeps):
    with pytest.raises(TransportError):
        get("http://no-such-host.invalid/", replace(settings, retries=0), sleeps)


def test_fetch_sync(base_url, settings):
    assert fetch_sync(f"{base_url}/pages/seed-plain.html", settings).status == 200


def test_truncating_read_keeps_the_head_of_a_long_body(base_url, settings):
    fetched = get_with(f"{base_url}/big", settings, max_bytes=1000, truncate=True)
    assert fetched.content == (b"<html><body>" + b"x" * 2000)[:1000]


def test_truncating_read_of_a_bomb_is_bounded(base_url, settings):
    fetched = get_with(f"{base_url}/gzip-bomb", settings, max_bytes=4096, truncate=True)
    assert fetched.content == b"\0" * 4096


def get_with(url: str, settings: Settings, **kwargs):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async with make_client(settings) as client:
            return await fetch(client, url, settings, **kwargs)

    return asyncio.run(run())


def test_cookies_a_site_sets_are_sent_back_on_its_next_requests(base_url, settings):
    async def run():
        async with make_client(settings) as client:
            with pytest.raises(HTTPStatusError):
                await fetch(client, base_url + "/needs-cookie", settings)
            await fetch(client, base_url + "/set-cookie", settings)
            return await fetch(client, base_url + "/needs-cookie", settings)

    assert asyncio.run(run()).status == 200


def get_until(url: str, settings: Settings, sleeps, until: float):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async with make_client(settings) as client:
            return await fetch(client, url, settings, sleep=sleeps, until=until)

    return asyncio.run(run())


def test_an_attempt_cut_off_by_the_deadline_is_not_retried(base_url, settings, sleeps, server):
    before = server.log.paths().count("/slow-drip")
    started = time.monotonic()
    with pytest.raises(TransportError, match="1s deadline") as info:
        get(f"{base_url}/slow-drip", replace(settings, deadline=1.0, retries=3), sleeps)
    assert time.monotonic() - started < 5
    assert info.value.attempts == 1 and sleeps.waits == []
    assert server.log.paths().count("/slow-drip") - before == 1


def test_the_url_budget_bounds_every_attempt_and_wait_together(base_url, settings, sleeps):
    # a drip that a 60 s deadline would allow is cut off when the URL's 1.5 s budget is spent
    started = time.monotonic()
    with pytest.raises(TransportError, match="budget"):
        get(f"{base_url}/slow-drip", replace(settings, deadline=60.0, url_budget=1.5), sleeps)
    assert time.monotonic() - started < 5
    # a wait that would spend the budget is not made: the 429's 7 s Retry-After, in a 5 s budget
    with pytest.raises(HTTPStatusError, match="budget is spent") as info:
        get(f"{base_url}/ratelimited/budget", replace(settings, url_budget=5.0), sleeps)
    assert info.value.status == 429 and info.value.attempts == 1 and sleeps.waits == []
    assert "budget is spent" in info.value.reason  # what the crawl records in `fetches`


def test_no_retry_starts_after_the_callers_time_is_up(base_url, settings, sleeps):
    with pytest.raises(HTTPStatusError, match="time is up") as info:
        get_until(f"{base_url}/always-503", settings, sleeps, until=time.monotonic())
    assert info.value.attempts == 1 and sleeps.waits == []
    fetched = get_until(f"{base_url}/flaky/until", settings, sleeps, until=time.monotonic() + 60)
    assert fetched.attempts == 3  # retries within the time left are made as before
