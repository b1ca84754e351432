"""Local worker processes fed straight from the crawl's event loop (`WorkerPool`).

A crawl hands each fetched page to a worker process for extraction and awaits the record. With
`concurrent.futures.ProcessPoolExecutor` every page passes through two helper threads of the
crawl process (a queue manager and a pipe feeder) and back through a third hop into the event
loop: four thread wake-ups a page, each a handoff of the GIL, on the process that also fetches
and stores. Here the event loop writes each job to its worker's pipe itself (non-blocking, via
an asyncio pipe transport) and reads the answer when the result pipe is readable: no helper
threads, about a fifth of the CPU per page.

- Workers start from the forkserver (the extraction stack preloaded, see
  `archiver.executor.process_pool`), run `init_worker` and then jobs in order; a job's exception
  comes back and is raised to its caller.
- A job goes to the worker with the fewest jobs in flight.
- A worker that dies (killed, out of memory) breaks the pool: every job in flight, and every later
  one, raises `WorkerDied`. The crawl stops and reports it; nothing was stored for those pages, so
  the next run fetches them again.
- Closing the job pipe ends a worker; so does the crawl process dying (its end of the pipe closes
  with it), so a crawl killed with -9 leaves no workers behind.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import pickle
import struct
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from archiver.errors import ArchiverError

log = logging.getLogger(__name__)

_JOIN_SECONDS = 5.0


class WorkerDied(ArchiverError):
    """A worker process ended while jobs were in flight (or the pool was already broken)."""

    kind = "worker"


def _frame(payload: bytes) -> bytes:
    """`payload` framed as `multiprocessing.connection.Connection.recv_bytes` reads it."""
    if len(payload) > 0x7FFFFFFF:
        return struct.pack("!i", -1) + struct.pack("!Q", len(payload)) + payload
    return struct.pack("!i", len(payload)) + payload


def _serve(jobs: Connection, results: Connection, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    """A worker process: run jobs in order until the job pipe closes."""
    initializer(*initargs)
    while True:
        try:
            data = jobs.recv_bytes()
        except (EOFError, OSError):
            return  # the pool closed, or the crawl process is gone
        func, args = pickle.loads(data)
        try:
            answer: tuple[bool, Any] = (True, func(*args))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            answer = (False, exc)
        try:
            payload = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an unpicklable answer is the caller's error
            payload = pickle.dumps((False, ArchiverError(f"worker answer cannot be sent back: {exc!r}")))
        try:
            results.send_bytes(payload)
        except OSError:
            return


def _how(code: int | None) -> str:
    if code is None:
        return "still exiting"
    return f"killed by signal {-code}" if code < 0 else f"exit status {code}"


class _Pipe(asyncio.BaseProtocol):
    def __init__(self, worker: _Worker) -> None:
        self.worker = worker

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.pipe_lost = True


@dataclass
class _Worker:
    process: Any
    results: Connection
    transport: asyncio.WriteTransport | None = None
    waiting: deque[asyncio.Future[Any]] = field(default_factory=deque)
    pipe_lost: bool = False


class WorkerPool:
    """`workers` processes, each fed its jobs through a pipe by the running event loop.

    Use `await start()`, `await run(func, *args)` from that loop, then `await close()`.
    """

    def __init__(
        self,
        workers: int,
        *,
        initializer: Callable[..., None],
        initargs: tuple[Any, ...] = (),
        context: Any = None,
    ) -> None:
        self.size = max(1, workers)
        self.initializer = initializer
        self.initargs = initargs
        self.context = context or multiprocessing.get_context()
        self.workers: list[_Worker] = []
        self.broken: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        for _ in range(self.size):
            job_read, job_write = self.context.Pipe(duplex=False)
            result_read, result_write = self.context.Pipe(duplex=False)
            process = self.context.Process(
                target=_serve, args=(job_read, result_write, self.initializer, self.initargs),
                name="archiver-extract", daemon=True,
            )
            process.start()
            job_read.close()  # the worker's ends: ours closed, so EOF means what it says
            result_write.close()
            worker = _Worker(process, result_read)
            os.set_blocking(job_write.fileno(), False)
            worker.transport, _ = await self.loop.connect_write_pipe(functools.partial(_Pipe, worker), job_write)
            self.loop.add_reader(result_read.fileno(), self._answer, worker)
            self.loop.add_reader(process.sentinel, self._ended, worker)
            self.workers.append(worker)

    @property
    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self.workers]

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run `func(*args)` in a worker process; its result, or its exception raised here."""
        if self.broken:
            raise WorkerDied(self.broken)
        if not self.workers:
            raise RuntimeError("WorkerPool.run before start()")
        worker = min(self.workers, key=lambda w: len(w.waiting))
        assert self.loop is not None and worker.transport is not None
        future: asyncio.Future[Any] = self.loop.create_future()
        worker.transport.write(_frame(pickle.dumps((func, args), pickle.HIGHEST_PROTOCOL)))
        worker.waiting.append(future)
        return await future

    def _answer(self, worker: _Worker) -> None:
        try:
            data = worker.results.recv_bytes()
        except (EOFError, OSError):
            self._ended(worker)
            return
        ok, value = pickle.loads(data)
        if not worker.waiting:
            return
        future = worker.waiting.popleft()
        if future.done():  # its caller was cancelled
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def _ended(self, worker: _Worker) -> None:
        """A worker's process ended or its pipe broke: the pool is broken."""
        if self.loop is not None:
            self.loop.remove_reader(worker.process.sentinel)
            self.loop.remove_reader(worker.results.fileno())
        if self.broken is None:
            worker.process.join(1.0)  # its pipe may close a moment before its exit is known
            code = worker.process.exitcode
            self.broken = (
                f"an extraction worker process (pid {worker.process.pid}) ended "
                f"({_how(code)}) "
                "with pages in flight; nothing of them was stored: run again"
            )
            log.error("%s", self.broken)
        for other in self.workers:
            while other.waiting:
                future = other.waiting.popleft()
                if not future.done():
                    future.set_exception(WorkerDied(self.broken))

    async def close(self) -> None:
        """End the workers: their job pipes close, they finish the job in hand and exit."""
        loop = self.loop
        for worker in self.workers:
            if loop is not None:
                loop.remove_reader(worker.process.sentinel)
                loop.remove_reader(worker.results.fileno())
            if worker.transport is not None:
                worker.transport.close()
            for future in worker.waiting:
                future.cancel()
            worker.waiting.clear()
        for worker in self.workers:
            await asyncio.to_thread(worker.process.join, _JOIN_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                await asyncio.to_thread(worker.process.join, _JOIN_SECONDS)
            worker.results.close()
        self.workers.clear()


class ExecutorPool:
    """A `concurrent.futures` executor behind `WorkerPool`'s interface (tests run the crawl's
    extraction on a thread in the crawl process: `archiver.executor.inline_pool`)."""

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
            raise WorkerDied(f"the extraction workers died ({exc}); nothing was lost, run again") from exc

    async def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def worker_pool(sites: Sequence[Any], workers: int) -> WorkerPool:
    """The crawl's extraction pool: `workers` processes from the forkserver, with the site rules
    and the orphan watch of `archiver.executor.init_worker` (not started: `await pool.start()`)."""
    from archiver.executor import forkserver_context, init_worker

    return WorkerPool(workers, initializer=init_worker, initargs=(tuple(sites), os.getpid()),
                      context=forkserver_context())


__all__ = ["ExecutorPool", "WorkerDied", "WorkerPool", "worker_pool"]
