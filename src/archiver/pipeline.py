"""The stages between the network and the database, as plain functions over records.

`fetch_and_extract` is the unit of work (network in, record out, no database); `archive_urls`
runs it for a one-off list of URLs, grouped per host, extracting in worker processes (each page
within `extract_timeout`), and hands each result to the store in this one process.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, BinaryIO

from archiver import store
from archiver.config import Settings
from archiver.errors import ArchiverError, ExtractError, TooLarge, WorkerDied
from archiver.fetch import Client, Sleep, fetch, make_client
from archiver.jobs import extract_file_job, extract_job, extract_page, failure_of
from archiver.models import Article, Fetched, FetchFailure, FetchResult
from archiver.pools import local_pool, started_pool
from archiver.rules import SiteRules, rules_for_url
from archiver.timestamps import utc_now
from archiver.urls import group_by_host


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
    duration: float | None = None  # the fetch's seconds (as a crawl's): extraction not counted
    try:
        fetched = await fetch(client, url, settings, headers=headers, sleep=sleep)
        duration = fetched.duration
        if fetched.status != 304:
            outcome = await _extract(fetched, sites, pool)
    except ArchiverError as exc:
        outcome = failure_of(url, exc)
    failure = outcome if isinstance(outcome, FetchFailure) else None
    return FetchResult(
        url=url,
        started_at=started_at,
        duration=round(time.monotonic() - started, 4) if duration is None else duration,
        fetched=fetched,
        article=outcome if isinstance(outcome, Article) else None,
        failure=replace(failure, url=url) if failure else None,
    )


async def _extract(fetched: Fetched, sites: Sequence[SiteRules], pool: Any) -> Article | FetchFailure:
    """The page's article, or why there is none (WorkerDied, a timeout included, as a record)."""
    if pool is None:
        return extract_page(fetched, sites)
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


def archive_urls(
    db: store.Archive,
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
                        outcome = db.store_result(result, site=rules.name if rules else None)
                        done[url] = (result, outcome)

                await asyncio.gather(*(host_worker(g) for g in groups.values()))
        finally:
            await extraction.close()
        return done

    done = asyncio.run(run())
    return [done[url] for url in urls]
