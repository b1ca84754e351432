"""A unit of crawl work: URLs of one host, fetched with that host's politeness (`HostGate`).

The coordinator (the process that runs the crawl) makes the units; an executor fetches them, on
this machine (`archiver.executor`) or on a cluster (`archiver.cluster`), and hands back one
`FetchResult` per URL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from archiver.config import Settings
from archiver.errors import FetchError
from archiver.fetch import Client, Sleep, fetch
from archiver.jobs import WorkItem, failure_of
from archiver.models import Article, Discovery, Fetched, FetchFailure, FetchResult
from archiver.timestamps import utc_now


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


async def fetch_item(
    client: Client, item: WorkItem, settings: Settings, gate: HostGate, sleep: Sleep,
    until: float | None = None,
) -> tuple[str, float, Fetched | FetchFailure]:
    """Fetch one URL in its host's turn: (started_at, seconds, the answer or the failure). The
    seconds are the fetch's own, as `Fetched.duration` counts them: not the wait for the turn."""
    answer: Fetched | FetchFailure
    async with gate.turn():
        started_at = utc_now()
        t0 = time.monotonic()
        try:
            answer = await fetch(client, item.url, settings, headers=dict(item.headers), sleep=sleep,
                                 until=until)
        except FetchError as exc:
            answer = failure_of(item.url, exc)
    return started_at, time.monotonic() - t0, answer


def units_of(
    host: str, items: Sequence[WorkItem], size: int, settings: Settings, delay: float = 0.0,
    concurrency: int = 1, time_left: Callable[[], float | None] = lambda: None,
) -> Iterator[WorkUnit]:
    """A host's prepared URLs as units: sources and articles apart, in crawl order, at most
    `size` each; each unit's time left is asked for as it is made (after the one before ran)."""
    run: list[WorkItem] = []
    for item in items:
        if run and (len(run) >= size or run[-1].is_source != item.is_source):
            yield WorkUnit(host, tuple(run), settings, delay, concurrency, time_left())
            run = []
        run.append(item)
    if run:
        yield WorkUnit(host, tuple(run), settings, delay, concurrency, time_left())


def result_of(
    item: WorkItem, started_at: str, duration: float, answer: Fetched | FetchFailure,
    made: Article | Discovery | FetchFailure | None = None,
) -> FetchResult:
    """One URL's record: the answer (or why there was none) and what the pure stage made of it
    (`archiver.jobs.page_outcome`)."""
    duration = round(duration, 4)
    if isinstance(answer, FetchFailure):
        return FetchResult(item.url, started_at, duration, failure=answer)
    return FetchResult(
        item.url, started_at, duration, fetched=answer,
        article=made if isinstance(made, Article) else None,
        discovery=made if isinstance(made, Discovery) else None,
        failure=made if isinstance(made, FetchFailure) else None,
    )


__all__ = ["HostGate", "WorkItem", "WorkUnit", "fetch_item", "result_of", "units_of"]
