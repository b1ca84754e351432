"""The scheduled crawl: sources -> discover -> frontier -> fetch -> extract -> store.

One crawl run, as `archiver crawl` and `archiver demo` run it:

1. The configured sources (site files' feeds, sitemaps and section pages, or `--start` URLs) go
   into the frontier (SQLite, `archiver.store.frontier`) as due now.
2. Hosts with due URLs are crawled in parallel (at most `max_hosts`), each by one worker that
   honours robots.txt and waits `host_delay` (or the site's Crawl-delay, capped) between
   requests, `host_concurrency` requests at a time.
3. Each host's due URLs go, as units of work ("discover" these sources, "fetch and extract"
   these articles: `archiver.executor.WorkUnit`), to an executor with the robots.txt decision
   and the validators already made here. By default the fetches run on this event loop and the
   pure stages (discovery for sources, `archiver.discover`; extraction for articles,
   `archiver.pipeline.extract_fetched`) in a pool of worker processes, the queue between them
   bounded so memory stays flat; with `--cluster` a Dask worker runs the whole unit. Either way
   the outcomes come back as plain records and this process alone writes SQLite.
4. Discovered URLs join the frontier (deduplicated against it and the archive); articles are
   stored (`archiver.store.store_result`: new, changed -> a new version, unchanged); the frontier
   row records the outcome and when the URL is next due: retries for transient failures
   (`RETRY_AFTER`), revisits of recent articles on a decaying schedule (`REVISIT_AFTER`).

Sources and known articles are fetched with conditional GETs (If-None-Match/If-Modified-Since);
a 304 stores nothing new. Each outcome's writes (its archive rows and its frontier row) are
applied together or not at all, and outcomes are committed in groups of at most `COMMIT_ITEMS`
or `COMMIT_SECONDS` (`store.GroupCommit`), so a crawl killed at any moment leaves a consistent
archive, loses at most the last group (its URLs are still due: they are fetched again), and the
next run carries on where it stopped.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import sqlite_utils

from archiver import store
from archiver.config import Settings
from archiver.discover import Discovery, parse_date
from archiver.errors import (
    ArchiverError,
    ConfigError,
    CrawlFailed,
    CrawlLocked,
    FetchError,
    HTTPStatusError,
    StoreError,
)
from archiver.executor import (
    Executor,
    HostGate,
    ItemOutcome,
    LinkRules,
    WorkItem,
    WorkUnit,
    discover_job,
    extract_job,
    init_worker,
    inline_pool,
    make_executor,
    worker_pool,
)
from archiver.fetch import RETRY_STATUSES, Sleep, fetch, make_client, utc_now
from archiver.models import Article, CrawlReport, Fetched, FetchFailure, FetchResult
from archiver.robots import (
    ALLOW_ALL,
    CACHE_SECONDS,
    DISALLOW_ALL,
    MAX_ROBOTS_BYTES,
    RobotsPolicy,
    policy_from_response,
    robots_url,
)
from archiver.sites import SiteRules, rules_for_url
from archiver.sections import url_shape
from archiver.store import discovery, frontier
from archiver.store.frontier import FrontierEntry, NewURL
from archiver.urls import host_key, normalize_url, origin, try_normalize

log = logging.getLogger(__name__)

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

EXIT_LOCKED = 75  # EX_TEMPFAIL: another crawl holds the lock; cron can simply try again later


# --- sources ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A URL a crawl starts from."""

    url: str
    kind: str  # feed, sitemap, section, start (told apart by content)
    site: str | None = None
    auto: bool = False  # also read the sitemaps its host's robots.txt names


def _absolute(url: str, domains: Sequence[str], path: str) -> str:
    if "://" in url:
        return url
    if not domains:
        raise ConfigError(f"{path}: discovery: {url!r} is relative but the site names no domains")
    return urljoin(f"https://{domains[0]}/", url)


def sources_for_site(site: SiteRules) -> list[Source]:
    """The sources a site file declares. A site that names no feeds or sitemaps is crawled from
    its sections (its home page when none are named), the feeds those pages link to, and the
    sitemaps in its robots.txt."""
    disc = site.discovery
    auto = not disc.feeds and not disc.sitemaps
    sources: list[Source] = []
    for kind, urls in (("feed", disc.feeds), ("sitemap", disc.sitemaps), ("section", disc.sections)):
        for url in urls:
            sources.append(Source(normalize_url(_absolute(url, site.domains, site.path)), kind, site.name, auto))
    if not sources and site.domains:
        sources.append(Source(normalize_url(f"https://{site.domains[0]}/"), "section", site.name, True))
    return sources


