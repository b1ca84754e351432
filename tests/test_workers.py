"""The crawl's extraction processes (archiver.workers.WorkerPool): real processes, real pipes."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from archiver.errors import ExtractTimeout
from archiver.models import Article, Fetched
from archiver.pools import worker_pool
from archiver.workers import WorkerDied, WorkerPool, WorkersFailing, mark
from support.faultserver import SEED
from support.procs import alive


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


def _marking(steps: int, seconds: float) -> int:
    """A job over `steps` pieces of work, each `seconds` long, marking each as it starts."""
    for step in range(steps):
        mark(f"step {step}")
        time.sleep(seconds)
    return steps


def pool(workers: int = 2, initializer=_noop, max_deaths: int | None = None,  # type: ignore[no-untyped-def]
         timeout: float | None = None) -> WorkerPool:
    from archiver.pools import forkserver_context

    return WorkerPool(workers, initializer=initializer, context=forkserver_context(), max_deaths=max_deaths,
                      timeout=timeout)


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


def test_a_worker_that_dies_fails_only_its_job_and_is_replaced():
    async def run():
        workers = pool(1)
        await workers.start()
        try:
            first = workers.pids[0]
            before = asyncio.ensure_future(workers.run(_slow, 0.3))
            dying = asyncio.ensure_future(workers.run(_die))
            behind = asyncio.ensure_future(workers.run(_pid))  # queued behind the dying job
            assert await before == first
            with pytest.raises(WorkerDied, match="exited with status 3 while working on this page"):
                await dying
            replacement = await behind
            assert replacement != first and workers.pids == [replacement]
            assert await workers.run(_square, 5) == 25 and workers.deaths == 1
            return first
        finally:
            await workers.close()

    assert not alive(asyncio.run(run()))


@pytest.mark.parametrize("pipe_seen_closing_first", [False, True])
def test_a_worker_killed_with_sigkill_fails_the_job_it_was_running(pipe_seen_closing_first: bool):
    # A dying worker closes its end of the job pipe and its result pipe, and its process ends:
    # the loop may see the job pipe close (its transport then drops its loop) a turn before
    # the pool hears of the death. `pipe_seen_closing_first` forces that order by closing the
    # transport before the kill.
    async def run():
        workers = pool(1)
        await workers.start()
        try:
            job = asyncio.ensure_future(workers.run(_slow, 5.0))
            await asyncio.sleep(0.3)
            if pipe_seen_closing_first:
                transport = workers.workers[0].transport
                assert transport is not None
                transport.abort()
                await asyncio.sleep(0.05)  # its connection_lost has run
            os.kill(workers.pids[0], signal.SIGKILL)
            with pytest.raises(WorkerDied, match="killed by signal 9"):
                await asyncio.wait_for(job, 10)
            return await asyncio.wait_for(workers.run(_square, 4), 30)
        finally:
            await workers.close()

    assert asyncio.run(run()) == 16


def test_a_pool_whose_workers_keep_dying_gives_up():
    async def run():
        workers = pool(1, max_deaths=1)
        await workers.start()
        try:
            with pytest.raises(WorkerDied):
                await workers.run(_die)
            second = asyncio.ensure_future(workers.run(_die))
            queued = asyncio.ensure_future(workers.run(_square, 2))
            with pytest.raises(WorkerDied):
                await second
            with pytest.raises(WorkersFailing, match="2 extraction worker processes died") as failing:
                await queued
            assert "OOM" in str(failing.value)  # they died working, not starting
            with pytest.raises(WorkersFailing):
                await workers.run(_square, 3)
        finally:
            await workers.close()

    asyncio.run(run())


def _cannot_start(*args: object) -> None:
    raise RuntimeError("this worker cannot start")


def test_workers_that_fail_as_they_start_are_reported_as_such():
    """Workers that exit with an error before answering a job (a broken initializer, a script
    without a main guard) stop the pool with a message that says so, not one about memory."""
    async def run():
        workers = pool(1, initializer=_cannot_start, max_deaths=1)
        await workers.start()
        try:
            jobs = [asyncio.ensure_future(workers.run(_square, n)) for n in range(3)]
            outcomes = await asyncio.gather(*jobs, return_exceptions=True)
            assert all(isinstance(o, (WorkerDied, WorkersFailing)) for o in outcomes), outcomes
            failing = [o for o in outcomes if isinstance(o, WorkersFailing)]
            assert failing and "exit as they start" in str(failing[0]) and "OOM" not in str(failing[0])
        finally:
            await workers.close()

    asyncio.run(run())


def test_large_pages_and_records_pass_both_ways():
    """A 5 MiB page is far past a pipe's buffer: the event loop writes it in pieces."""
    from archiver.jobs import extract_job

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


