"""The scheduled crawl: sources -> discover -> frontier -> fetch -> extract -> store.

One crawl run, as `archiver crawl` and `archiver demo` run it:

1. The configured sources (site files' feeds, sitemaps and section pages, or `--start` URLs) go
   into the frontier (SQLite, `archiver.store.frontier`) as due now.
2. Hosts with due URLs are crawled in parallel (at most `max_hosts`), each by one worker that
   honours robots.txt and waits `host_delay` (or the site's Crawl-delay, capped) between
   requests, `host_concurrency` requests at a time.
3. Each host's due URLs go, as units of work ("discover" these sources, "fetch and extract"
   these articles: `archiver.units.WorkUnit`), to an executor with the robots.txt decision
   and the validators already made here. By default the fetches run on this event loop and the
   pure stages (discovery for sources, `archiver.discover`; extraction for articles,
   `archiver.jobs`) in a pool of worker processes, the queue between them
   bounded so memory stays flat; with `--cluster` a Dask worker runs the whole unit. Either way
   the outcomes come back as plain records and this process alone writes SQLite.
4. Discovered URLs join the frontier (deduplicated against it and the archive); articles are
   stored (`Archive.store_result`: new, changed -> a new version, unchanged); the frontier
   row records the outcome and when the URL is next due: retries for transient failures
   (`RETRY_AFTER`), revisits of recent articles on a decaying schedule (`REVISIT_AFTER`).

Sources and known articles are fetched with conditional GETs (If-None-Match/If-Modified-Since);
a 304 stores nothing new. Each outcome's writes (its archive rows and its frontier row) are
applied together or not at all, and outcomes are committed in groups of at most `COMMIT_ITEMS`
or `COMMIT_SECONDS` (`store.GroupCommit`), so a crawl killed at any moment leaves a consistent
archive, loses at most the last group (its URLs are still due: they are fetched again), and the
next run carries on where it stopped.

The package, one concern a module:

    sources    Source, plan_sources: what a run starts from
    policy     Politeness, retry and revisit schedules, batch and commit sizes (data, pure)
    lock       crawl_lock: one crawl per archive
    robots     RobotsService: robots.txt per origin, cached in the archive
    outcomes   Outcomes: what each result changes in the archive and the frontier (no event loop)
    scheduler  Crawler: hosts, units, signals, time bounds, the run's row and report
    run        crawl (an open archive), run_crawl (the lock too: `archiver crawl`, `archiver demo`)
"""

from __future__ import annotations

from archiver.crawl.lock import EXIT_LOCKED, crawl_lock, lock_path
from archiver.crawl.outcomes import Counts, CrawlEvent, Outcomes, Progress
from archiver.crawl.policy import (
    RETRY_AFTER,
    REVISIT_AFTER,
    SLOW_RETRY_AFTER,
    Politeness,
    is_transient,
    next_retry,
    next_revisit,
)
from archiver.crawl.run import crawl, run_crawl
from archiver.crawl.scheduler import Crawler
from archiver.crawl.sources import Source, plan_sources, sources_for_site
from archiver.errors import CrawlLocked

__all__ = [
    "EXIT_LOCKED",
    "RETRY_AFTER",
    "REVISIT_AFTER",
    "SLOW_RETRY_AFTER",
    "Counts",
    "CrawlEvent",
    "CrawlLocked",
    "Crawler",
    "Outcomes",
    "Politeness",
    "Progress",
    "Source",
    "crawl",
    "crawl_lock",
    "is_transient",
    "lock_path",
    "next_retry",
    "next_revisit",
    "plan_sources",
    "run_crawl",
    "sources_for_site",
]
