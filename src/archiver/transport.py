"""The httpx side of `fetch`'s network: transports over httpcore pools whose sockets come from
`archiver.network`'s guarded backend, and the proxies and TLS settings a client is built with.

- `GuardedTransport` wraps one httpcore pool (direct, or through a proxy) as an httpx
  transport, raising httpx's exceptions. A proxy's pool dials the proxy, whatever its address
  (the user configured it); before each request its transport resolves the target host and
  refuses it by the same policy (the proxy then resolves the name again: run the proxy with
  egress rules of its own where that gap matters).
- `transports` builds a client's direct transport and its proxy mounts: `proxy` from the
  settings, else HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY from the environment, read as
  httpx's own `trust_env` reads them. TLS verification follows httpx too: SSL_CERT_FILE or
  SSL_CERT_DIR when set, else certifi's CA bundle. `http2 = true` offers HTTP/2 by ALPN.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import ssl
import urllib.request
from typing import Any

import httpcore
import httpx

from archiver.config import Settings
from archiver.errors import ConfigError
from archiver.network import AddressPolicy, ConnectionSlots, GuardedBackend, Resolver, resolve

KEEPALIVE_EXPIRY = 5.0
MAX_KEEPALIVE = 20


# --- httpx transports ---------------------------------------------------------------------------------

_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


def _as_httpx(exc: Exception) -> Exception | None:
    """An httpcore exception as httpx's (as httpx's own transport maps them); None for others."""
    for core, mapped in _ERRORS:
        if isinstance(exc, core):
            return mapped(str(exc))
    return None


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> Any:
        try:
            async for part in self._stream:
                yield part
        except Exception as exc:
            if (mapped := _as_httpx(exc)) is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        except Exception as exc:
            if (mapped := _as_httpx(exc)) is None:
                raise
            raise mapped from exc


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpcore pool (direct, or through a proxy) as an httpx transport.

    `target_guard`, for a proxy's pool, resolves and checks each request's host before the
    request goes to the proxy (a direct pool checks the addresses it dials instead)."""

    def __init__(self, pool: httpcore.AsyncConnectionPool, target_guard: GuardedBackend | None = None) -> None:
        self.pool = pool
        self.target_guard = target_guard

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        try:
            if self.target_guard is not None:
                await self._check_target(url, request.extensions.get("timeout", {}).get("connect"))
            core = httpcore.Request(
                method=request.method,
                url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
                headers=request.headers.raw,
                content=request.stream,
                extensions=request.extensions,
            )
            response = await self.pool.handle_async_request(core)
        except Exception as exc:
            if (mapped := _as_httpx(exc)) is None:
                raise
            raise mapped from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    async def _check_target(self, url: httpx.URL, timeout: float | None) -> None:
        assert self.target_guard is not None
        try:
            async with asyncio.timeout(timeout):
                port = url.port or (443 if url.scheme == "https" else 80)
                await self.target_guard.check(url.raw_host.decode("ascii"), port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"timed out resolving host {url.host!r}") from None

    async def aclose(self) -> None:
        await self.pool.aclose()


# --- what a client is built from ------------------------------------------------------------------------


@functools.cache
def _tls_context(http2: bool, trust_env: bool, cafile: str | None, capath: str | None) -> ssl.SSLContext:
    # httpcore sets ALPN on the context it is given for each connection, so the contexts of
    # HTTP/1.1-only and HTTP/2 pools are kept apart
    return httpx.create_ssl_context(trust_env=trust_env)


def tls_context(http2: bool, trust_env: bool) -> ssl.SSLContext:
    """httpx's verifying TLS context (SSL_CERT_FILE / SSL_CERT_DIR when trusted, else certifi),
    made once per environment: loading a CA store takes tens of milliseconds."""
    env = os.environ if trust_env else {}
    return _tls_context(http2, trust_env, env.get("SSL_CERT_FILE"), env.get("SSL_CERT_DIR"))


