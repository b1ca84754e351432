"""The crawl's policy, as data and pure functions: politeness per host, when a failed URL is
tried again, when an archived article is revisited, how work is batched and committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from archiver.config import Settings
from archiver.fetch import RETRY_STATUSES
from archiver.models import FetchFailure
from archiver.timestamps import iso, parse_date, parse_iso

# Retry policy for transient failures (transport errors, 408/429/5xx after fetch's own retries):
# the n-th failure in a row is retried after RETRY_AFTER[n-1]; after the last, the URL is given up.
RETRY_AFTER = (timedelta(minutes=10), timedelta(hours=1), timedelta(hours=6), timedelta(days=1))
# The slow schedule, for a page whose extraction ran past extract_timeout: it will be as slow
# next time unless the extractor changes, so it is tried again rarely, then given up.
SLOW_RETRY_AFTER = (timedelta(days=1), timedelta(weeks=1))
# Revisits of an archived article, to catch corrections and updates: hours, then days, then
# weeks, then never (and never past `revisit_days` after publication).
REVISIT_AFTER = (
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=3),
    timedelta(weeks=1),
    timedelta(weeks=3),
)
# Feeds and sitemaps found by discovery (not configured) are read again after this long, or
# sooner when their sitemap index gives a newer lastmod. Configured sources are read every run.
SOURCE_RECHECK = timedelta(hours=1)
BATCH = 50  # due URLs read from the frontier at a time, per host
SAVE_EVERY = 100  # results between progress writes of the crawl_runs row
COMMIT_ITEMS = 200  # outcomes committed together at most (a kill loses at most these: refetched)
COMMIT_SECONDS = 1.0  # and the longest an outcome waits to be committed (and seen by readers)

# What a fetched page of a discovered URL teaches about its URL shape (archiver.store.discovery):
# an article of at least ARTICLE_WORDS words, or a page with fewer than NOT_ARTICLE_WORDS (or
# none: extraction failed, not HTML) that is not one.
ARTICLE_WORDS = 100
NOT_ARTICLE_WORDS = 30


@dataclass(frozen=True)
class Politeness:
    """How a crawl treats each host: requests spaced `host_delay` seconds apart (or the site's
    robots.txt Crawl-delay, capped at `crawl_delay_cap`), `host_concurrency` at a time, and
    whether robots.txt is obeyed."""

    host_delay: float = 1.0
    host_concurrency: int = 1
    crawl_delay_cap: float = 30.0
    respect_robots: bool = True

    @classmethod
    def of(cls, settings: Settings) -> Politeness:
        return cls(settings.host_delay, settings.host_concurrency, settings.crawl_delay_cap,
                   settings.respect_robots)

    def delay(self, asked: float | None) -> float:
        """The pause between requests to a host whose robots.txt asks for `asked` seconds."""
        if asked is None or not self.respect_robots:
            return self.host_delay
        return max(self.host_delay, min(asked, self.crawl_delay_cap))


def next_revisit(
    published_at: str | None,
    first_seen_at: str,
    revisits: int,
    fetched_at: str,
    revisit_days: float,
) -> str | None:
    """When an archived article is next fetched again: REVISIT_AFTER[revisits] after the last
    fetch, or never once the schedule is spent or the article is older than `revisit_days`."""
    if revisit_days <= 0 or revisits >= len(REVISIT_AFTER):
        return None
    born = parse_iso(parse_date(published_at) or first_seen_at)
    when = parse_iso(fetched_at) + REVISIT_AFTER[revisits]
    if when > born + timedelta(days=revisit_days):
        return None
    return iso(when)


def is_transient(failure: FetchFailure) -> bool:
    """Worth trying again in a later run: transport errors, 408/429/5xx, and a page whose
    extraction worker died (it may have been killed for another reason; a page that brings the
    extractor down every time is given up after the last retry)."""
    return failure.kind in ("transport", "worker") or (
        failure.kind == "http-status" and failure.status in RETRY_STATUSES
    )


def next_retry(failure: FetchFailure, attempts: int, now: datetime) -> str | None:
    """When a failed URL is tried again (`attempts` failures in a row so far), or never:
    transient failures on RETRY_AFTER, extraction timeouts on SLOW_RETRY_AFTER."""
    if failure.kind == "timeout":
        schedule: tuple[timedelta, ...] = SLOW_RETRY_AFTER
    elif is_transient(failure):
        schedule = RETRY_AFTER
    else:
        return None
    if attempts > len(schedule):
        return None
    return iso(now + schedule[attempts - 1])
