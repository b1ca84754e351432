"""The only module that fetches: HTTP fetching with retries, limits and an egress guard, on httpx.

`fetch` is a coroutine over a `Client` (an `httpx.AsyncClient` whose transports dial behind the
egress guard, `archiver.transport`) made by `make_client`; `fetch_sync` runs it for one-off use.
Both return a `Fetched` record or raise a `FetchError` subclass, never `None`.

Guarantees:
- only http and https, at most `max_redirects` hops, each hop checked;
- the egress guard runs inside the connection itself (on the address actually dialled), so DNS
  tricks and redirects to private addresses are refused unless `allow_private`; through a proxy
  the target host is resolved and checked before the request goes to the proxy;
- one attempt is bounded by an overall deadline, however slowly the server drips bytes, and one
  URL by a budget across all its attempts and waits; an attempt cut off by the deadline is not
  retried, and no retry starts once the caller's time is up;
- the body is capped before and after decompression, decoding in bounded steps, so compression
  bombs stop at the cap with bounded memory;
- a truncated body is an error, never a short page;
- retries (tenacity) on transport errors and 408/429/500/502/503/504 only, with exponential
  backoff and jitter, honouring Retry-After up to a cap. The sleep is injectable.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from archiver.config import Settings
from archiver.decoding import read_body
from archiver.errors import (
    BlockedAddress,
    FetchError,
    HTTPStatusError,
    InvalidURL,
    TransportError,
)
from archiver.models import Fetched, header_value
from archiver.network import AddressRefused, ConnectionSlots, Resolver, resolve
from archiver.timestamps import utc_now
from archiver.transport import transports

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACCEPT_ENCODING = "gzip, deflate, br, zstd"

Sleep = Callable[[float], Awaitable[Any]]
Client = httpx.AsyncClient


def check_url(url: str) -> tuple[str, str, int]:
    """Validate a URL's form; return (scheme, host, port) or raise InvalidURL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(url, f"malformed URL ({exc}); give a full http:// or https:// URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"'{scheme}'" if scheme else "no scheme"
        raise InvalidURL(url, f"unsupported URL scheme {shown}; only http:// and https:// URLs are fetched")
    host = parts.hostname
    if not host:
        raise InvalidURL(url, "URL has no host; give a full http:// or https:// URL")
    if any(ch.isspace() or ch in '<>"{}|\\^`%' for ch in host):
        raise InvalidURL(url, f"malformed host {host!r}; give a full http:// or https:// URL")
    return scheme, host, port or (443 if scheme == "https" else 80)


def make_client(
    settings: Settings, *, resolver: Resolver = resolve, slots: ConnectionSlots | None = None
) -> Client:
    """An httpx client whose every connection goes through the egress guard, with the crawl's
    identifying headers, a cookie jar, the settings' timeouts, proxies and HTTP/2, and no
    redirects followed (`fetch` follows them, checking each hop). Use `async with`.

    `slots` caps the connections open at once across the clients sharing it (`HostClients`
    passes one to all of its clients); without it the client has its own `max_connections`.
    `resolver` replaces the system's (tests)."""
    slots = slots or ConnectionSlots(settings.max_connections)
    direct, mounts = transports(settings, resolver=resolver, slots=slots)
    return httpx.AsyncClient(
        transport=direct,
        mounts=mounts,
        headers={"User-Agent": settings.user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.connect_timeout,
        ),
        follow_redirects=False,
        trust_env=False,  # the environment is read by `transports` (proxies) and its TLS context
    )


@dataclass(frozen=True, slots=True)
class _Answer:
    """A response's status line and headers (names lower-cased, decoded as httpx decodes them)."""

    url: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, url: str, response: httpx.Response) -> _Answer:
        return cls(url, response.status_code, response.reason_phrase, tuple(response.headers.multi_items()))

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


