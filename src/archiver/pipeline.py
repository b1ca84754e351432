"""The stages between the network and the database, as plain functions over records.

`fetch_and_extract` is the unit of work (network in, record out, no database); `archive_urls`
runs it for a one-off list of URLs, grouped per host, and hands each result to the store in this
one process.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from urllib.parse import urlsplit

import sqlite_utils

from archiver import store
from archiver.config import Settings
from archiver.errors import ArchiverError, ExtractError, FetchError, NotHTML
from archiver.extract import extract_article
from archiver.fetch import Client, Sleep, fetch, make_client, utc_now
from archiver.models import Article, Fetched, FetchFailure, FetchResult
from archiver.sites import SiteRules, rules_for_url

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/html", ""})


def ensure_html(fetched: Fetched) -> None:
    """Raise NotHTML unless the response is (or sniffs as) an HTML page."""
    kind = fetched.content_type
    if kind in HTML_TYPES:
        return
    if kind in ("text/plain", "application/octet-stream"):
        head = fetched.content[:1024].lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html")):
            return
    raise NotHTML(
        fetched.url, f"not an HTML page (Content-Type {kind}); archiver stores news article pages"
    )


def extract_fetched(fetched: Fetched, sites: Sequence[SiteRules] = ()) -> Article:
    """Extract the article from a fetched page (pure: no network, no database)."""
    ensure_html(fetched)
    if not fetched.content.strip():
        raise ExtractError(fetched.url, "empty body; nothing to extract")
    rules = rules_for_url(sites, fetched.final_url)
    return extract_article(fetched.content, fetched.final_url, charset=fetched.charset, rules=rules)


def failure_of(url: str, exc: ArchiverError) -> FetchFailure:
    status = exc.status if isinstance(exc, FetchError) else None
    attempts = exc.attempts if isinstance(exc, FetchError) else 1
    reason = exc.reason if isinstance(exc, (FetchError, ExtractError)) else str(exc)
    return FetchFailure(url=url, kind=exc.kind, message=reason, status=status, attempts=attempts)


async def fetch_and_extract(
    client: Client,
    url: str,
    settings: Settings,
    *,
    sites: Sequence[SiteRules] = (),
    headers: dict[str, str] | None = None,
    sleep: Sleep = asyncio.sleep,
) -> FetchResult:
    """Fetch one URL and extract its article; failures come back as records, not exceptions."""
    started_at = utc_now()
    started = time.monotonic()
    fetched: Fetched | None = None
    try:
        fetched = await fetch(client, url, settings, headers=headers, sleep=sleep)
        article = None if fetched.status == 304 else extract_fetched(fetched, sites)
    except ArchiverError as exc:
        return FetchResult(
            url=url,
            started_at=started_at,
            duration=round(time.monotonic() - started, 4),
            fetched=fetched,
            failure=failure_of(url, exc),
        )
    return FetchResult(
        url=url,
        started_at=started_at,
        duration=round(time.monotonic() - started, 4),
        fetched=fetched,
        article=article,
    )


def group_by_host(urls: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for url in urls:
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            host = ""
        groups[host].append(url)
    return groups


def archive_urls(
    db: sqlite_utils.Database,
    urls: Sequence[str],
    settings: Settings,
    *,
    sites: Sequence[SiteRules] = (),
    sleep: Sleep = asyncio.sleep,
) -> list[tuple[FetchResult, store.StoreOutcome]]:
    """Fetch, extract and store each URL (hosts in parallel, one at a time per host), in order."""

    urls = list(dict.fromkeys(urls))

    async def run() -> dict[str, tuple[FetchResult, store.StoreOutcome]]:
        done: dict[str, tuple[FetchResult, store.StoreOutcome]] = {}
        async with make_client(settings) as client:

            async def host_worker(host_urls: list[str]) -> None:
                for url in host_urls:
                    result = await fetch_and_extract(client, url, settings, sites=sites, sleep=sleep)
                    # stored as soon as it is done, so an interrupted run keeps what it finished
                    rules = rules_for_url(sites, url)
                    outcome = store.store_result(db, result, site=rules.name if rules else None)
                    done[url] = (result, outcome)

            await asyncio.gather(*(host_worker(g) for g in group_by_host(urls).values()))
        return done

    done = asyncio.run(run())
    return [done[url] for url in urls]
