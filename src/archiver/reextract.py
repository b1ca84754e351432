"""Re-extraction: run the current extractors over the raw pages already in the archive.

    reextract(db, sites, site=None) -> ReextractReport

For each article, its newest stored page goes through `extract_fetched` again (no network), in
worker processes, each page within `extract_timeout` (one past it fails, as a crawl's would). A
different title or body becomes a new version with its diff; different metadata or related links
are recorded in the article's change log (cause `reextract`, so a reader can tell an extractor's
change from the page's); an identical result changes nothing. Pages whose extraction failed
when they were fetched are tried again too, and become articles when the extractors now succeed.
Each article is written in its own short transaction, so a crawl can run at the same time and an
interrupted run keeps what it finished.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from archiver import store
from archiver.config import Settings
from archiver.errors import WorkerDied
from archiver.export import check_site
from archiver.jobs import extract_job, failure_of
from archiver.models import Article, Fetched, FetchFailure
from archiver.pools import local_pool, started_pool
from archiver.rules import SiteRules, rules_for_url
from archiver.timestamps import utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReextractReport:
    """What a re-extraction did, page by page counted by outcome."""

    examined: int
    outcomes: dict[str, int] = field(default_factory=dict)  # changed, unchanged, new, failed, skipped
    failures: tuple[tuple[int, str], ...] = ()  # (page id, why) for pages that still fail

    def count(self, outcome: str) -> int:
        return self.outcomes.get(outcome, 0)

    @property
    def changed(self) -> int:
        """Articles that changed (a new version, or recorded changes of other fields) or were
        archived for the first time."""
        return self.count("changed") + self.count("new")


def reextract(
    db: store.Archive,
    sites: Sequence[SiteRules] = (),
    *,
    site: str | None = None,
    workers: int = 0,
    extract_timeout: float | None = Settings.extract_timeout,
    pool: Callable[[Sequence[SiteRules], int], Any] = local_pool,
) -> ReextractReport:
    """Re-extract the stored pages of every article (or of one site's); see the module doc.

    Pages are extracted in worker processes (`workers`, 0: one per core); one that takes longer
    than `extract_timeout` seconds has its worker stopped and counts as failed."""
    check_site(db, site)
    targets = db.reextract_targets(site)
    outcomes: Counter[str] = Counter()
    failures: list[tuple[int, str]] = []
    at = utc_now()

    def settle(target: store.ReextractTarget, fetched: Fetched, result: Article | FetchFailure) -> None:
        if isinstance(result, FetchFailure):
            if result.kind == "not-html":
                outcomes["skipped"] += 1  # a stored PDF or feed: nothing for the extractors
                return
            outcomes["failed"] += 1
            failures.append((target.page_id, f"{fetched.url}: {result.message}"))
            log.info("page %d (%s) still fails: %s", target.page_id, fetched.url, result.message)
            return
        rules = rules_for_url(list(sites), fetched.final_url)
        stored = db.save_reextracted(target, result, at=at, site=rules.name if rules else target.site)
        outcomes[stored.outcome] += 1
        if stored.outcome in ("changed", "new"):
            log.info("article %s: %s (version %s%s)", stored.article_id, stored.outcome, stored.version,
                     f"; changed: {', '.join(stored.changed)}" if stored.changed else "")

    async def run() -> None:
        if not targets:
            return
        size = max(1, min(len(targets), workers or os.cpu_count() or 1))
        extraction = await started_pool(pool, sites, size, extract_timeout)
        window: deque[tuple[store.ReextractTarget, Fetched, asyncio.Future[Any]]] = deque()
        try:
            for target in targets:
                fetched = db.load_page(target.page_id)
                window.append((target, fetched, asyncio.ensure_future(extraction.run(extract_job, fetched))))
                while len(window) > 2 * size:
                    await _settle_next(window, settle)
            while window:
                await _settle_next(window, settle)
        finally:
            for _, _, job in window:
                job.cancel()
            await extraction.close()

    asyncio.run(run())
    return ReextractReport(len(targets), dict(outcomes), tuple(failures))


async def _settle_next(
    window: deque[tuple[store.ReextractTarget, Fetched, asyncio.Future[Any]]],
    settle: Callable[[store.ReextractTarget, Fetched, Article | FetchFailure], None],
) -> None:
    """Wait for the oldest page in the window and record what became of it."""
    target, fetched, job = window.popleft()
    try:
        result = await job
    except WorkerDied as exc:  # stopped past extract_timeout, or brought down by the page
        result = failure_of(fetched.url, exc)
    settle(target, fetched, result)
