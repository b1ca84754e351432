"""Work on a Dask cluster (`--cluster ADDRESS`): the connection, and the executor that runs a
crawl's units there.

`connect` reaches the scheduler, handshake included, within `connect_timeout`, and waits for a
worker: a scheduler that cannot be reached, a port that accepts connections but never answers, or
a scheduler with no workers is a `ClusterUnavailable` naming the address and what to do.

`DaskExecutor` submits each unit to the scheduler; a worker fetches and extracts the whole unit
(`run_unit`: network in, records out, no database) and the units stream back as they finish
(`as_completed`). At most one unit per host is in flight (politeness), and at most 2 x the
cluster's threads in all (memory). A worker that dies mid-unit has its unit rerun elsewhere by
Dask; a unit only fetches, so running it twice stores nothing twice.

Dask is an optional extra (`pip install 'archiver[cluster]'`), imported only when used.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archiver.config import Settings
from archiver.errors import ClusterUnavailable, ConfigError
from archiver.fetch import HostClients, make_client
from archiver.jobs import WorkItem, page_outcome
from archiver.models import Fetched, FetchResult
from archiver.rules import SiteRules
from archiver.units import HostGate, WorkUnit, fetch_item, result_of

log = logging.getLogger(__name__)

CLUSTER_UNIT_SIZE = 20  # URLs per unit sent to a cluster (each comes back with its page)
CLUSTER_RETRIES = 2  # a unit that raises is tried again this often (a lost worker: Dask's own count)


# --- the connection -------------------------------------------------------------------------------


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


# --- units on the cluster -----------------------------------------------------------------------


@dataclass(frozen=True)
class SiteBundle:
    """The site rules, scattered to every Dask worker once per run."""

    rules: tuple[SiteRules, ...]


def run_unit(unit: WorkUnit, sites: Sequence[SiteRules] | SiteBundle = ()) -> tuple[FetchResult, ...]:
    """Fetch and process a whole unit (a Dask task: network in, records out, no database).

    Idempotent: it only reads from the network, so a unit rerun after a lost worker changes
    nothing but the number of requests."""
    rules = sites.rules if isinstance(sites, SiteBundle) else tuple(sites)
    return asyncio.run(_run_unit(unit, rules))


async def _run_unit(unit: WorkUnit, sites: Sequence[SiteRules]) -> tuple[FetchResult, ...]:
    gate = HostGate(unit.delay, unit.concurrency)
    until = unit.until()
    async with make_client(unit.settings) as client:

        async def one(item: WorkItem) -> FetchResult:
            started_at, duration, answer = await fetch_item(client, item, unit.settings, gate, asyncio.sleep, until)
            made = page_outcome(item, answer, sites) if isinstance(answer, Fetched) else None
            return result_of(item, started_at, duration, answer, made)

        return tuple(await asyncio.gather(*(one(item) for item in unit.items)))


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
        self.clients: HostClients | None = None  # pages are fetched on the workers
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

    async def _submit(self, unit: WorkUnit) -> tuple[FetchResult, ...]:
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

    async def run(self, unit: WorkUnit, gate: HostGate, stop: Callable[[], bool]) -> AsyncIterator[FetchResult]:
        if stop():
            return
        # spaced from this host's last request (robots.txt, the last unit), and bounded in all
        async with gate.turn(), self.inflight:
            outcomes = await self._submit(unit)
        for outcome in outcomes:
            yield outcome


__all__ = ["CLUSTER_UNIT_SIZE", "DaskExecutor", "SiteBundle", "connect", "import_distributed", "run_unit"]