def environment_proxies() -> dict[str, str | None]:
    """The proxy mounts httpx's `trust_env` reads from the environment: pattern -> proxy URL, or
    None for a NO_PROXY host (sent directly)."""
    found = urllib.request.getproxies()
    mounts: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        if found.get(scheme):
            url = found[scheme]
            mounts[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for host in (h.strip() for h in found.get("no", "").split(",")):
        if host == "*":
            return {}
        if not host:
            continue
        if "://" in host:
            mounts[host] = None
        elif _is_ip(host, 4) or host.lower() == "localhost":
            mounts[f"all://{host}"] = None
        elif _is_ip(host, 6):
            mounts[f"all://[{host}]"] = None
        else:
            mounts[f"all://*{host}"] = None  # .example.com: its subdomains; example.com: both
    return mounts


def _is_ip(host: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(host.split("/")[0]).version == version
    except ValueError:
        return False


def _pool_options(settings: Settings) -> dict[str, Any]:
    return {
        "max_connections": settings.max_connections,
        "max_keepalive_connections": MAX_KEEPALIVE,
        "keepalive_expiry": KEEPALIVE_EXPIRY,
        "http1": True,
        "http2": settings.http2,
    }


def _proxy_transport(
    url: str, source: str, settings: Settings, backend: GuardedBackend, target_guard: GuardedBackend
) -> GuardedTransport:
    try:
        proxy = httpx.Proxy(url)
    except (ValueError, httpx.InvalidURL):
        proxy = None
    if proxy is None or proxy.url.scheme not in ("http", "https") or not proxy.url.host:
        raise ConfigError(
            f"{source}: {url!r} is not an http:// or https:// proxy URL; "
            "give one such as http://proxy.example:3128"
        )
    pool = httpcore.AsyncHTTPProxy(
        proxy_url=httpcore.URL(
            scheme=proxy.url.raw_scheme, host=proxy.url.raw_host, port=proxy.url.port, target=proxy.url.raw_path
        ),
        proxy_auth=proxy.raw_auth,
        proxy_headers=proxy.headers.raw,
        ssl_context=tls_context(settings.http2, settings.trust_env),
        proxy_ssl_context=tls_context(False, settings.trust_env) if proxy.url.scheme == "https" else None,
        network_backend=backend,
        **_pool_options(settings),
    )
    return GuardedTransport(pool, target_guard=target_guard)


def transports(
    settings: Settings, *, resolver: Resolver = resolve, slots: ConnectionSlots | None = None
) -> tuple[GuardedTransport, dict[str, GuardedTransport | None]]:
    """A client's direct transport and its proxy mounts (httpx `mounts`: URL pattern ->
    transport, None for hosts sent directly), all dialling through `slots` when given."""
    if settings.http2:
        try:
            import h2  # noqa: F401
        except ImportError:
            raise ConfigError(
                "http2 = true needs the h2 package: pip install 'archiver[http2]'"
            ) from None
    guard = GuardedBackend(
        AddressPolicy(settings.allow_private, settings.allow_networks), resolver=resolver, slots=slots
    )
    direct = GuardedTransport(
        httpcore.AsyncConnectionPool(
            ssl_context=tls_context(settings.http2, settings.trust_env),
            network_backend=guard,
            **_pool_options(settings),
        )
    )
    if settings.proxy:
        wanted: dict[str, str | None] = {"all://": settings.proxy}
        source = "proxy"
    elif settings.trust_env:
        wanted = environment_proxies()
        source = "the environment's HTTP_PROXY / HTTPS_PROXY / ALL_PROXY"
    else:
        wanted = {}
        source = ""
    to_proxy = GuardedBackend(None, resolver=resolver, slots=slots)  # the proxy: any address
    made: dict[str, GuardedTransport] = {}
    mounts: dict[str, GuardedTransport | None] = {}
    for pattern, url in wanted.items():
        if url is None:
            mounts[pattern] = None
        else:
            if url not in made:
                made[url] = _proxy_transport(url, source, settings, to_proxy, guard)
            mounts[pattern] = made[url]
    return direct, mounts
