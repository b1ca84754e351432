"""The crawl's entry points: `crawl` over an open archive, `run_crawl` with the lock (what
`archiver crawl` and `archiver demo` run)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver import store
from archiver.config import Settings
from archiver.crawl.lock import crawl_lock
from archiver.crawl.outcomes import Progress
from archiver.crawl.scheduler import Crawler
from archiver.crawl.sources import Source
from archiver.executor import Executor, make_executor
from archiver.fetch import Sleep
from archiver.models import CrawlReport
from archiver.pools import worker_pool
from archiver.rules import SiteRules


def crawl(
    db: store.Archive,
    sources: Sequence[Source],
    settings: Settings,
    *,
    sites: Sequence[SiteRules] = (),
    command: str = "crawl",
    progress: Progress | None = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Sleep = asyncio.sleep,
    pool: Callable[[Sequence[SiteRules], int], Any] = worker_pool,
    executor: Executor | None = None,
) -> CrawlReport:
    """Run one crawl over an open archive and return its report (no lock: see `run_crawl`).

    Units of work run on `executor`: by default in this process (extraction in `pool`), or on
    the Dask scheduler that `settings.cluster` names (`archiver.executor`)."""
    crawler = Crawler(db, sources, settings, sites=sites, command=command, progress=progress,
                      clock=clock, sleep=sleep, pool=pool, executor=executor)
    return asyncio.run(crawler.run())


def run_crawl(
    db_path: str | Path,
    sources: Sequence[Source],
    settings: Settings,
    *,
    sites: Sequence[SiteRules] = (),
    command: str = "crawl",
    progress: Progress | None = None,
    pool: Callable[[Sequence[SiteRules], int], Any] = worker_pool,
    executor: Executor | None = None,
) -> CrawlReport:
    """Take the archive's crawl lock (CrawlLocked if another crawl has it), open the archive and
    crawl. This is what `archiver crawl` and `archiver demo` run.

    A cluster (`settings.cluster`) is reached first: one that does not answer fails before
    anything is made on disk, the archive and its lock file included."""
    store.check_archive_path(db_path, make=False)
    executor = executor or make_executor(settings, pool)

    async def run() -> CrawlReport:
        try:
            if executor.remote:
                await executor.start(sites, settings)
            with crawl_lock(db_path):
                db = store.Archive(db_path)
                try:
                    crawler = Crawler(db, sources, settings, sites=sites, command=command,
                                      progress=progress, executor=executor)
                    return await crawler.run()
                finally:
                    db.conn.close()
        finally:
            await executor.close()

    return asyncio.run(run())