class HostClients:
    """A client per host (see `make_client`), for a crawl that talks to many hosts at once:
    httpcore scans every pooled connection on each request, so one pool shared by many hosts
    costs more per request the more hosts it holds. All of them share one `max_connections`:
    a connection past it first closes the least recently used client not in use.

    At most `keep` clients stay open; past that, the least recently used one not in use is
    closed."""

    def __init__(self, settings: Settings, keep: int = 64) -> None:
        self.settings = settings
        self.keep = max(1, keep)
        self.slots = ConnectionSlots(settings.max_connections, reclaim=self._close_one_idle)
        self._clients: OrderedDict[str, Client] = OrderedDict()
        self._busy: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._clients)

    @asynccontextmanager
    async def client(self, host: str) -> AsyncIterator[Client]:
        """The client of `host`, held (never closed) until the block ends."""
        client = self._clients.get(host)
        if client is None:
            client = self._clients[host] = make_client(self.settings, slots=self.slots)
        self._clients.move_to_end(host)
        self._busy[host] += 1
        try:
            yield client
        finally:
            self._busy[host] -= 1
            if self._busy[host] <= 0:
                del self._busy[host]
            await self._trim()

    async def _trim(self) -> None:
        while len(self._clients) > self.keep and await self._close_one_idle():
            pass

    async def _close_one_idle(self) -> bool:
        """Close the least recently used client not in use (its connections give their slots
        back); False when every client is in use."""
        idle = next((host for host in self._clients if host not in self._busy), None)
        if idle is None:
            return False
        await self._clients.pop(idle).aclose()
        return True

    async def aclose(self) -> None:
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            await client.aclose()


# --- one request, then the retrying fetch ---------------------------------------------------------


