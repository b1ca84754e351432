"""What each fetched URL changes: the archive's rows and the frontier's, and the run's counts.

`Outcomes.apply` takes one URL's `FetchResult` (what the executor brought back) and its frontier
row, and stores the page and article, records a failure with its retry, schedules the next
revisit, queues what a source listed, and teaches the host's URL shapes. It is plain code over
an open archive: no event loop, so it is tested on records alone. The scheduler makes each call
one item of a group commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archiver.config import Settings
from archiver.crawl.policy import (
    ARTICLE_WORDS,
    NOT_ARTICLE_WORDS,
    SOURCE_RECHECK,
    next_retry,
    next_revisit,
)
from archiver.jobs import LinkRules
from archiver.models import Article, CrawlReport, Discovery, Fetched, FetchFailure, FetchResult
from archiver.rules import SiteRules, rules_for_url
from archiver.sections import url_shape
from archiver.store import Archive, discovery, frontier
from archiver.store.frontier import FrontierEntry, NewURL
from archiver.timestamps import iso, parse_date
from archiver.urls import host_key, site_of, try_normalize

log = logging.getLogger("archiver.crawl")


@dataclass(frozen=True)
class CrawlEvent:
    """One thing a crawl did, for live progress and logs."""

    kind: str  # start, fetched, discovered, blocked, failed, skipped, stop, done
    url: str = ""
    outcome: str = ""  # new, changed, unchanged, not-modified, failed, discovered, ...
    status: int | None = None
    detail: str = ""
    report: CrawlReport | None = None


Progress = Callable[[CrawlEvent], None]


@dataclass
class Counts:
    """What a run did so far (the report's counters)."""

    discovered: int = 0
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    not_modified: int = 0
    failed: int = 0
    robots_blocked: int = 0
    unreachable: int = 0
    links_articles: int = 0
    links_rejected: int = 0


class Outcomes:
    """Applies the results of one crawl run (`run_id`) to its archive, counting them."""

    def __init__(
        self,
        db: Archive,
        settings: Settings,
        *,
        sites: Sequence[SiteRules] = (),
        clock: Callable[[], datetime],
        emit: Callable[..., None] = lambda *args, **kwargs: None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.sites = list(sites)
        self.site_rules = {site.name: site for site in sites}
        self.clock = clock
        self.emit = emit
        self.run_id = 0
        self.counts = Counts()
        self.sources_read: set[str] = set()  # sources fetched this run (cycle detection)

    def apply(self, entry: FrontierEntry, outcome: FetchResult) -> None:
        """Apply one URL's result: its archive rows and its frontier row (the caller makes them
        one transaction)."""
        answer, started_at, duration = outcome.fetched, outcome.started_at, outcome.duration
        if answer is None:
            assert outcome.failure is not None, outcome
            self.failed(entry, outcome.failure, None, started_at, duration)
        elif answer.status == 304:
            self.not_modified(entry, answer, started_at, duration)
        elif entry.kind == "article":
            made = outcome.article or outcome.failure
            assert made is not None, outcome
            self.stored(entry, answer, made, started_at, duration)
        else:
            found = outcome.discovery or outcome.failure
            assert found is not None, outcome
            self.discovered(entry, answer, found, started_at, duration)

    def revisit(self, published: str | None, first_seen: str, revisits: int, fetched_at: str) -> str | None:
        return next_revisit(published, first_seen, revisits, fetched_at, self.settings.revisit_days)

    def link_rules(self, entry: FrontierEntry) -> LinkRules:
        """How a source's links are judged: its site's patterns, and (for pages) what the crawl
        learned of the host's URL shapes."""
        learned: tuple[tuple[str, int, int], ...] = ()
        if entry.kind in ("section", "start"):
            learned = tuple((shape, a, o) for shape, (a, o) in sorted(discovery.shape_counts(self.db, entry.host).items()))
        site = self.site_rules.get(entry.site or "")
        if site is None:
            return LinkRules(learned=learned)
        disc = site.discovery
        return LinkRules(disc.article_patterns, disc.exclude_patterns, site.domains, learned)

    def learn(self, entry: FrontierEntry, article: bool) -> None:
        """Count what a page of this URL's shape turned out to be, for judging the host's links."""
        discovery.count_shape(self.db, entry.host, url_shape(entry.url), article=article, now=iso(self.clock()))

    def site_for(self, url: str, fallback: str | None) -> str | None:
        rules = rules_for_url(self.sites, url)
        return rules.name if rules else fallback

    def failed(self, entry: FrontierEntry, failure: FetchFailure, fetched: Fetched | None,
                started_at: str, duration: float) -> None:
        now = self.clock()
        attempts = entry.attempts + 1
        retry = next_retry(failure, attempts, now)
        result = FetchResult(entry.url, started_at, round(duration, 4), fetched=fetched, failure=failure)
        self.db.store_result(result, site=entry.site, crawl_run_id=self.run_id)
        if entry.kind == "article" and failure.kind in ("extract", "not-html"):
            self.learn(entry, False)  # fetched fine, and no article in it
        frontier.update(
            self.db, entry.url, state="failed", attempts=attempts, last_attempt_at=iso(now),
            last_status=failure.status, last_error=f"{failure.kind}: {failure.message}"[:2000],
            next_attempt_at=retry, crawl_run_id=self.run_id,
        )
        self.counts.failed += 1
        log.warning("failed %s: %s%s", entry.url, failure.message,
                    f" (retry at {retry})" if retry else " (given up)")
        self.emit("failed", entry.url, "failed", failure.status, failure.message)

    def not_modified(self, entry: FrontierEntry, fetched: Fetched, started_at: str, duration: float) -> None:
        self.counts.not_modified += 1
        values: dict[str, Any] = dict(state="done", attempts=0, last_attempt_at=fetched.fetched_at,
                                      last_status=304, last_error=None, crawl_run_id=self.run_id)
        if entry.kind == "article":
            result = FetchResult(entry.url, started_at, round(duration, 4), fetched=fetched)
            self.db.store_result(result, site=entry.site, crawl_run_id=self.run_id)
            known = frontier.archived(self.db, entry.url)
            revisits = entry.revisits + (1 if entry.state != "queued" else 0)
            values.update(
                revisits=revisits,
                article_id=known.article_id if known else entry.article_id,
                next_attempt_at=self.revisit(
                    entry.published_at, known.first_seen_at if known else entry.discovered_at,
                    revisits, fetched.fetched_at,
                ),
            )
        else:
            values["next_attempt_at"] = self.source_next(entry)
        frontier.update(self.db, entry.url, **values)
        log.info("not modified %s", entry.url)
        self.emit("fetched", entry.url, "not-modified", 304)

    def source_next(self, entry: FrontierEntry) -> str | None:
        if entry.depth == 0:
            return None  # configured sources are made due by each run
        return iso(self.clock() + SOURCE_RECHECK)

    def stored(self, entry: FrontierEntry, fetched: Fetched, result: Article | FetchFailure,
                started_at: str, duration: float) -> None:
        if isinstance(result, FetchFailure):
            self.failed(entry, result, fetched, started_at, duration)
            return
        article = result
        outcome = self.db.store_result(
            FetchResult(entry.url, started_at, round(duration, 4), fetched=fetched, article=article),
            site=entry.site,
            crawl_run_id=self.run_id,
        )
        setattr(self.counts, outcome.outcome.replace("-", "_"), getattr(self.counts, outcome.outcome.replace("-", "_")) + 1)
        if article.word_count >= ARTICLE_WORDS:
            self.learn(entry, True)
        elif article.word_count < NOT_ARTICLE_WORDS:
            self.learn(entry, False)
        revisits = entry.revisits + (1 if entry.state != "queued" else 0)
        published = parse_date(article.published_at) or entry.published_at
        known = frontier.archived(self.db, article.key_url)
        first_seen = known.first_seen_at if known else fetched.fetched_at
        frontier.update(
            self.db, entry.url, state="done", attempts=0, last_attempt_at=fetched.fetched_at,
            last_status=fetched.status, last_error=None, etag=fetched.header("etag"),
            last_modified=fetched.header("last-modified"), article_id=outcome.article_id,
            published_at=published, revisits=revisits, crawl_run_id=self.run_id,
            next_attempt_at=self.revisit(published, first_seen, revisits, fetched.fetched_at),
        )
        for other in {fetched.final_url, article.key_url} - {entry.url}:
            alias = try_normalize(other)
            if alias and alias != entry.url and outcome.article_id:
                frontier.add_alias(
                    self.db, NewURL(alias, host_key(alias), "article", entry.site, entry.depth, entry.url),
                    outcome.article_id, fetched.fetched_at,
                )
        changed = f" (changed: {', '.join(outcome.changed)})" if outcome.changed else ""
        log.info("%s %s %r%s", outcome.outcome, entry.url, article.title, changed)
        self.emit("fetched", entry.url, outcome.outcome, fetched.status, article.title + changed)

    def discovered(self, entry: FrontierEntry, fetched: Fetched, found: Discovery | FetchFailure,
                    started_at: str, duration: float) -> None:
        if isinstance(found, FetchFailure):
            self.failed(entry, found, None, started_at, duration)
            return
        now = self.clock()
        depth = entry.depth + 1
        items: list[NewURL] = []
        for link in found.articles:
            items.append(NewURL(link.url, host_key(link.url), "article", self.site_for(link.url, entry.site),
                                depth, entry.url, link.published_at, link.modified_at))
        children = [(link.url, link.modified_at, "sitemap") for link in found.sitemaps]
        children += [(url, None, "feed") for url in found.feeds]
        for url, modified, kind in children:
            if url == entry.url or url in self.sources_read:
                log.info("%s: lists %s, already read in this run (a cycle); not followed", entry.url, url)
                continue
            if depth > self.settings.max_sitemap_depth:
                log.warning("%s: %s is %d levels deep, past max_sitemap_depth %d; not followed",
                            entry.url, url, depth, self.settings.max_sitemap_depth)
                continue
            items.append(NewURL(url, host_key(url), kind, self.site_for(url, entry.site), depth,
                                entry.url, None, modified))
        added = set(frontier.add_urls(self.db, items, iso(now), self.revisit, self.run_id))
        new_articles = sum(1 for item in items if item.kind == "article" and item.url in added)
        self.counts.discovered += new_articles
        if found.kind == "section":
            self.counts.links_articles += len(found.articles)
            self.counts.links_rejected += found.rejected
            discovery.count_links(self.db, entry.host, entry.site or site_of(entry.url),
                                  articles=len(found.articles), rejected=found.rejected, now=iso(now))
            if found.articles:
                self.learn(entry, False)  # a page that lists articles is not one
        frontier.update(
            self.db, entry.url, state="done", attempts=0, last_attempt_at=fetched.fetched_at,
            last_status=fetched.status, last_error=None, etag=fetched.header("etag"),
            last_modified=fetched.header("last-modified"), next_attempt_at=self.source_next(entry),
            crawl_run_id=self.run_id,
        )
        for note in found.notes:
            log.warning("%s: %s", entry.url, note)
        judged = f", {found.rejected} rejected" if found.kind == "section" else ""
        log.info("read %s %s: %d link(s)%s, %d new", found.kind, entry.url, len(found.articles), judged, new_articles)
        self.emit("discovered", entry.url, found.kind, fetched.status,
                  f"{len(found.articles)} link(s), {new_articles} new")

    def validators(self, entry: FrontierEntry) -> dict[str, str]:
        """The conditional-GET headers for a URL's next fetch, from what its last one gave."""
        etag, modified = entry.etag, entry.last_modified
        if entry.kind == "article" and not (etag or modified):
            etag, modified = frontier.page_validators(self.db, entry.url)
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        return headers
