"""Where a crawl's units of work run: in this process (the default) or on a Dask cluster.

A unit is work on one host: "discover" (read these feeds, sitemaps or section pages) or "fetch"
(fetch and extract these article URLs). The coordinator (the process `archiver crawl` runs)
decides what is due, what robots.txt allows and which validators to send, and it alone writes
SQLite. A unit fetches with its host's politeness (the delay and concurrency the coordinator
passes in) and runs the pure stages (`extract_fetched`, `discover`); what comes back is plain
records (`ItemOutcome`: the response or the failure, and the article or discovery made of it).

- `InProcessExecutor` (the default): fetches on the coordinator's event loop and extracts in
  local worker processes fed from that loop (`archiver.workers.WorkerPool`); each outcome is
  handed back as soon as it is extracted, and at most 4 x workers answers wait for extraction,
  so memory stays flat.
- `DaskExecutor` (`--cluster ADDRESS`): submits each unit to a Dask scheduler
  (`distributed.Client`); a worker fetches and extracts the whole unit and the units stream back
  as they finish (`as_completed`). At most one unit per host is in flight (politeness), and at
  most 2 x the cluster's threads in all (memory). A worker that dies mid-unit has its unit rerun
  elsewhere by Dask; a unit only fetches, so running it twice stores nothing twice.

Dask is an optional extra (`pip install 'archiver[cluster]'`), imported only by `DaskExecutor`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor as PoolExecutor
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from archiver.config import Settings
from archiver.discover import Discovery
from archiver.errors import ArchiverError, ClusterUnavailable, ConfigError, FetchError, WorkerDied
from archiver.fetch import Client, HostClients, Sleep, fetch, make_client, utc_now
from archiver.models import Article, Fetched, FetchFailure
from archiver.pipeline import extract_fetched, failure_of
from archiver.sites import SiteRules
from archiver.workers import started_pool, worker_pool

log = logging.getLogger(__name__)

CLUSTER_UNIT_SIZE = 20  # URLs per unit sent to a cluster (each comes back with its page)
CLUSTER_RETRIES = 2  # a unit that raises is tried again this often (a lost worker: Dask's own count)


# --- politeness -----------------------------------------------------------------------------------------


class HostGate:
    """Spaces requests to one host: `concurrency` at a time, each `delay` seconds after the
    previous one started and (one at a time) after it finished."""

    def __init__(self, delay: float, concurrency: int) -> None:
        self.delay = delay
        self.concurrency = max(1, concurrency)
        self._slots = asyncio.Semaphore(self.concurrency)
        self._lock = asyncio.Lock()
        self._ready_at = 0.0

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._slots:
            async with self._lock:
                wait = self._ready_at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._ready_at = time.monotonic() + self.delay
            try:
                yield
            finally:
                if self.concurrency == 1:
                    self._ready_at = max(self._ready_at, time.monotonic() + self.delay)


# --- the pure work (worker processes, Dask workers) ------------------------------------------------------

_WORKER_SITES: tuple[SiteRules, ...] = ()


def init_worker(sites: Sequence[SiteRules], coordinator: int | None = None) -> None:
    """Worker process start: keep the site rules, so jobs carry only their page; with the
    coordinator's pid, leave when it is gone (a crawl killed with -9 leaves no workers behind)."""
    global _WORKER_SITES
    _WORKER_SITES = tuple(sites)
    if multiprocessing.parent_process() is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the crawl process decides when to stop
        if coordinator:
            threading.Thread(target=_exit_with, args=(coordinator,), name="archiver-orphan-watch",
                             daemon=True).start()


def _exit_with(pid: int, every: float = 0.5) -> None:
    """Exit this worker once process `pid` has ended. A pool worker of a process killed with -9
    would otherwise wait forever on its task queue (it holds that pipe's write end itself)."""
    while True:
        time.sleep(every)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # the pid now belongs to another user's process: ours is gone
            os._exit(0)


def worker_sites() -> tuple[SiteRules, ...]:
    """The site rules this worker process was started with (`init_worker`)."""
    return _WORKER_SITES


def extract_job(fetched: Fetched) -> Article | FetchFailure:
    """Extract one article page (runs in a worker process)."""
    try:
        return extract_fetched(fetched, _WORKER_SITES)
    except ArchiverError as exc:
        return failure_of(fetched.url, exc)


