"""The crawl's scheduler: which hosts are crawled now, each host's due URLs as units of work on
an executor, and the run's life (its row in `crawl_runs`, signals, time bounds, the report).

What each result changes is `archiver.crawl.outcomes`; robots.txt is
`archiver.crawl.robots`; the policy (politeness, retries, revisits, batches) is
`archiver.crawl.policy`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver import store
from archiver.config import Settings
from archiver.crawl.outcomes import Counts, CrawlEvent, Outcomes, Progress
from archiver.crawl.policy import (
    BATCH,
    COMMIT_ITEMS,
    COMMIT_SECONDS,
    SAVE_EVERY,
    SOURCE_RECHECK,
    Politeness,
)
from archiver.crawl.robots import RobotsService
from archiver.crawl.signals import stop_on_signals
from archiver.crawl.sources import Source
from archiver.errors import ArchiverError, CrawlFailed, StoreError
from archiver.executor import Executor, make_executor
from archiver.fetch import HostClients, Sleep
from archiver.jobs import LinkRules, WorkItem
from archiver.models import CrawlReport, FetchResult
from archiver.pools import worker_pool
from archiver.robots import CACHE_SECONDS, DISALLOW_ALL
from archiver.rules import SiteRules
from archiver.store import frontier
from archiver.store.frontier import FrontierEntry, NewURL
from archiver.timestamps import iso, utc_now
from archiver.units import HostGate, WorkUnit, units_of
from archiver.urls import host_key

log = logging.getLogger("archiver.crawl")


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
    ) -> None:
        self.db = db
        self.sources = list(sources)
        self.settings = settings
        self.sites = list(sites)
        self.command = command
        self.progress = progress
        self.clock = clock or (lambda: datetime.now(UTC))
        self.sleep = sleep
        # where units of work run: in this process (extraction in `pool`), or a Dask cluster
        self.executor = executor or make_executor(settings, pool, sleep=sleep)
        self.outcomes = Outcomes(db, settings, sites=sites, clock=self.now, emit=self.emit)
        self.robots = RobotsService(settings, self.outcomes, self.sources, sleep=sleep, until=self.until)
        self.kept = Counts()  # as of the last commit: what the archive holds (the report's)
        # outcomes are committed in groups (each whole or not at all; one that fails drops its
        # open group, as a crash would); see GroupCommit
        self.commits = store.GroupCommit(db, max_items=COMMIT_ITEMS, max_seconds=COMMIT_SECONDS,
                                         on_commit=self._kept, on_rollback=self._dropped)
        self.hosts: dict[str, _Host] = {}
        self.active: dict[str, asyncio.Task[None]] = {}
        self.unavailable: set[str] = set()  # hosts whose robots.txt failed: skipped this run
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

    @property
    def counts(self) -> Counts:
        """What the run did so far, as outcomes are applied (`kept`: as of the last commit)."""
        return self.outcomes.counts

    @counts.setter
    def counts(self, value: Counts) -> None:
        self.outcomes.counts = value

    @property
    def run_id(self) -> int:
        return self.outcomes.run_id

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
        self.outcomes.run_id = frontier.start_run(self.db, self.command, now)
        frontier.record_sites(self.db, [(site.name, site.domains) for site in self.sites],
                              {source.site for source in self.sources if source.site}, now)
        frontier.add_sources(
            self.db,
            [NewURL(s.url, host_key(s.url), s.kind, s.site) for s in self.sources],
            now,
        )
        log.info("crawl run %d: %d source(s)", self.run_id, len(self.sources))
        self.emit("start", detail=f"{len(self.sources)} source(s)")
        status = "running"
        try:
            # robots.txt through the executor's clients where it fetches here, so one
            # max_connections holds for the process and a host's robots.txt and pages share
            # a connection; else through clients of its own
            own = None if self.executor.clients is not None else HostClients(self.settings)
            self.robots.clients = own if own is not None else self.executor.clients
            try:
                with stop_on_signals(self.stop):
                    await self._schedule()
            finally:
                if own is not None:
                    await own.aclose()
            status = "done"
            if self.stop_reason == "signal":
                status = "interrupted"
        except BaseException as exc:  # a bug, or cancelled: recorded as the run's error, re-raised
            if self.fatal is None:
                self.fatal = exc
            raise
        finally:
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
            politeness = Politeness.of(self.settings)
            state = _Host(HostGate(politeness.host_delay, politeness.host_concurrency))
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
                gate = state.gate
                for unit in units_of(host, items, max(1, self.executor.unit_size), self.settings,
                                     gate.delay, gate.concurrency, self.time_left):
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
        policy = await self.robots.policy(entry.url, state.gate)
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
                                next_attempt_at=self.outcomes.revisit(entry.published_at, entry.discovered_at, 0, entry.discovered_at))
                return None
        if entry.is_source:
            if entry.url in self.outcomes.sources_read:
                frontier.update(self.db, entry.url, next_attempt_at=iso(now + SOURCE_RECHECK))
                log.info("%s: already read in this run (a sitemap cycle?); skipped", entry.url)
                return None
            self.outcomes.sources_read.add(entry.url)
        self.fetches_started += 1
        rules = self.outcomes.link_rules(entry) if entry.is_source else LinkRules()
        return WorkItem(entry.url, entry.kind, tuple(self.outcomes.validators(entry).items()), rules)

    def _apply(self, entry: FrontierEntry, outcome: FetchResult) -> None:
        try:
            # each outcome's writes (archive rows and frontier state) are applied together or
            # not at all: a kill between them cannot leave an article stored but its URL queued
            with self.commits.item():
                self.outcomes.apply(entry, outcome)
        except (ArchiverError, OSError) as exc:
            self._fail(exc, f"{entry.url}: ")
        except Exception as exc:  # a bug: stop the run and report it; the frontier keeps the URL due
            log.exception("processing %s failed", entry.url)
            self._fail(exc)
        self.processed += 1
        if self.processed % SAVE_EVERY == 0:
            frontier.save_run(self.db, self.run_id, **self._run_counters())