class _Retryable(FetchError):
    """A transient failure worth another attempt; wraps the error to raise if attempts run out."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(error.url, error.reason, status=error.status)
        self.error = error
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _map_transport(url: str, exc: httpx.TransportError, settings: Settings, reading: bool) -> FetchError:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return TransportError(url, f"cannot connect: {detail}")
    if isinstance(exc, httpx.ReadTimeout):
        return TransportError(url, f"timed out reading the answer (nothing for {settings.read_timeout:g}s)")
    if isinstance(exc, httpx.PoolTimeout):
        return TransportError(url, f"no free connection within {settings.connect_timeout:g}s (max_connections)")
    if isinstance(exc, httpx.ProxyError):
        return TransportError(url, f"the proxy refused or failed the request: {detail}")
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)):
        where = "mid-response" if reading else "before the answer"
        return TransportError(url, f"connection broken {where}: {detail}")
    return TransportError(url, detail)


async def _attempt(
    client: Client,
    url: str,
    settings: Settings,
    headers: dict[str, str],
    limit: int,
    truncate: bool,
) -> tuple[_Answer, bytes, list[str]]:
    """One attempt: follow redirects by hand (each hop checked: `fetch` checked `url`), read the
    body with caps."""
    hops: list[str] = []
    current = url
    while True:
        try:
            reading = False
            request = client.build_request("GET", current, headers=headers or None)
            response = await client.send(request, stream=True)
            try:
                answer = _Answer.of(current, response)
                location = answer.header("location")
                if answer.status in REDIRECT_STATUSES and location is not None:
                    if len(hops) >= settings.max_redirects:
                        raise TransportError(
                            url, f"more than {settings.max_redirects} redirects (last {current})"
                        )
                    hops.append(current)
                    current = urljoin(current, location.strip())
                    check_url(current)
                    continue
                reading = True
                body = await read_body(
                    response.aiter_raw(), url, limit,
                    encoding=answer.header("content-encoding"),
                    declared=answer.header("content-length"),
                    truncate=truncate,
                )
                return answer, body, hops
            finally:
                await response.aclose()
        except AddressRefused as exc:
            raise BlockedAddress(
                url,
                f"{exc.host} resolves to non-public address {exc.address}; "
                "pass --allow-private (or ARCHIVER_ALLOW_PRIVATE=1) to fetch local addresses",
            ) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise InvalidURL(current, f"malformed URL ({exc})") from None
        except httpx.TransportError as exc:
            raise _Retryable(_map_transport(url, exc, settings, reading)) from exc


async def fetch(
    client: Client,
    url: str,
    settings: Settings,
    *,
    headers: dict[str, str] | None = None,
    sleep: Sleep = asyncio.sleep,
    max_bytes: int | None = None,
    truncate: bool = False,
    until: float | None = None,
) -> Fetched:
    """Fetch one URL with retries; return a Fetched (2xx or 304) or raise a FetchError.

    Time is bounded three ways: one attempt by `settings.deadline`; the URL, all its attempts
    and the waits between them, by `settings.url_budget` (an attempt gets only what is left of
    it, and a retry whose wait would spend it is not made); and no retry starts after `until`
    (a `time.monotonic()` time: the crawl's --max-duration). An attempt cut off by the deadline
    is not retried: a server that drips its answer will drip again (a crawl tries the URL in a
    later run). `max_bytes` overrides the body cap; with `truncate` a longer body is cut at the
    cap instead of failing (robots.txt: only its head is ever read)."""
    limit = settings.max_body_bytes if max_bytes is None else max_bytes
    check_url(url)
    started = time.monotonic()
    fetched_at = utc_now()
    attempts = 0
    slept = asked = 0.0  # seconds slept between attempts, and asked for (an injected sleep returns at once)
    why_stopped = ""

    def spent() -> float:
        """Seconds of the URL's budget used: real time, with waits counted as asked."""
        return time.monotonic() - started - slept + asked

    async def pause(seconds: float) -> None:
        nonlocal slept, asked
        before = time.monotonic()
        await sleep(seconds)
        slept += time.monotonic() - before
        asked += seconds

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, settings.retry_after_cap)
        return float(
            wait_exponential_jitter(
                multiplier=settings.backoff_base, max=settings.backoff_max, jitter=settings.backoff_base
            )(state)
        )

    def stop(state: RetryCallState) -> bool:
        nonlocal why_stopped
        if state.attempt_number >= settings.retries + 1:
            return True
        upcoming = state.upcoming_sleep
        if spent() + upcoming >= settings.url_budget:
            why_stopped = f"no retry: the URL's {settings.url_budget:g}s budget is spent"
            return True
        if until is not None and time.monotonic() + upcoming >= until:
            why_stopped = "no retry: the run's time is up"
            return True
        return False

    async def one() -> Fetched:
        nonlocal attempts
        attempts += 1
        allowed = min(settings.deadline, settings.url_budget - spent())
        try:
            async with asyncio.timeout(max(allowed, 0.001)):
                answer, body, hops = await _attempt(
                    client, url, settings, headers or {}, limit, truncate
                )
        except TimeoutError:
            if allowed < settings.deadline:
                raise TransportError(
                    url, f"no complete response within what was left of the URL's "
                    f"{settings.url_budget:g}s budget ({allowed:.1f}s)"
                ) from None
            raise TransportError(
                url, f"no complete response within the {settings.deadline:g}s deadline"
            ) from None
        status = answer.status
        if status in RETRY_STATUSES:
            error = HTTPStatusError(url, f"HTTP {status} {answer.reason}", status=status)
            raise _Retryable(error, parse_retry_after(answer.header("retry-after")))
        if status >= 400 or (300 <= status < 400 and status != 304):
            raise HTTPStatusError(url, f"HTTP {status} {answer.reason}", status=status)
        return Fetched(
            url=url,
            final_url=answer.url,
            status=status,
            headers=answer.headers,
            content=body,
            fetched_at=fetched_at,
            duration=round(time.monotonic() - started, 4),
            attempts=attempts,
            redirects=tuple(hops),
        )

    retrying = AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception_type(_Retryable),
        sleep=pause,
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                return await one()
    except _Retryable as exc:
        error = exc.error
        error.attempts = attempts
        notes = [f"after {attempts} attempts"] if attempts > 1 else []
        if why_stopped:
            notes.append(why_stopped)
        if notes:
            error.message = f"{error.message} ({'; '.join(notes)})"
            error.reason = f"{error.reason} ({'; '.join(notes)})"
        raise error from None
    except FetchError as exc:
        exc.attempts = attempts
        raise
    raise AssertionError("unreachable")  # pragma: no cover


def fetch_sync(url: str, settings: Settings, *, sleep: Sleep = asyncio.sleep) -> Fetched:
    """Fetch one URL from synchronous code (a fresh client and event loop)."""

    async def run() -> Fetched:
        async with make_client(settings) as client:
            return await fetch(client, url, settings, sleep=sleep)

    return asyncio.run(run())