@dataclass(frozen=True)
class LinkRules:
    """Which links of a section page are articles: a site's patterns and domains, and what the
    crawl learned of the host's URL shapes ((shape, pages that were articles, pages that were not))."""

    patterns: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    learned: tuple[tuple[str, int, int], ...] = ()


def discover_job(fetched: Fetched, rules: LinkRules) -> Discovery | FetchFailure:
    """Read the links of one source (runs in a worker process)."""
    from archiver.discover import discover

    try:
        return discover(
            fetched.content,
            fetched.final_url,
            fetched.content_type,
            patterns=rules.patterns,
            excludes=rules.excludes,
            domains=rules.domains,
            learned={shape: (articles, others) for shape, articles, others in rules.learned},
        )
    except ArchiverError as exc:
        return failure_of(fetched.url, exc)


def forkserver_context() -> Any:
    """Where worker processes start: forked from a server that has imported the extraction stack
    once (trafilatura and readability load lazily, so each worker would import them on its first
    page), or spawned where there is no forkserver."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["archiver.executor", "trafilatura", "readability"])
    return ctx


def inline_pool(sites: Sequence[SiteRules], workers: int = 1) -> PoolExecutor:
    """A thread 'pool' in this process (for tests and tiny crawls: no process start-up). The
    crawl takes it behind `WorkerPool`'s interface (`archiver.workers.ExecutorPool`); the WARC
    import submits to it directly."""
    return ThreadPoolExecutor(max_workers=1, initializer=init_worker, initargs=(tuple(sites),))


# --- units and their outcomes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    """One URL of a unit: what it is, the validators to send, and (sources) which links count."""

    url: str
    kind: str  # article, or a source kind: feed, sitemap, section, start
    headers: tuple[tuple[str, str], ...] = ()
    rules: LinkRules = LinkRules()

    @property
    def is_source(self) -> bool:
        return self.kind != "article"


@dataclass(frozen=True)
class WorkUnit:
    """URLs of one host to fetch, with that host's politeness, and the settings to fetch with."""

    host: str
    items: tuple[WorkItem, ...]
    settings: Settings
    delay: float = 0.0  # seconds between requests (host_delay, or the site's Crawl-delay)
    concurrency: int = 1
    time_left: float | None = None  # seconds until the run starts no more attempts (--max-duration)

    def until(self) -> float | None:
        """The `time.monotonic()` time after which no attempt or retry of this unit starts
        (counted from now: a unit may run on another machine, with another clock)."""
        return None if self.time_left is None else time.monotonic() + self.time_left

    @property
    def kind(self) -> str:
        """`discover` when every URL is a source, else `fetch`."""
        return "discover" if all(item.is_source for item in self.items) else "fetch"


Outcome = Article | Discovery | FetchFailure | None


@dataclass(frozen=True)
class ItemOutcome:
    """What became of one URL of a unit: the answer (or why there was none) and what the pure
    stage made of it (None for a 304 or a failed fetch)."""

    url: str
    started_at: str
    duration: float  # seconds the fetch took
    answer: Fetched | FetchFailure
    result: Outcome = None


def process_answer(item: WorkItem, fetched: Fetched, sites: Sequence[SiteRules]) -> Outcome:
    """The pure stage for one answer: extraction for articles, discovery for sources."""
    if fetched.status == 304:
        return None
    if item.is_source:
        return discover_job(fetched, item.rules)
    try:
        return extract_fetched(fetched, sites)
    except ArchiverError as exc:
        return failure_of(fetched.url, exc)


async def fetch_item(
    client: Client, item: WorkItem, settings: Settings, gate: HostGate, sleep: Sleep,
    until: float | None = None,
) -> tuple[str, float, Fetched | FetchFailure]:
    """Fetch one URL in its host's turn: (started_at, seconds, the answer or the failure)."""
    started_at = utc_now()
    t0 = time.monotonic()
    answer: Fetched | FetchFailure
    async with gate.turn():
        try:
            answer = await fetch(client, item.url, settings, headers=dict(item.headers), sleep=sleep,
                                 until=until)
        except FetchError as exc:
            answer = failure_of(item.url, exc)
    return started_at, time.monotonic() - t0, answer


def run_unit(unit: WorkUnit, sites: Sequence[SiteRules] | SiteBundle = ()) -> tuple[ItemOutcome, ...]:
    """Fetch and process a whole unit (a Dask task: network in, records out, no database).

    Idempotent: it only reads from the network, so a unit rerun after a lost worker changes
    nothing but the number of requests."""
    rules = sites.rules if isinstance(sites, SiteBundle) else tuple(sites)
    return asyncio.run(_run_unit(unit, rules))


