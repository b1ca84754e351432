"""Where a crawl's units of work run: in this process (the default) or on a Dask cluster.

A unit is work on one host (`archiver.units.WorkUnit`): "discover" (read these feeds, sitemaps
or section pages) or "fetch" (fetch and extract these article URLs). The coordinator (the
process `archiver crawl` runs) decides what is due, what robots.txt allows and which validators
to send, and it alone writes SQLite. A unit fetches with its host's politeness (the delay and
concurrency the coordinator passes in) and runs the pure stages (`archiver.jobs`); what comes
back is one `FetchResult` per URL.

- `InProcessExecutor` (the default): fetches on the coordinator's event loop and extracts in
  local worker processes fed from that loop (`archiver.workers.WorkerPool`); each result is
  handed back as soon as it is extracted, and at most 4 x workers answers wait for extraction,
  so memory stays flat.
- `DaskExecutor` (`--cluster ADDRESS`, `archiver.cluster`): each unit runs on a Dask worker.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from archiver.cluster import DaskExecutor
from archiver.config import Settings
from archiver.errors import WorkerDied
from archiver.fetch import HostClients, Sleep
from archiver.jobs import WorkItem, discover_job, extract_job, failure_of
from archiver.models import Article, Discovery, Fetched, FetchFailure, FetchResult
from archiver.pools import started_pool, worker_pool
from archiver.rules import SiteRules
from archiver.units import HostGate, WorkUnit, fetch_item, result_of


class Executor(Protocol):
    """Runs units; `run` yields each URL's outcome as it is ready (only URLs it attempted)."""

    name: str
    unit_size: int  # URLs per unit
    remote: bool  # runs elsewhere: started (and answering) before the archive is touched
    # this process's HTTP clients once started (robots.txt goes through them, so one
    # max_connections holds for the whole process), or None when fetching happens elsewhere
    clients: HostClients | None

    async def start(self, sites: Sequence[SiteRules], settings: Settings) -> None:
        """Start (a second call does nothing)."""

    def run(self, unit: WorkUnit, gate: HostGate, stop: Callable[[], bool]) -> AsyncIterator[FetchResult]: ...

    async def close(self) -> None: ...


_DONE = object()


class InProcessExecutor:
    """Fetch on this process's event loop, extract in a local pool (`archiver crawl` by default)."""

    name = "in-process"
    unit_size = 50
    remote = False

    def __init__(
        self,
        pool: Callable[[Sequence[SiteRules], int], Any] = worker_pool,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.make_pool = pool
        self.sleep = sleep
        self.pool: Any = None  # a WorkerPool (or an ExecutorPool: start, run, close)
        self.clients: HostClients | None = None

    async def start(self, sites: Sequence[SiteRules], settings: Settings) -> None:
        if self.pool is not None:
            return  # started already
        self.settings = settings
        workers = settings.extract_workers or os.cpu_count() or 1
        self.slots = asyncio.Semaphore(max(2, 4 * workers))  # answers waiting for extraction
        self.clients = HostClients(settings, keep=max(16, 2 * settings.max_hosts))
        # now, so the first page fetched does not wait for the workers; a page that takes longer
        # than extract_timeout to extract has its worker killed (a WorkerPool's; threads cannot be)
        self.pool = await started_pool(self.make_pool, sites, workers, settings.extract_timeout)

    async def close(self) -> None:
        if self.clients is not None:
            await self.clients.aclose()
            self.clients = None
        if self.pool is not None:
            pool, self.pool = self.pool, None
            await pool.close()

    async def _process(self, item: WorkItem, answer: Fetched) -> Article | Discovery | FetchFailure | None:
        if answer.status == 304:
            return None
        assert self.pool is not None
        try:
            if item.is_source:
                return await self.pool.run(discover_job, answer, item.rules)
            return await self.pool.run(extract_job, answer)
        except WorkerDied as exc:  # this page's worker died under it, or was stopped past the page's
            return failure_of(answer.url, exc)  # extract_timeout: the page's failure, retried later
            # (WorkersFailing, when they keep dying, stops the crawl)

    async def run(self, unit: WorkUnit, gate: HostGate, stop: Callable[[], bool]) -> AsyncIterator[FetchResult]:
        """Fetch the unit's URLs one turn at a time; each answer is extracted while the next is
        fetched, and handed back as soon as it is ready."""
        ready: asyncio.Queue[Any] = asyncio.Queue()
        held = 0  # slots taken by answers not yet handed back

        async def finish(item: WorkItem, started_at: str, duration: float, answer: Fetched | FetchFailure) -> None:
            try:
                made = await self._process(item, answer) if isinstance(answer, Fetched) else None
                ready.put_nowait(result_of(item, started_at, duration, answer, made))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
                ready.put_nowait(exc)

        async def fetch_all() -> None:
            nonlocal held
            started = 0
            until = unit.until()
            assert self.clients is not None
            try:
                async with self.clients.client(unit.host) as client:
                    for item in unit.items:
                        if stop():
                            break
                        started_at, duration, answer = await fetch_item(client, item, self.settings, gate,
                                                                        self.sleep, until)
                        await self.slots.acquire()  # bounded: fetching waits while extraction is behind
                        held += 1
                        started += 1
                        tasks.add(asyncio.create_task(finish(item, started_at, duration, answer)))
                ready.put_nowait((_DONE, started))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
                ready.put_nowait(exc)

        tasks: set[asyncio.Task[None]] = set()
        fetcher = asyncio.create_task(fetch_all())
        expected: int | None = None
        handed = 0
        try:
            while expected is None or handed < expected:
                got = await ready.get()
                if isinstance(got, BaseException):
                    raise got
                if isinstance(got, tuple) and got and got[0] is _DONE:
                    expected = got[1]
                    continue
                handed += 1
                try:
                    yield got
                finally:
                    held -= 1
                    self.slots.release()
        finally:
            fetcher.cancel()
            for task in tasks:
                task.cancel()
            for _ in range(held):
                self.slots.release()


def make_executor(
    settings: Settings,
    pool: Callable[[Sequence[SiteRules], int], Any] = worker_pool,
    *,
    sleep: Sleep = asyncio.sleep,
) -> Executor:
    """`DaskExecutor` when `settings.cluster` names a scheduler, else `InProcessExecutor`."""
    if settings.cluster:
        return DaskExecutor(settings.cluster, timeout=settings.connect_timeout)
    return InProcessExecutor(pool, sleep=sleep)


__all__ = ["Executor", "InProcessExecutor", "make_executor"]
