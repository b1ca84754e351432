"""The stages between the network and the database, as plain functions over records.

`fetch_and_extract` is the unit of work (network in, record out, no database); `archive_urls`
runs it for a one-off list of URLs, grouped per host, extracting in worker processes (each page
within `extract_timeout`), and hands each result to the store in this one process.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import sqlite_utils

from archiver import store
from archiver.config import Settings
from archiver.errors import ArchiverError, ExtractError, FetchError, NotHTML, TooLarge, WorkerDied
from archiver.extract import extract_article
from archiver.fetch import Client, Sleep, fetch, make_client, utc_now
from archiver.models import Article, Fetched, FetchFailure, FetchResult
from archiver.sites import SiteRules, rules_for_url
from archiver.workers import local_pool, started_pool

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
    pool: Any = None,
) -> FetchResult:
    """Fetch one URL and extract its article (in `pool`, a started `archiver.workers` pool whose
    processes hold `sites`, when given; here otherwise); failures come back as records."""
    started_at = utc_now()
    started = time.monotonic()
    fetched: Fetched | None = None
    outcome: Article | FetchFailure | None = None
    try:
        fetched = await fetch(client, url, settings, headers=headers, sleep=sleep)
        if fetched.status != 304:
            outcome = await _extract(fetched, sites, pool)
    except ArchiverError as exc:
        outcome = failure_of(url, exc)
    failure = outcome if isinstance(outcome, FetchFailure) else None
    return FetchResult(
        url=url,
        started_at=started_at,
        duration=round(time.monotonic() - started, 4),
        fetched=fetched,
        article=outcome if isinstance(outcome, Article) else None,
        failure=replace(failure, url=url) if failure else None,
    )


async def _extract(fetched: Fetched, sites: Sequence[SiteRules], pool: Any) -> Article | FetchFailure:
    """The page's article, or why there is none (WorkerDied, a timeout included, as a record)."""
    if pool is None:
        return extract_fetched(fetched, sites)
    from archiver.executor import extract_job

    try:
        result: Article | FetchFailure = await pool.run(extract_job, fetched)
    except WorkerDied as exc:  # stopped past extract_timeout, or brought down by the page
        return failure_of(fetched.url, exc)
    return result


def read_capped(stream: BinaryIO, limit: int, name: str) -> bytes:
    """At most `limit` bytes of a file or stream (TooLarge past that, read no further): a page
    given on the command line is held to the same cap as a fetched one, so /dev/zero fails fast."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(name, f"over the {limit}-byte cap (max_body_bytes); is this an HTML page? "
                             "raise max_body_bytes in archiver.toml for a larger one")
    return bytes(data)


def extract_file(stream: BinaryIO, url: str, settings: Settings, *, charset: str | None = None,
                 sites: Sequence[SiteRules] = (),
                 pool: Callable[[Sequence[SiteRules], int], Any] = local_pool) -> Article:
    """Extract the article of a saved page (`archiver extract`): read with the body cap, and run
    in a worker process within `settings.extract_timeout`, as a crawl would. Raises the
    ArchiverError the extraction ended in."""
    name = getattr(stream, "name", "-")
    content = read_capped(stream, settings.max_body_bytes, str(name))
    headers = (("content-type", f"text/html; charset={charset}" if charset else "text/html"),)
    fetched = Fetched(url, url, 200, headers, content, utc_now(), 0.0)

    async def run() -> Article:
        extraction = await started_pool(pool, sites, 1, settings.extract_timeout)
        try:
            result: Article | FetchFailure = await extraction.run(extract_file_job, fetched)
        except WorkerDied as exc:  # stopped past extract_timeout, or brought down by the page
            raise ExtractError(str(name), exc.message) from None
        finally:
            await extraction.close()
        if isinstance(result, FetchFailure):
            raise ExtractError(str(name), result.message)
        return result

    return asyncio.run(run())


def extract_file_job(fetched: Fetched) -> Article | FetchFailure:
    """`archiver extract`'s job in its worker: the page as given (no Content-Type check: a saved
    file has none), with the site rules the worker holds."""
    from archiver.executor import worker_sites

    try:
        if not fetched.content.strip():
            raise ExtractError(fetched.url, "empty file; nothing to extract")
        rules = rules_for_url(worker_sites(), fetched.final_url)
        return extract_article(fetched.content, fetched.final_url, charset=fetched.charset, rules=rules)
    except ArchiverError as exc:
        return failure_of(fetched.url, exc)


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
    pool: Callable[[Sequence[SiteRules], int], Any] = local_pool,
) -> list[tuple[FetchResult, store.StoreOutcome]]:
    """Fetch, extract and store each URL (hosts in parallel, one at a time per host), in order.
    Pages are extracted in worker processes from `pool`: one that takes longer than
    `settings.extract_timeout` fails (kind timeout) and the others go on."""

    urls = list(dict.fromkeys(urls))
    groups = group_by_host(urls)

    async def run() -> dict[str, tuple[FetchResult, store.StoreOutcome]]:
        done: dict[str, tuple[FetchResult, store.StoreOutcome]] = {}
        workers = min(len(groups), settings.extract_workers or os.cpu_count() or 1)
        # first: the workers fork from this process before anything here starts a thread
        extraction = await started_pool(pool, sites, workers, settings.extract_timeout)
        try:
            async with make_client(settings) as client:

                async def host_worker(host_urls: list[str]) -> None:
                    for url in host_urls:
                        result = await fetch_and_extract(client, url, settings, sites=sites, sleep=sleep,
                                                         pool=extraction)
                        # stored as soon as it is done, so an interrupted run keeps what it finished
                        rules = rules_for_url(sites, url)
                        outcome = store.store_result(db, result, site=rules.name if rules else None)
                        done[url] = (result, outcome)

                await asyncio.gather(*(host_worker(g) for g in groups.values()))
        finally:
            await extraction.close()
        return done

    done = asyncio.run(run())
    return [done[url] for url in urls]