async def _run_unit(unit: WorkUnit, sites: Sequence[SiteRules]) -> tuple[ItemOutcome, ...]:
    gate = HostGate(unit.delay, unit.concurrency)
    until = unit.until()
    async with make_client(unit.settings) as client:

        async def one(item: WorkItem) -> ItemOutcome:
            started_at, duration, answer = await fetch_item(client, item, unit.settings, gate, asyncio.sleep, until)
            result = process_answer(item, answer, sites) if isinstance(answer, Fetched) else None
            return ItemOutcome(item.url, started_at, round(duration, 4), answer, result)

        return tuple(await asyncio.gather(*(one(item) for item in unit.items)))


@dataclass(frozen=True)
class SiteBundle:
    """The site rules, scattered to every Dask worker once per run."""

    rules: tuple[SiteRules, ...]


# --- executors -----------------------------------------------------------------------------------------------


class Executor(Protocol):
    """Runs units; `run` yields each URL's outcome as it is ready (only URLs it attempted)."""

    name: str
    unit_size: int  # URLs per unit
    remote: bool  # runs elsewhere: started (and answering) before the archive is touched

    async def start(self, sites: Sequence[SiteRules], settings: Settings) -> None:
        """Start (a second call does nothing)."""

    def run(self, unit: WorkUnit, gate: HostGate, stop: Callable[[], bool]) -> AsyncIterator[ItemOutcome]: ...

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

    async def _process(self, item: WorkItem, answer: Fetched) -> Outcome:
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

    async def run(self, unit: WorkUnit, gate: HostGate, stop: Callable[[], bool]) -> AsyncIterator[ItemOutcome]:
        """Fetch the unit's URLs one turn at a time; each answer is extracted while the next is
        fetched, and handed back as soon as it is ready."""
        ready: asyncio.Queue[Any] = asyncio.Queue()
        held = 0  # slots taken by answers not yet handed back

        async def finish(item: WorkItem, started_at: str, duration: float, answer: Fetched | FetchFailure) -> None:
            try:
                result = await self._process(item, answer) if isinstance(answer, Fetched) else None
                ready.put_nowait(ItemOutcome(item.url, started_at, round(duration, 4), answer, result))
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


class DaskExecutor:
    """Submit units to a Dask scheduler; results stream back as units finish."""

    name = "dask"
    unit_size = CLUSTER_UNIT_SIZE
    remote = True

    def __init__(self, address: str, *, timeout: float = 10.0, retries: int = CLUSTER_RETRIES) -> None:
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self.client: Any = None
        self._ids = itertools.count(1)
        self._waiters: dict[str, asyncio.Future[Any]] = {}
        self._collector: asyncio.Task[None] | None = None

    async def start(self, sites: Sequence[SiteRules], settings: Settings) -> None:
        if self.client is not None:
            return  # started already
        distributed = import_distributed()
        self.client = await connect(self.address, self.timeout, asynchronous=True)
        nthreads = sum((await self.client.nthreads()).values()) or 1
        self.inflight = asyncio.Semaphore(max(2, 2 * nthreads))
        self.bundle = SiteBundle(tuple(sites))
        self.sites = await self.client.scatter(self.bundle, broadcast=True, hash=False)
        self.completed = distributed.as_completed(with_results=False)
        log.info("cluster %s: %d worker thread(s)", self.address, nthreads)

    async def close(self) -> None:
        if self._collector is not None:
            self._collector.cancel()
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _collect(self) -> None:
        """Hand each finished unit to the host waiting for it, in the order units finish."""
        async for future in self.completed:
            waiter = self._waiters.pop(future.key, None)
            if waiter is None or waiter.done():
                continue
            try:
                waiter.set_result(await future)
            except Exception as exc:  # noqa: BLE001 - any remote error: raised in the host that asked
                waiter.set_exception(exc)

    async def _submit(self, unit: WorkUnit) -> tuple[ItemOutcome, ...]:
        """Run one unit on the cluster. Dask reruns a unit whose worker died; a unit Dask still
        gives up on (or forgets, as it can when workers die) is submitted again from here, up to
        `retries` times: units only fetch, so running one twice stores nothing twice."""
        for attempt in range(self.retries + 1):
            key = f"archiver-unit-{uuid.uuid4().hex[:12]}-{unit.kind}-{unit.host}"
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._waiters[key] = waiter
            future = self.client.submit(run_unit, unit, self.sites, key=key, pure=False, retries=self.retries)
            self.completed.add(future)
            if self._collector is None or self._collector.done():
                self._collector = asyncio.create_task(self._collect())
            try:
                return tuple(await waiter)
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as exc:  # any remote failure: try again, then report
                self._waiters.pop(key, None)
                if attempt < self.retries:
                    log.warning("cluster %s: unit of %s lost (%s: %s); submitting it again",
                                self.address, unit.host, type(exc).__name__, exc)
                    # the site rules may have died with the worker that held them
                    self.sites = await self.client.scatter(self.bundle, broadcast=True, hash=False)
                    continue
                raise ClusterUnavailable(
                    f"cluster {self.address}: a unit of {len(unit.items)} URL(s) of {unit.host} "
                    f"failed on every try ({type(exc).__name__}: {exc}); its URLs stay due, "
                    "nothing was lost: check the workers, then run again"
                ) from exc
        raise AssertionError("unreachable")

    async def run(self, unit: WorkUnit, gate: HostGate, stop: Callable[[], bool]) -> AsyncIterator[ItemOutcome]:
        if stop():
            return
        # spaced from this host's last request (robots.txt, the last unit), and bounded in all
        async with gate.turn(), self.inflight:
            outcomes = await self._submit(unit)
        for outcome in outcomes:
            yield outcome