def plan_sources(
    sites: Sequence[SiteRules], names: Sequence[str] = (), start_urls: Sequence[str] = ()
) -> list[Source]:
    """The sources of a run: `start_urls` if given (plus the sites in `names`), else every site
    (or the named ones). Raises ConfigError for an unknown site name or a run with no sources."""
    by_name = {site.name: site for site in sites}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        have = ", ".join(sorted(by_name)) or "none"
        raise ConfigError(
            f"no site file named {', '.join(unknown)} (site files: {have}); "
            "see `archiver sites check`, or crawl any URL with --start URL"
        )
    chosen = [by_name[name] for name in names] if names else ([] if start_urls else list(sites))
    sources = [src for site in chosen for src in sources_for_site(site)]
    for url in start_urls:
        target = normalize_url(url)
        rules = rules_for_url(list(sites), target)
        sources.append(Source(target, "start", rules.name if rules else None))
    if not sources:
        raise ConfigError(
            "nothing to crawl: no site files declare sources; add feeds or sitemaps to "
            "selectors/<site>.toml, or pass --start URL"
        )
    return list({src.url: src for src in sources}.values())


# --- scheduling policy (pure) ------------------------------------------------------------------------


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


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


# --- the lock ----------------------------------------------------------------------------------------


def lock_path(db_path: str | Path) -> Path:
    """The crawl lock file of an archive: beside the file its path resolves to (symlinks and
    relative paths followed), so every path that names one archive names one lock."""
    real = Path(os.path.realpath(db_path))
    return real.with_name(real.name + ".lock")


@contextmanager
def crawl_lock(db_path: str | Path) -> Iterator[Path]:
    """Hold the archive's crawl lock (an fcntl lock on its lock file, released by the kernel
    however the process ends; the file is removed when the lock is given up); raise CrawlLocked
    at once when another crawl holds it."""
    store.check_archive_path(db_path)  # its folder exists (or is the default data/, made now)
    path = lock_path(db_path)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise CrawlLocked(
                f"{db_path}: another crawl (pid {holder}) is running on this archive; "
                "this run exits without crawling (it holds the lock file "
                f"{path}; try again when it has finished)"
            ) from None
        # the crawl that held it may have removed the file between our open and our lock: then
        # we hold a lock on a file no one else will open; start again with the one there now
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        try:
            os.unlink(path)  # while still locked: a crawl that opened it finds it gone, and retries
        except OSError:
            pass
        os.close(fd)  # closing releases the lock


# --- work done in worker processes: see `archiver.executor` (re-exported here) -------------------------


# --- progress events ----------------------------------------------------------------------------------


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


# --- the crawler -----------------------------------------------------------------------------------------


@dataclass
class _Counts:
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


_LEAVE = object()  # `_prepare`: leave this host for the rest of the run


@dataclass
class _Host:
    """A host being crawled: its gate, and the URLs of the unit in flight."""

    gate: HostGate
    claimed: set[str] = field(default_factory=set)


