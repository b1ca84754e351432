"""The extraction pools the commands start: the crawl's (`worker_pool`: processes from a forkserver
that preloads `archiver.jobs`), the one-off commands' (`local_pool`: forked from this process), and
a thread for tests (`inline_pool`); `started_pool` starts any of them behind one interface
(`WorkerPool`'s: `start`, `run`, `close`), with the per-page timeout where it can be enforced.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, Executor, ThreadPoolExecutor
from typing import Any

from archiver.errors import WorkersFailing
from archiver.jobs import init_worker
from archiver.workers import WorkerPool


class ExecutorPool:
    """A `concurrent.futures` executor behind `WorkerPool`'s interface (tests run the crawl's
    extraction on a thread in the crawl process: `inline_pool`)."""

    def __init__(self, executor: Executor, workers: int = 1) -> None:
        self.executor = executor
        self.size = workers

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self.executor, os.getpid) for _ in range(self.size)))

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)
        except BrokenExecutor as exc:
            raise WorkersFailing(f"the extraction workers died ({exc}); nothing was lost, run again") from exc

    async def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


async def started_pool(
    make: Callable[[Sequence[Any], int], Any], sites: Sequence[Any], workers: int, timeout: float | None
) -> WorkerPool | ExecutorPool:
    """A started extraction pool from a factory (`worker_pool`, or a `concurrent.futures`
    executor such as `inline_pool`, run behind `ExecutorPool`), with `timeout`
    per job where the pool can enforce it: worker processes can be killed, threads cannot."""
    made = make(sites, workers)
    pool = ExecutorPool(made, workers) if isinstance(made, Executor) else made
    if isinstance(pool, WorkerPool):
        pool.timeout = timeout
    try:
        await pool.start()
    except BaseException:
        await pool.close()
        raise
    return pool


def forkserver_context() -> Any:
    """Where worker processes start: forked from a server that has imported the extraction stack
    once (`archiver.jobs`; trafilatura and readability load lazily, so each worker would import
    them on its first page), or spawned where there is no forkserver."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["archiver.jobs", "trafilatura", "readability"])
    return ctx


def worker_pool(sites: Sequence[Any], workers: int) -> WorkerPool:
    """The crawl's extraction pool: `workers` processes from the forkserver, with the site rules
    and the orphan watch of `archiver.jobs.init_worker` (not started: `await pool.start()`)."""
    return WorkerPool(workers, initializer=init_worker, initargs=(tuple(sites), os.getpid()),
                      context=forkserver_context())


def inline_pool(sites: Sequence[Any], workers: int = 1) -> Executor:
    """A thread 'pool' in this process (for tests and tiny crawls: no process start-up). The
    crawl takes it behind `WorkerPool`'s interface (`ExecutorPool`); the WARC import submits to
    it directly."""
    return ThreadPoolExecutor(max_workers=1, initializer=init_worker, initargs=(tuple(sites),))


def local_pool(sites: Sequence[Any], workers: int) -> WorkerPool:
    """An extraction pool for one-off commands (`archiver fetch`, `extract`, `reextract`): worker
    processes forked from this one, so none waits for a fresh interpreter to import the
    extraction stack. Start it (`await pool.start()`) before anything starts threads here:
    forking a process while another of its threads holds a lock can deadlock the child."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return WorkerPool(workers, initializer=init_worker, initargs=(tuple(sites), os.getpid()), context=context)