def import_distributed() -> Any:
    """The `distributed` module, or a ConfigError saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise ConfigError(
            "--cluster needs Dask distributed, which is not installed: "
            "pip install 'archiver[cluster]'"
        ) from exc
    return distributed


async def _probe(distributed: Any, address: str, timeout: float) -> None:
    """Connect to the scheduler and ask who it is, all within `timeout` seconds. A port that
    accepts connections but never answers would hold `distributed.Client` forever (its
    handshake has no deadline); this fails instead."""
    async def ask() -> None:
        comm = await distributed.comm.connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            await comm.read()
        finally:
            await comm.close()

    await asyncio.wait_for(ask(), timeout)


def _no_workers(address: str, timeout: float) -> ClusterUnavailable:
    return ClusterUnavailable(
        f"Dask scheduler {address} has no workers (waited {timeout:g}s); start some with "
        f"`dask worker {address}` on each machine, then run again"
    )


async def _connect_async(distributed: Any, address: str, timeout: float) -> Any:
    await _probe(distributed, address, timeout)
    client = await distributed.Client(address, asynchronous=True, timeout=timeout)
    try:
        await client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as exc:
        await client.close()
        raise _no_workers(address, timeout) from exc
    return client


def connect(address: str, timeout: float, *, asynchronous: bool = False) -> Any:
    """A `distributed.Client` for the scheduler at `address` with at least one worker (a
    coroutine when `asynchronous`); ClusterUnavailable after `timeout` seconds otherwise, also
    when the scheduler's port accepts the connection but nothing answers."""
    distributed = import_distributed()

    def failed(exc: BaseException) -> ClusterUnavailable:
        why = str(exc) or "no answer"
        return ClusterUnavailable(
            f"cannot reach the Dask scheduler at {address} within {timeout:g}s ({why}); start one "
            f"with `dask scheduler` and workers with `dask worker {address}`, check the address "
            "(tcp://HOST:8786), or run without --cluster (and without ARCHIVER_CLUSTER) to work "
            "on this machine"
        )

    if asynchronous:

        async def go() -> Any:
            try:
                return await _connect_async(distributed, address, timeout)
            except ClusterUnavailable:
                raise
            except (OSError, TimeoutError, ValueError) as exc:
                raise failed(exc) from exc

        return go()
    try:
        asyncio.run(_probe(distributed, address, timeout))
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise failed(exc) from exc
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as exc:
        client.close()
        raise _no_workers(address, timeout) from exc
    return client


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


__all__ = [
    "ClusterUnavailable",
    "DaskExecutor",
    "Executor",
    "HostGate",
    "InProcessExecutor",
    "ItemOutcome",
    "LinkRules",
    "WorkItem",
    "WorkUnit",
    "connect",
    "discover_job",
    "extract_job",
    "fetch_item",
    "inline_pool",
    "make_executor",
    "process_answer",
    "run_unit",
    "worker_pool",
]