class Crawler:
    """One crawl run over an open archive (use `crawl`, or `run_crawl` for the lock too)."""

    def __init__(
        self,
        db: sqlite_utils.Database,
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
    ) -> None:
        self.db = db
        self.sources = list(sources)
        self.settings = settings
        self.sites = list(sites)
        self.site_rules = {site.name: site for site in sites}
        self.command = command
        self.progress = progress
        self.clock = clock or (lambda: datetime.now(UTC))
        self.sleep = sleep
        # where units of work run: in this process (extraction in `pool`), or a Dask cluster
        self.executor = executor or make_executor(settings, pool, sleep=sleep)
        self.counts = _Counts()  # as outcomes are applied
        self.kept = _Counts()  # as of the last commit: what the archive holds (the report's)
        # outcomes are committed in groups (each whole or not at all; one that fails drops its
        # open group, as a crash would); see GroupCommit
        self.commits = store.GroupCommit(db, max_items=COMMIT_ITEMS, max_seconds=COMMIT_SECONDS,
                                         on_commit=self._kept, on_rollback=self._dropped)
        self.run_id = 0
        self.hosts: dict[str, _Host] = {}
        self.active: dict[str, asyncio.Task[None]] = {}
        self.robots: dict[str, RobotsPolicy] = {}
        self.robots_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.unavailable: set[str] = set()  # hosts whose robots.txt failed: skipped this run
        self.auto_hosts = {host_key(s.url): s for s in self.sources if s.auto}
        self.sources_read: set[str] = set()  # sources fetched this run (cycle detection)
        self.started = 0.0
        self.fetches_started = 0
        self.processed = 0
        self.stop_reason = "complete"
        self.stopping = False
        self.fatal: BaseException | None = None
        self.wake: asyncio.Event | None = None

    # -- helpers

    def now(self) -> datetime:
        return self.clock()

    def emit(self, kind: str, url: str = "", outcome: str = "", status: int | None = None, detail: str = "") -> None:
        if self.progress is not None:
            self.progress(CrawlEvent(kind, url, outcome, status, detail, self.report()))

    def _kept(self) -> None:
        self.kept = replace(self.counts)

    def _dropped(self) -> None:
        """A group was rolled back: what it counted was not kept (requests made still were)."""
        self.counts = replace(self.kept, fetched=self.counts.fetched)

    def report(self, queued: int = 0) -> CrawlReport:
        """The run so far, counting what is committed (and every request made)."""
        return CrawlReport(
            run_id=self.run_id,
            duration=round(time.monotonic() - self.started, 3) if self.started else 0.0,
            stop_reason=self.stop_reason,
            queued=queued,
            error=(str(self.fatal) or type(self.fatal).__name__) if self.fatal is not None else None,
            **{**vars(self.kept), "fetched": self.counts.fetched},
        )

    def stop(self, reason: str) -> None:
        if not self.stopping:
            self.stopping = True
            self.stop_reason = reason
            log.info("crawl stopping: %s", reason)
            self.emit("stop", detail=reason)
        if self.wake is not None:
            self.wake.set()

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
        discovery.count_shape(self.db, entry.host, url_shape(entry.url), article=article, now=iso(self.now()))

    def site_for(self, url: str, fallback: str | None) -> str | None:
        rules = rules_for_url(self.sites, url)
        return rules.name if rules else fallback

    def until(self) -> float | None:
        """The `time.monotonic()` time after which no attempt or retry starts (max_duration)."""
        return self.started + self.settings.max_duration if self.settings.max_duration else None

    def time_left(self) -> float | None:
        until = self.until()
        return None if until is None else max(0.0, until - time.monotonic())

    def past_grace(self) -> bool:
        """Whether the run is past max_duration + deadline: what is still in flight is abandoned
        (its URLs stay due), so a run ends within that time whatever a server or page does."""
        until = self.until()
        return until is not None and time.monotonic() >= until + self.settings.deadline

    def budget_left(self) -> bool:
        limit = self.settings.max_pages
        if limit and self.fetches_started >= limit:
            self.stop("max-pages")
            return False
        if self.settings.max_duration and time.monotonic() - self.started >= self.settings.max_duration:
            self.stop("max-duration")
            return False
        return not self.stopping

    # -- the run

    async def run(self) -> CrawlReport:
        """Run the crawl; CrawlFailed (with the report of what was kept) when it ends in an error."""
        try:
            # first, so that a cluster that cannot be reached fails before anything is written
            await self.executor.start(self.sites, self.settings)
            return await self._run()
        finally:
            await self.executor.close()

    async def _run(self) -> CrawlReport:
        self.started = time.monotonic()
        self.wake = asyncio.Event()
        now = iso(self.now())
        self.run_id = frontier.start_run(self.db, self.command, now)
        frontier.add_sources(
            self.db,
            [NewURL(s.url, host_key(s.url), s.kind, s.site) for s in self.sources],
            now,
        )
        log.info("crawl run %d: %d source(s)", self.run_id, len(self.sources))
        self.emit("start", detail=f"{len(self.sources)} source(s)")
        loop = asyncio.get_running_loop()
        handled = self._install_signals(loop)
        status = "running"
        try:
            async with make_client(self.settings) as client:
                self.client = client
                await self._schedule()
            status = "done"
            if self.stop_reason == "signal":
                status = "interrupted"
        except BaseException as exc:  # a bug, or cancelled: recorded as the run's error, re-raised
            if self.fatal is None:
                self.fatal = exc
            raise
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            self._commit(final=True)
            if self.fatal is not None:
                status, self.stop_reason = "failed", "error"
            elif status == "done" and (self.counts.failed or self.counts.unreachable):
                status = "failed"
            report = self.report(self._due_count_or_none())
            try:
                frontier.save_run(
                    self.db, self.run_id, finished_at=utc_now(), status=status,
                    duration=report.duration, stop_reason=report.stop_reason, error=report.error,
                    **self._run_counters(),
                )
            except StoreError as exc:
                log.error("cannot record the end of crawl run %d: %s", self.run_id, exc)
        if self.fatal is not None:
            raise CrawlFailed(
                f"crawl run {self.run_id} stopped: {self.fatal}; what was committed before is kept "
                "and the rest stays due for the next run", report,
            ) from self.fatal
        self.emit("done", detail=report.summary())
        return report

    def _fail(self, exc: BaseException, where: str = "") -> None:
        """The run cannot go on: keep the first error (the others follow from it, so they are
        logged without a traceback, once), and stop."""
        if self.fatal is None:
            self.fatal = exc
            if isinstance(exc, (ArchiverError, OSError)):
                log.error("%s%s", where, exc)
        else:
            log.debug("%salso: %s", where, exc)
        self.stop("error")

    def _commit(self, final: bool = False) -> None:
        """Commit the open group of outcomes when it is due (`final`: whatever it holds)."""
        try:
            if final:
                self.commits.commit()
            else:
                self.commits.commit_if_due()
        except StoreError as exc:
            self._fail(exc)

    def _due_count_or_none(self) -> int:
        try:
            return frontier.due_count(self.db, iso(self.now()))
        except StoreError:
            return 0  # the archive cannot be read (the error is what the run reports)

    def _run_counters(self) -> dict[str, int]:
        return {**vars(self.kept), "fetched": self.counts.fetched}

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        handled: list[int] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                handled.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or no signals here: the default handling stays
        return handled

    def _on_signal(self, sig: int) -> None:
        log.warning("received %s: finishing the fetches in flight, then stopping", signal.Signals(sig).name)
        self.stop("signal")
        try:  # a second signal acts at once
            asyncio.get_running_loop().remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass

    async def _schedule(self) -> None:
        assert self.wake is not None
        while True:
            if self.fatal is not None:
                self.stop("error")
            if not self.stopping:
                self.budget_left()
            room = self.settings.max_hosts - len(self.active)
            if not self.stopping and room > 0:
                skip = set(self.active) | self.unavailable
                for host in frontier.due_hosts(self.db, iso(self.now()), limit=room + len(skip)):
                    if host in skip:
                        continue
                    self.active[host] = asyncio.create_task(self._host_worker(host), name=f"host {host}")
                    room -= 1
                    if room <= 0:
                        break
            if not self.active:
                break
            if self.past_grace():
                await self._abandon()
                continue
            self._commit()
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=0.5)
            except TimeoutError:
                pass
            await asyncio.sleep(0.02)  # at most ~50 frontier scans a second

    async def _abandon(self) -> None:
        """Cancel every host still at work (fetches and extractions in flight): their URLs stay
        due for the next run, and nothing half-done is stored."""
        tasks = list(self.active.values())
        log.warning("crawl: max_duration %gs + deadline %gs passed; abandoning the work of %d "
                    "host(s) still in flight (its URLs stay due)", self.settings.max_duration,
                    self.settings.deadline, len(tasks))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- one host

    def _host(self, host: str) -> _Host:
        state = self.hosts.get(host)
        if state is None:
            state = _Host(HostGate(self.settings.host_delay, self.settings.host_concurrency))
            self.hosts[host] = state
        return state

    async def _host_worker(self, host: str) -> None:
        state = self._host(host)
        try:
            while not self.stopping:
                batch = frontier.due_entries(
                    self.db, host, iso(self.now()), exclude=state.claimed, limit=BATCH
                )
                if not batch:
                    break
                entries: dict[str, FrontierEntry] = {}
                items: list[WorkItem] = []
                leave = False
                for entry in batch:
                    if not self.budget_left():
                        break
                    item = await self._prepare(host, state, entry)
                    if item is _LEAVE:
                        leave = True
                        break
                    if isinstance(item, WorkItem):
                        entries[item.url] = entry
                        items.append(item)
                for unit in self._units(host, state, items):
                    await self._run_unit(state, unit, entries)
                if leave or host in self.unavailable:
                    break
        except (ArchiverError, OSError) as exc:  # a dead store or a lost cluster: stop, lose nothing
            self._fail(exc, f"crawl of {host}: ")
        except Exception as exc:  # a bug: stop, report it with its traceback, lose nothing
            log.exception("crawl of %s failed", host)
            self._fail(exc)
        finally:
            self.active.pop(host, None)
            if self.wake is not None:
                self.wake.set()

    def _units(self, host: str, state: _Host, items: list[WorkItem]) -> Iterator[WorkUnit]:
        """The host's prepared URLs as units: sources and articles apart, in crawl order, at most
        the executor's unit size each."""
        size = max(1, self.executor.unit_size)
        run: list[WorkItem] = []
        for item in items:
            if run and (len(run) >= size or run[-1].is_source != item.is_source):
                yield WorkUnit(host, tuple(run), self.settings, state.gate.delay, state.gate.concurrency,
                               self.time_left())
                run = []
            run.append(item)
        if run:
            yield WorkUnit(host, tuple(run), self.settings, state.gate.delay, state.gate.concurrency,
                           self.time_left())

    def _fetching_stops(self) -> bool:
        """Whether the executor stops fetching a unit's remaining URLs: on a signal, an error or
        max_duration (URLs counted against max_pages when prepared are still fetched)."""
        if self.settings.max_duration and time.monotonic() - self.started >= self.settings.max_duration:
            self.stop("max-duration")
        return self.stopping and self.stop_reason != "max-pages"

    async def _run_unit(self, state: _Host, unit: WorkUnit, entries: dict[str, FrontierEntry]) -> None:
        """Run one unit on the executor and store each outcome as it comes back (this process is
        the only writer). A URL the unit did not get to stays due."""
        urls = [item.url for item in unit.items]
        state.claimed.update(urls)
        try:
            async for outcome in self.executor.run(unit, state.gate, self._fetching_stops):
                self.counts.fetched += 1
                self._apply(entries[outcome.url], outcome)
        finally:
            state.claimed.difference_update(urls)

    async def _prepare(self, host: str, state: _Host, entry: FrontierEntry) -> WorkItem | object | None:
        """Decide one due URL: a WorkItem to fetch (robots allow it, validators attached), None
        when it is settled without a request, or _LEAVE when the host is to be left."""
        now = self.now()
        policy = await self._robots(entry.url, state.gate)
        if policy.mode == DISALLOW_ALL:
            due = frontier.due_on_host(self.db, host, iso(now))
            self.counts.robots_blocked += due
            self.counts.unreachable += 1
            self.unavailable.add(host)
            log.warning("skipping %s for this run: %s (%d URL(s) left due)", host, policy.reason, due)
            self.emit("blocked", entry.url, "robots-unavailable", detail=policy.reason)
            return _LEAVE
        if self.settings.respect_robots and not policy.allows(entry.url, self.settings.user_agent):
            self.counts.robots_blocked += 1
            frontier.update(
                self.db, entry.url, state="blocked", last_error="disallowed by robots.txt",
                next_attempt_at=iso(now + timedelta(seconds=CACHE_SECONDS)), crawl_run_id=self.run_id,
            )
            self.emit("blocked", entry.url, "robots-blocked")
            return None
        if entry.kind == "article" and entry.state == "queued" and entry.last_attempt_at is None:
            done = frontier.stored_since(self.db, entry.url, entry.discovered_at)
            if done is not None:  # stored by a run killed before it marked the row
                frontier.update(self.db, entry.url, state="done", article_id=done,
                                last_attempt_at=entry.discovered_at,
                                next_attempt_at=self.revisit(entry.published_at, entry.discovered_at, 0, entry.discovered_at))
                return None
        if entry.is_source:
            if entry.url in self.sources_read:
                frontier.update(self.db, entry.url, next_attempt_at=iso(now + SOURCE_RECHECK))
                log.info("%s: already read in this run (a sitemap cycle?); skipped", entry.url)
                return None
            self.sources_read.add(entry.url)
        self.fetches_started += 1
        rules = self.link_rules(entry) if entry.is_source else LinkRules()
        return WorkItem(entry.url, entry.kind, tuple(self._validators(entry).items()), rules)

    def _validators(self, entry: FrontierEntry) -> dict[str, str]:
        etag, modified = entry.etag, entry.last_modified
        if entry.kind == "article" and not (etag or modified):
            etag, modified = frontier.page_validators(self.db, entry.url)
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        return headers

    # -- robots.txt

    async def _robots(self, url: str, gate: HostGate) -> RobotsPolicy:
        home = origin(url)
        if not self.settings.respect_robots and home not in self.auto_origins():
            return RobotsPolicy(home, ALLOW_ALL, reason="robots.txt not consulted")
        async with self.robots_locks[home]:
            policy = self.robots.get(home)
            if policy is None:
                policy = await self._load_robots(home, gate)
                self.robots[home] = policy
                self._apply_delay(policy, gate)
                await self._robots_sitemaps(home, policy)
        if not self.settings.respect_robots:
            return RobotsPolicy(home, ALLOW_ALL, reason="robots.txt not consulted")
        return policy

    def auto_origins(self) -> set[str]:
        return {origin(s.url) for s in self.auto_hosts.values()}

    async def _load_robots(self, home: str, gate: HostGate) -> RobotsPolicy:
        now = self.now()
        cached = frontier.cached_robots(self.db, home, iso(now))
        if cached is not None:
            return policy_from_response(home, cached[0], cached[1].encode("utf-8"))
        status: int | None
        try:
            async with gate.turn():
                answer = await fetch(self.client, robots_url(home), self.settings, sleep=self.sleep,
                                     max_bytes=MAX_ROBOTS_BYTES, truncate=True, until=self.until())
            status, body_bytes = answer.status, answer.content
        except HTTPStatusError as exc:
            status, body_bytes = exc.status, b""
            reason = exc.reason
        except FetchError as exc:
            log.warning("%s: robots.txt unreachable (%s)", home, exc.reason)
            status, body_bytes = None, b""
            reason = exc.reason
        else:
            reason = f"HTTP {status}"
        policy = policy_from_response(home, status, body_bytes)
        if policy.mode == DISALLOW_ALL:  # recorded, so failures by host show why a host was skipped
            url = robots_url(home)
            failure = FetchFailure(url, "robots", f"robots.txt unavailable ({reason}); "
                                   "the host is skipped for this run, as RFC 9309 asks", status)
            store.store_result(self.db, FetchResult(url, iso(now), 0.0, failure=failure),
                               crawl_run_id=self.run_id)
        if policy.cacheable and status is not None:
            frontier.cache_robots(
                self.db, home, status, policy.text, iso(now), iso(now + timedelta(seconds=CACHE_SECONDS))
            )
        return policy

    def _apply_delay(self, policy: RobotsPolicy, gate: HostGate) -> None:
        asked = policy.crawl_delay(self.settings.user_agent) if self.settings.respect_robots else None
        if asked is not None:
            delay = max(self.settings.host_delay, min(asked, self.settings.crawl_delay_cap))
            if delay != gate.delay:
                log.info("%s: Crawl-delay %gs (honoured as %gs)", policy.origin, asked, delay)
            gate.delay = delay

    async def _robots_sitemaps(self, home: str, policy: RobotsPolicy) -> None:
        source = next((s for s in self.auto_hosts.values() if origin(s.url) == home), None)
        if source is None or not policy.sitemaps:
            return
        items = []
        for raw in policy.sitemaps:
            url = try_normalize(raw, home + "/")
            if url is not None:
                items.append(NewURL(url, host_key(url), "sitemap", source.site, 1, robots_url(home)))
        if items:
            frontier.add_urls(self.db, items, iso(self.now()), self.revisit, self.run_id)
            log.info("%s: %d sitemap(s) from robots.txt", home, len(items))

    # -- results (this process: the only writer)

    def _apply(self, entry: FrontierEntry, outcome: ItemOutcome) -> None:
        answer, started_at, duration = outcome.answer, outcome.started_at, outcome.duration
        try:
            # each outcome's writes (archive rows and frontier state) are applied together or
            # not at all: a kill between them cannot leave an article stored but its URL queued
            with self.commits.item():
                if isinstance(answer, FetchFailure):
                    self._failed(entry, answer, None, started_at, duration)
                elif answer.status == 304:
                    self._not_modified(entry, answer, started_at, duration)
                elif entry.kind == "article":
                    assert isinstance(outcome.result, (Article, FetchFailure)), outcome.result
                    self._stored(entry, answer, outcome.result, started_at, duration)
                else:
                    assert isinstance(outcome.result, (Discovery, FetchFailure)), outcome.result
                    self._discovered(entry, answer, outcome.result, started_at, duration)
        except (ArchiverError, OSError) as exc:
            self._fail(exc, f"{entry.url}: ")
        except Exception as exc:  # a bug: stop the run and report it; the frontier keeps the URL due
            log.exception("processing %s failed", entry.url)
            self._fail(exc)
        self.processed += 1
        if self.processed % SAVE_EVERY == 0:
            frontier.save_run(self.db, self.run_id, **self._run_counters())

    def _failed(self, entry: FrontierEntry, failure: FetchFailure, fetched: Fetched | None,
                started_at: str, duration: float) -> None:
        now = self.now()
        attempts = entry.attempts + 1
        retry = next_retry(failure, attempts, now)
        result = FetchResult(entry.url, started_at, round(duration, 4), fetched=fetched, failure=failure)
        store.store_result(self.db, result, site=entry.site, crawl_run_id=self.run_id)
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

    def _not_modified(self, entry: FrontierEntry, fetched: Fetched, started_at: str, duration: float) -> None:
        self.counts.not_modified += 1
        values: dict[str, Any] = dict(state="done", attempts=0, last_attempt_at=fetched.fetched_at,
                                      last_status=304, last_error=None, crawl_run_id=self.run_id)
        if entry.kind == "article":
            result = FetchResult(entry.url, started_at, round(duration, 4), fetched=fetched)
            store.store_result(self.db, result, site=entry.site, crawl_run_id=self.run_id)
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
            values["next_attempt_at"] = self._source_next(entry)
        frontier.update(self.db, entry.url, **values)
        log.info("not modified %s", entry.url)
        self.emit("fetched", entry.url, "not-modified", 304)

    def _source_next(self, entry: FrontierEntry) -> str | None:
        if entry.depth == 0:
            return None  # configured sources are made due by each run
        return iso(self.now() + SOURCE_RECHECK)

    def _stored(self, entry: FrontierEntry, fetched: Fetched, result: Article | FetchFailure,
                started_at: str, duration: float) -> None:
        if isinstance(result, FetchFailure):
            self._failed(entry, result, fetched, started_at, duration)
            return
        article = result
        outcome = store.store_result(
            self.db,
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
        log.info("%s %s %r", outcome.outcome, entry.url, article.title)
        self.emit("fetched", entry.url, outcome.outcome, fetched.status, article.title)

    def _discovered(self, entry: FrontierEntry, fetched: Fetched, found: Discovery | FetchFailure,
                    started_at: str, duration: float) -> None:
        if isinstance(found, FetchFailure):
            self._failed(entry, found, None, started_at, duration)
            return
        now = self.now()
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
            discovery.count_links(self.db, entry.host, entry.site or store.site_of(entry.url),
                                  articles=len(found.articles), rejected=found.rejected, now=iso(now))
            if found.articles:
                self.learn(entry, False)  # a page that lists articles is not one
        frontier.update(
            self.db, entry.url, state="done", attempts=0, last_attempt_at=fetched.fetched_at,
            last_status=fetched.status, last_error=None, etag=fetched.header("etag"),
            last_modified=fetched.header("last-modified"), next_attempt_at=self._source_next(entry),
            crawl_run_id=self.run_id,
        )
        for note in found.notes:
            log.warning("%s: %s", entry.url, note)
        judged = f", {found.rejected} rejected" if found.kind == "section" else ""
        log.info("read %s %s: %d link(s)%s, %d new", found.kind, entry.url, len(found.articles), judged, new_articles)
        self.emit("discovered", entry.url, found.kind, fetched.status,
                  f"{len(found.articles)} link(s), {new_articles} new")


# --- entry points ------------------------------------------------------------------------------------------


def crawl(
    db: sqlite_utils.Database,
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
                db = store.open_archive(db_path)
                try:
                    crawler = Crawler(db, sources, settings, sites=sites, command=command,
                                      progress=progress, executor=executor)
                    return await crawler.run()
                finally:
                    db.conn.close()
        finally:
            await executor.close()

    return asyncio.run(run())


__all__ = [
    "EXIT_LOCKED",
    "CrawlEvent",
    "CrawlLocked",
    "Crawler",
    "HostGate",
    "LinkRules",
    "Source",
    "crawl",
    "crawl_lock",
    "discover_job",
    "extract_job",
    "init_worker",
    "inline_pool",
    "next_retry",
    "next_revisit",
    "plan_sources",
    "run_crawl",
    "sources_for_site",
]
