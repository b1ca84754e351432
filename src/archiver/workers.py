"""Local worker processes fed straight from the crawl's event loop (`WorkerPool`).

A crawl hands each fetched page to a worker process for extraction and awaits the record. With
`concurrent.futures.ProcessPoolExecutor` every page passes through two helper threads of the
crawl process (a queue manager and a pipe feeder) and back through a third hop into the event
loop: four thread wake-ups a page, each a handoff of the GIL, on the process that also fetches
and stores. Here the event loop writes each job to its worker's pipe itself (non-blocking, via
an asyncio pipe transport) and reads the answer when the result pipe is readable: no helper
threads, about a fifth of the CPU per page.

- Workers start from the forkserver (the extraction stack preloaded, see
  `archiver.pools.forkserver_context`), run their initializer, then jobs in order; a job's
  exception comes back and is raised to its caller.
- A job goes to the worker with the fewest jobs in flight.
- With a `timeout`, a job that runs longer (counted from when its worker could start it, once
  the worker has started up, or from its last `mark()`) has its worker killed: the job fails
  with `ExtractTimeout` and the jobs queued behind it go to a new worker, so one page that is slow to extract cannot hold up
  the pages after it. A job that works through many pages calls `mark(note)` as it starts each
  one: the clock starts again, and the note (which page) comes with the `ExtractTimeout`.
- A worker that dies (killed, out of memory, or brought down by the page it was extracting) fails
  only the job it was running, with `WorkerDied`: the crawl records that page as failed and tries
  it again later, so a page that crashes the extractor cannot stop every run at the same place.
  The jobs queued behind it go to a new worker started in its place. Past `max_deaths` deaths
  the pool gives up: every job raises `WorkersFailing` and the crawl stops.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from archiver.errors import ArchiverError, ExtractTimeout, WorkerDied, WorkersFailing

log = logging.getLogger(__name__)

_JOIN_SECONDS = 5.0
_START_SECONDS = 60.0  # a new worker's start-up (imports, initializer) on top of a job's timeout
_READY = "ready"  # the first message of a worker whose initializer has run
_results: Connection | None = None  # in a worker process: where answers and marks go


def mark(note: Any = None) -> None:
    """Say, from inside a job, that it starts a new piece of work (the next page): the pool's
    per-job timeout counts from here, and a timeout reports `note`. A no-op outside a worker."""
    if _results is not None:
        _results.send_bytes(pickle.dumps((None, note), pickle.HIGHEST_PROTOCOL))


def _frame(payload: bytes) -> bytes:
    """`payload` framed as `multiprocessing.connection.Connection.recv_bytes` reads it."""
    if len(payload) > 0x7FFFFFFF:
        return struct.pack("!i", -1) + struct.pack("!Q", len(payload)) + payload
    return struct.pack("!i", len(payload)) + payload


def _serve(jobs: Connection, results: Connection, initializer: Callable[..., None], initargs: tuple[Any, ...],
           inherited: tuple[int, ...] = ()) -> None:
    """A worker process: run jobs in order until the job pipe closes. `inherited`: the pool's own
    ends of every worker's pipes, which a forked worker holds copies of; closed first, or no
    worker would see its job pipe close."""
    global _results
    for fd in inherited:
        try:
            os.close(fd)
        except OSError:
            pass
    _results = results
    initializer(*initargs)
    try:
        results.send_bytes(pickle.dumps((_READY, None), pickle.HIGHEST_PROTOCOL))
    except OSError:
        return  # the pool closed while this worker was starting
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
        return "ended"
    return f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"


class _Pipe(asyncio.BaseProtocol):
    def __init__(self, pool: WorkerPool, worker: _Worker) -> None:
        self.pool = pool
        self.worker = worker

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:  # the worker's end closed under a write: it is gone
            self.pool._ended(self.worker)


Job = tuple["asyncio.Future[Any]", bytes]  # the caller's future, the framed job


@dataclass(eq=False)
class _Worker:
    process: Any
    results: Connection
    fds: tuple[int, ...] = ()  # this process's ends of the worker's pipes
    transport: asyncio.WriteTransport | None = None
    waiting: deque[Job] = field(default_factory=deque)  # in the order the worker runs them
    dead: bool = False
    answered: int = 0  # answers it sent back
    ready: bool = False  # its initializer has run: a job's clock starts no earlier
    timer: asyncio.TimerHandle | None = None  # the running job's timeout
    note: Any = None  # what the running job last said it was doing (`mark`)
    expired: Job | None = None  # the job it was killed for running too long


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
        max_deaths: int | None = None,
        timeout: float | None = None,
    ) -> None:
        self.size = max(1, workers)
        self.timeout = timeout  # seconds a job may run (None: no limit)
        self.timeouts = 0  # workers killed for a job past `timeout` (not counted as deaths)
        self.initializer = initializer
        self.initargs = initargs
        self.context = context or multiprocessing.get_context()
        self.max_deaths = max(4, 2 * self.size) if max_deaths is None else max_deaths
        self.workers: list[_Worker] = []
        self.backlog: list[Job] = []  # jobs waiting for a worker to be started
        self.deaths = 0
        self.broken: str | None = None
        self.closed = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._starting: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        for _ in range(self.size):
            self.workers.append(await self._spawn())

    async def _spawn(self) -> _Worker:
        assert self.loop is not None
        job_read, job_write = self.context.Pipe(duplex=False)
        result_read, result_write = self.context.Pipe(duplex=False)
        inherited: tuple[int, ...] = ()
        if self.context.get_start_method() == "fork":
            inherited = (job_write.fileno(), result_read.fileno(), *(
                fd for w in self.workers if not w.dead for fd in w.fds))
        process = self.context.Process(
            target=_serve, args=(job_read, result_write, self.initializer, self.initargs, inherited),
            name="archiver-extract", daemon=True,
        )
        process.start()
        job_read.close()  # the worker's ends: ours closed, so EOF means what it says
        result_write.close()
        worker = _Worker(process, result_read, fds=(job_write.fileno(), result_read.fileno()))
        os.set_blocking(job_write.fileno(), False)
        worker.transport, _ = await self.loop.connect_write_pipe(functools.partial(_Pipe, self, worker), job_write)
        self.loop.add_reader(result_read.fileno(), self._readable, worker)
        self.loop.add_reader(process.sentinel, self._ended, worker)
        return worker

    @property
    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self.workers if not worker.dead]

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run `func(*args)` in a worker process: its result, or its exception raised here;
        `WorkerDied` when the worker died running it, `WorkersFailing` once the pool gave up."""
        if self.broken:
            raise WorkersFailing(self.broken)
        if self.loop is None:
            raise RuntimeError("WorkerPool.run before start()")
        future: asyncio.Future[Any] = self.loop.create_future()
        self._send((future, _frame(pickle.dumps((func, args), pickle.HIGHEST_PROTOCOL))))
        return await future

    def _send(self, job: Job) -> None:
        live = [worker for worker in self.workers if not worker.dead]
        if not live:
            self.backlog.append(job)
            return
        worker = min(live, key=lambda w: len(w.waiting))
        assert worker.transport is not None
        worker.transport.write(job[1])
        worker.waiting.append(job)
        if len(worker.waiting) == 1:
            self._arm(worker)

    def _arm(self, worker: _Worker) -> None:
        """Start the clock of the job at the head of a worker's queue (the one it runs)."""
        if worker.timer is not None:
            worker.timer.cancel()
            worker.timer = None
        if self.timeout is not None and worker.waiting and self.loop is not None:
            # a worker still starting (forked, importing, preloading) gets its start-up time
            # on top: the job's own clock starts once the worker says it is ready
            limit = self.timeout if worker.ready else self.timeout + _START_SECONDS
            worker.timer = self.loop.call_later(limit, self._expire, worker)

    def _expire(self, worker: _Worker) -> None:
        """A job ran past the timeout: kill its worker (`_ended` fails the job, and replaces it)."""
        worker.timer = None
        if worker.dead or not worker.waiting:
            return
        worker.expired = worker.waiting[0]
        log.warning("extraction worker process %d: a job ran past %gs; stopping it",
                    worker.process.pid, self.timeout)
        worker.process.kill()

    def _readable(self, worker: _Worker) -> None:
        if not self._read_one(worker):
            self._ended(worker)

    def _read_one(self, worker: _Worker) -> bool:
        """Take one answer off a worker's result pipe; False when the pipe has closed."""
        try:
            data = worker.results.recv_bytes()
        except (EOFError, OSError):
            return False
        ok, value = pickle.loads(data)
        if ok == _READY:
            worker.ready = True
            self._arm(worker)
            return True
        if ok is None:  # a mark: the job started its next piece of work
            worker.note = value
            self._arm(worker)
            return True
        worker.answered += 1
        worker.note = None
        if worker.waiting:
            future, _ = worker.waiting.popleft()
            if not future.done():  # else its caller was cancelled
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
            self._arm(worker)
        return True

    def _ended(self, worker: _Worker) -> None:
        """A worker's process ended or its pipes broke: fail the job it was running, and hand
        the ones queued behind it to a new worker (or, past `max_deaths`, give up)."""
        if worker.dead or self.closed:
            return
        worker.dead = True
        assert self.loop is not None
        if worker.timer is not None:
            worker.timer.cancel()
        self.loop.remove_reader(worker.process.sentinel)
        while not worker.results.closed and worker.results.poll(0) and self._read_one(worker):
            pass  # answers it sent before it went are still good
        self.loop.remove_reader(worker.results.fileno())
        worker.results.close()
        # The loop may have seen the job pipe close first; its transport is then closing (or
        # closed, its loop dropped) and must not be aborted again.
        if worker.transport is not None and not worker.transport.is_closing():
            worker.transport.abort()
        worker.process.join(1.0)  # its pipe may close a moment before its exit is known
        how = _how(worker.process.exitcode)
        self.workers.remove(worker)
        queued = list(worker.waiting)
        worker.waiting.clear()
        if worker.expired is not None:  # stopped by us: the job that ran too long fails, if it
            self.timeouts += 1  # had not answered in the meantime; no death is counted
            if queued and queued[0] is worker.expired:
                future, _ = queued.pop(0)
                if not future.done():
                    future.set_exception(ExtractTimeout(
                        f"extraction took longer than {self.timeout:g}s (the extract_timeout "
                        f"setting); its worker process (pid {worker.process.pid}) was stopped",
                        worker.note,
                    ))
        else:
            self.deaths += 1
            if queued:
                future, _ = queued.pop(0)
                if not future.done():
                    future.set_exception(WorkerDied(
                        f"the extraction worker process (pid {worker.process.pid}) {how} while working on this page"
                    ))
            log.warning("extraction worker process %d %s (%d death(s) this run)", worker.process.pid, how, self.deaths)
        if self.deaths > self.max_deaths:
            if not worker.answered and worker.process.exitcode == 1:
                # status 1 before any answer: an uncaught error as it started (a job's own
                # errors come back as answers; a crash or the OOM killer ends it by signal)
                hint = ("the workers exit as they start: see the error they printed above (a "
                        "script that starts a crawl must do so under `if __name__ == '__main__':`)")
            else:
                hint = ("check memory (dmesg for the OOM killer) and the pages in `fetches` "
                        "with error kind 'worker'")
            self._give_up(
                f"{self.deaths} extraction worker processes died in this run (the last "
                f"{how}); the crawl stops: {hint}, then run again; nothing stored was lost",
                queued,
            )
            return
        self.backlog[:0] = queued  # ahead of anything sent since: they were sent first
        task = self.loop.create_task(self._replace())
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _replace(self) -> None:
        try:
            worker = await self._spawn()
        except Exception as exc:  # noqa: BLE001 - no way to start workers: the pool is done
            self._give_up(f"cannot start an extraction worker process ({exc}); run again", [])
            return
        if self.closed:
            self._stop_worker(worker)
            return
        self.workers.append(worker)
        backlog, self.backlog = self.backlog, []
        for job in backlog:
            if not job[0].done():
                self._send(job)

    def _give_up(self, reason: str, jobs: list[Job]) -> None:
        if self.broken is None:
            self.broken = reason
            log.error("%s", reason)
        pending = jobs + self.backlog + [job for worker in self.workers for job in worker.waiting]
        self.backlog.clear()
        for worker in self.workers:
            worker.waiting.clear()
        for future, _ in pending:
            if not future.done():
                future.set_exception(WorkersFailing(self.broken))

    def _stop_worker(self, worker: _Worker) -> None:
        if self.loop is not None:
            self.loop.remove_reader(worker.process.sentinel)
            if not worker.results.closed:
                self.loop.remove_reader(worker.results.fileno())
        if worker.transport is not None:
            worker.transport.close()

    async def close(self) -> None:
        """End the workers: their job pipes close and idle ones exit; one still running a job
        (nobody waits for it any more) is killed."""
        self.closed = True
        for task in list(self._starting):
            task.cancel()
        for worker in self.workers:
            self._stop_worker(worker)
            if worker.timer is not None:
                worker.timer.cancel()
            busy = bool(worker.waiting)
            for future, _ in worker.waiting:
                future.cancel()
            worker.waiting.clear()
            if busy and worker.process.is_alive():
                worker.process.kill()
        for future, _ in self.backlog:
            future.cancel()
        self.backlog.clear()
        for worker in self.workers:
            await asyncio.to_thread(worker.process.join, _JOIN_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                await asyncio.to_thread(worker.process.join, _JOIN_SECONDS)
            worker.results.close()
        self.workers.clear()


__all__ = ["ExtractTimeout", "WorkerDied", "WorkerPool", "WorkersFailing", "mark"]
