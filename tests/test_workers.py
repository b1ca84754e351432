"""The crawl's extraction processes (archiver.workers.WorkerPool): real processes, real pipes."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from archiver.models import Article, Fetched
from archiver.workers import WorkerDied, WorkerPool, worker_pool
from faultserver import SEED


def _square(n: int) -> int:
    return n * n


def _fail(message: str) -> int:
    raise ValueError(message)


def _die() -> None:
    os._exit(3)


def _pid() -> int:
    return os.getpid()


def _noop(*args: object) -> None:
    return None


def _slow(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def pool(workers: int = 2) -> WorkerPool:
    from archiver.executor import forkserver_context

    return WorkerPool(workers, initializer=_noop, context=forkserver_context())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped) counts as gone
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_jobs_run_in_the_workers_and_come_back_in_any_number():
    async def run():
        workers = pool(2)
        await workers.start()
        try:
            results = await asyncio.gather(*(workers.run(_square, n) for n in range(200)))
            pids = set(await asyncio.gather(*(workers.run(_slow, 0.05) for _ in range(4))))
            return results, pids, workers.pids
        finally:
            await workers.close()

    results, pids, started = asyncio.run(run())
    assert results == [n * n for n in range(200)]
    assert pids == set(started) and os.getpid() not in pids  # both workers took work
    assert not any(alive(pid) for pid in started)  # closed: the workers are gone


def test_a_job_exception_is_raised_to_its_caller_and_the_pool_goes_on():
    async def run():
        workers = pool(1)
        await workers.start()
        try:
            with pytest.raises(ValueError, match="bad page"):
                await workers.run(_fail, "bad page")
            return await workers.run(_square, 7)
        finally:
            await workers.close()

    assert asyncio.run(run()) == 49


def test_a_worker_that_dies_fails_every_job_in_flight_and_later_ones():
    async def run():
        workers = pool(2)
        await workers.start()
        try:
            slow = asyncio.ensure_future(workers.run(_slow, 2.0))
            await asyncio.sleep(0.2)
            with pytest.raises(WorkerDied, match="exit status 3"):
                await workers.run(_die)
            with pytest.raises(WorkerDied):
                await slow  # on the other worker, but the pool is broken: its caller is told
            with pytest.raises(WorkerDied, match="nothing of them was stored"):
                await workers.run(_square, 2)
        finally:
            await workers.close()

    asyncio.run(run())


def test_a_worker_killed_with_sigkill_is_reported_with_its_signal():
    async def run():
        workers = pool(1)
        await workers.start()
        try:
            job = asyncio.ensure_future(workers.run(_slow, 5.0))
            await asyncio.sleep(0.3)
            os.kill(workers.pids[0], signal.SIGKILL)
            with pytest.raises(WorkerDied, match="killed by signal 9"):
                await job
        finally:
            await workers.close()

    asyncio.run(run())


def test_large_pages_and_records_pass_both_ways():
    """A 5 MiB page is far past a pipe's buffer: the event loop writes it in pieces."""
    from archiver.executor import extract_job

    big = SEED.read_bytes().replace(b"</body>", b"<!--" + b"x" * (5 * 1024 * 1024) + b"--></body>")
    page = Fetched("http://news.example/a", "http://news.example/a", 200,
                   (("content-type", "text/html; charset=utf-8"),), big, "2026-01-01T00:00:00Z", 0.1)

    async def run():
        workers = worker_pool((), 1)
        await workers.start()
        try:
            return await asyncio.gather(workers.run(extract_job, page), workers.run(_square, 3))
        finally:
            await workers.close()

    article, nine = asyncio.run(run())
    assert isinstance(article, Article) and article.title and nine == 9


def test_a_crawl_whose_extraction_worker_is_killed_stops_cleanly_and_the_next_run_completes(tmp_path, settings):
    """The crawl's real worker processes; one is killed with SIGKILL mid-crawl."""
    import multiprocessing
    import threading
    from dataclasses import replace

    from archiver import store
    from archiver.crawl import Source, crawl
    from crawlsite import make_site, serve_site

    n = 24
    site = make_site(tmp_path / "site", n)
    slow = replace(settings, host_delay=0.1, extract_workers=2)

    def kill_a_worker() -> None:
        import sqlite3

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # once some articles are committed
            time.sleep(0.05)
            reader = sqlite3.connect(tmp_path / "archive.db")
            try:
                if reader.execute("SELECT count(*) FROM articles").fetchone()[0] >= 3:
                    break
            except sqlite3.Error:
                pass  # not created yet
            finally:
                reader.close()
        workers = [p for p in multiprocessing.active_children() if p.name == "archiver-extract"]
        os.kill(workers[0].pid, signal.SIGKILL)

    with serve_site(site) as server:
        sources = [Source(server.base_url + "/feed.rss", "start")]
        db = store.open_archive(tmp_path / "archive.db")
        killer = threading.Thread(target=kill_a_worker)
        killer.start()
        with pytest.raises(WorkerDied, match="killed by signal 9"):
            crawl(db, sources, slow)
        killer.join()
        stored = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        assert 0 < stored < n
        # every article stored is done in the frontier, in the same commit; nothing else is
        done = db.execute("SELECT count(*) FROM frontier WHERE kind = 'article' AND state = 'done'").fetchone()[0]
        assert done == stored
        report = crawl(db, sources, replace(slow, host_delay=0.0))
        assert report.new == n - stored and report.failed == 0
        assert db.execute("SELECT count(*), count(DISTINCT url) FROM articles").fetchone() == (n, n)