def test_extraction_workers_load_nothing_of_the_store_or_the_network():
    """The crawl's own worker processes (forked from the forkserver that preloads archiver.jobs),
    after extracting a page and reading a feed: no SQLite layer, no HTTP client, no archive."""
    from archiver.jobs import LinkRules, discover_job, extract_job
    from support.probe import loaded_modules

    page = Fetched("http://news.example/a", "http://news.example/a", 200,
                   (("content-type", "text/html; charset=utf-8"),), SEED.read_bytes(), "2026-01-01T00:00:00Z", 0.1)
    feed = Fetched("http://news.example/feed", "http://news.example/feed", 200, (("content-type", "application/rss+xml"),),
                   b"<rss><channel><item><link>http://news.example/2025/06/a-long-story-slug/</link></item></channel></rss>",
                   "2026-01-01T00:00:00Z", 0.1)

    async def run():
        workers = worker_pool((), 1)
        await workers.start()
        try:
            article = await workers.run(extract_job, page)
            links = await workers.run(discover_job, feed, LinkRules())
            return article, links, await workers.run(loaded_modules)
        finally:
            await workers.close()

    article, links, modules = asyncio.run(run())
    assert isinstance(article, Article) and len(links.articles) == 1
    assert "archiver.jobs" in modules and "archiver.extract" in modules  # the probe sees the worker's own
    forbidden = ("sqlite_utils", "sqlite3", "httpx", "httpcore", "h11", "archiver.store", "archiver.fetch",
                 "archiver.wire", "archiver.executor", "archiver.crawl")
    assert [m for m in modules if m.split(".")[0] in forbidden or m.startswith(forbidden)] == []


def test_a_crawl_whose_extraction_worker_is_killed_carries_on_and_retries_that_page(tmp_path, settings):
    """The crawl's real worker processes; one is killed with SIGKILL mid-crawl. The page it was
    extracting is a failed fetch to retry later; every other article is stored, once."""
    import multiprocessing
    import sqlite3
    import threading
    from dataclasses import replace

    from archiver import store
    from archiver.crawl import Source, crawl
    from support.crawlsite import make_site, serve_site

    n = 24
    site = make_site(tmp_path / "site", n)
    slow = replace(settings, host_delay=0.1, extract_workers=2)
    killed: list[int] = []

    def kill_a_worker() -> None:
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
        worker = next(p for p in multiprocessing.active_children() if p.name == "archiver-extract")
        os.kill(worker.pid, signal.SIGKILL)
        killed.append(worker.pid)

    with serve_site(site) as server:
        sources = [Source(server.base_url + "/feed.rss", "start")]
        db = store.Archive(tmp_path / "archive.db")
        killer = threading.Thread(target=kill_a_worker)
        killer.start()
        report = crawl(db, sources, slow)
        killer.join()
    assert killed and not alive(killed[0])
    stored = db.execute("SELECT count(*), count(DISTINCT url) FROM articles").fetchone()
    failed = db.execute(
        "SELECT url, last_error, next_attempt_at FROM frontier WHERE kind = 'article' AND state = 'failed'"
    ).fetchall()
    # the killed worker was extracting a page (then it failed) or was between pages (then not)
    assert report.failed == len(failed) <= 1
    assert stored == (n - len(failed), n - len(failed)) and report.new == n - len(failed)
    for _url, error, retry_at in failed:
        assert error.startswith("worker: the extraction worker process") and "killed by signal 9" in error
        assert retry_at is not None  # tried again in a later run


def test_a_job_past_the_timeout_has_its_worker_killed_and_replaced_and_the_jobs_behind_it_run():
    async def run():
        workers = pool(1, max_deaths=0, timeout=0.5)  # timeouts are not deaths: the pool goes on
        await workers.start()
        try:
            first = workers.pids[0]
            started = time.monotonic()
            stuck = asyncio.ensure_future(workers.run(_slow, 30.0))
            behind = [asyncio.ensure_future(workers.run(_square, n)) for n in range(3)]
            with pytest.raises(ExtractTimeout, match="longer than 0.5s .*extract_timeout") as info:
                await stuck
            assert time.monotonic() - started < 5
            assert info.value.kind == "timeout" and isinstance(info.value, WorkerDied)
            assert await asyncio.gather(*behind) == [0, 1, 4]
            assert workers.pids != [first] and not alive(first)
            assert (workers.timeouts, workers.deaths, workers.broken) == (1, 0, None)
            # each job's clock starts when its worker can run it: queued time does not count
            many = await asyncio.gather(*(workers.run(_slow, 0.2) for _ in range(6)))
            return len(many)
        finally:
            await workers.close()

    assert asyncio.run(run()) == 6


def _slow_start(*args: object) -> None:
    time.sleep(1.5)  # a worker that takes long to import and preload (a loaded machine)


def test_a_jobs_clock_starts_when_its_worker_has_started_up():
    async def run():
        workers = pool(1, initializer=_slow_start, timeout=0.5)
        await workers.start()
        try:
            first = workers.pids[0]
            answer = await workers.run(_square, 7)  # sent at once, run 1.5 s later: not a timeout
            assert (workers.timeouts, workers.pids) == (0, [first])
            with pytest.raises(ExtractTimeout):  # once started, the job's own clock applies
                await workers.run(_slow, 30.0)
            return answer
        finally:
            await workers.close()

    assert asyncio.run(run()) == 49


def test_a_job_that_marks_its_steps_is_timed_per_step_and_a_timeout_names_the_step():
    async def run():
        workers = pool(1, timeout=0.6)
        await workers.start()
        try:
            assert await workers.run(_marking, 6, 0.2) == 6  # 1.2 s in all, 0.2 s a step
            with pytest.raises(ExtractTimeout) as info:
                await workers.run(_marking, 3, 5.0)
            return info.value.note
        finally:
            await workers.close()

    assert asyncio.run(run()) == "step 0"


def test_closing_kills_a_worker_stuck_in_a_job():
    async def run():
        workers = pool(1)
        await workers.start()
        pid = workers.pids[0]
        job = asyncio.ensure_future(workers.run(_slow, 60.0))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        await workers.close()
        assert job.cancelled() or job.done()
        return pid, time.monotonic() - started

    pid, took = asyncio.run(run())
    assert took < 3 and not alive(pid)
