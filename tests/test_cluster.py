"""The crawl and the import on a real Dask cluster: a `dask scheduler` and two `dask worker`
processes on 127.0.0.1, started here and always torn down. The archive must equal the one the
in-process executor builds; a worker killed with SIGKILL mid-crawl loses nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from archiver import store
from archiver.cluster import DaskExecutor
from archiver.config import Settings
from archiver.crawl import Source, crawl
from archiver.errors import ClusterUnavailable
from archiver.export import export_archive
from archiver.pools import inline_pool
from archiver.warcimport import import_warcs
from support.crawlsite import make_site, serve_site

pytestmark = pytest.mark.slow

START_TIMEOUT = 30.0


def dask_command() -> list[str]:
    script = Path(sys.executable).parent / "dask"
    if script.exists():
        return [str(script)]
    found = shutil.which("dask")
    if found is None:
        pytest.fail("the `dask` command is missing: pip install -e '.[test]'")
    return [found]


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen  # type: ignore[type-arg]
    workers: list[subprocess.Popen] = field(default_factory=list)  # type: ignore[type-arg]

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid (asked of the workers themselves)."""
        with distributed.Client(self.address, timeout=10) as client:
            return dict(client.run(os.getpid))


def stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A scheduler and two single-threaded workers (no nanny: a killed worker stays dead)."""
    info = tmp_path / "scheduler.json"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    cmd = dask_command()
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    scheduler = subprocess.Popen(
        [*cmd, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(info)],
        stdout=(logs / "scheduler.log").open("wb"), stderr=subprocess.STDOUT, env=env,
    )
    running = Cluster("", scheduler)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (info.exists() and info.stat().st_size):
            assert scheduler.poll() is None, (logs / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        time.sleep(0.1)
        running.address = json.loads(info.read_text())["address"]
        for n in range(2):
            running.workers.append(subprocess.Popen(
                [*cmd, "worker", running.address, "--nworkers", "1", "--nthreads", "1", "--no-nanny",
                 "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{n}"],
                stdout=(logs / f"worker{n}.log").open("wb"), stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
            ))
        with distributed.Client(running.address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT)
        yield running
    finally:
        for proc in running.workers:
            stop(proc)
        stop(scheduler)


@pytest.fixture()
def fast(settings: Settings) -> Settings:
    return replace(settings, host_delay=0.0, extract_workers=1)


def articles(db) -> dict[str, tuple]:  # type: ignore[no-untyped-def, type-arg]
    return {row[0]: tuple(row[1:]) for row in db.execute(
        "SELECT url, title, body, subtitle, authors, published_at, versions, content_hash FROM articles")}


def frontier_states(db) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return dict(db.execute("SELECT url, state FROM frontier").fetchall())


def test_crawl_on_the_cluster_builds_the_same_archive_as_in_process(tmp_path, cluster, fast):
    sites = [make_site(tmp_path / f"site{n}", 10 + 4 * n) for n in range(2)]
    with serve_site(sites[0]) as one, serve_site(sites[1]) as two:
        sources = [Source(s.base_url + "/sitemap_index.xml", "start") for s in (one, two)]
        local = store.Archive(tmp_path / "local.db")
        here = crawl(local, sources, fast, pool=inline_pool)
        remote = store.Archive(tmp_path / "cluster.db")
        there = crawl(remote, sources, replace(fast, cluster=cluster.address))
        # the workers did the fetching: the servers saw every article twice, once per crawl
        for server, n in ((one, 10), (two, 14)):
            with server.log.lock:
                gets = [p for _, m, p, _ in server.log.entries if m == "GET" and p.startswith("/news/")]
            assert len(gets) == 2 * n and len(set(gets)) == n

    assert here.new == there.new == 24
    assert (there.failed, there.discovered, there.fetched) == (here.failed, here.discovered, here.fetched)
    assert articles(remote) == articles(local)
    assert len(articles(remote)) == 24
    assert frontier_states(remote) == frontier_states(local)
    assert set(frontier_states(remote).values()) == {"done"}
    for sql in ("SELECT url, sha256, status FROM pages ORDER BY url",
                "SELECT a.url, r.position, r.url FROM related_links r JOIN articles a ON a.id = r.article_id ORDER BY 1, 2"):
        assert remote.execute(sql).fetchall() == local.execute(sql).fetchall()
    assert remote.execute("SELECT status FROM crawl_runs").fetchall() == [("done",)]


def test_a_worker_killed_mid_crawl_has_its_unit_rerun_elsewhere(tmp_path, cluster, settings):
    pids = cluster.worker_pids()
    assert len(pids) == 2
    site = make_site(tmp_path / "site", 40)
    killed: list[tuple[str, str]] = []
    done = threading.Event()

    def kill_a_busy_worker() -> None:
        """SIGKILL the worker that is running a fetch unit, once it is under way."""
        with distributed.Client(cluster.address, timeout=10) as client:
            while not done.is_set():
                for worker, keys in client.processing().items():
                    units = [k for k in keys if str(k).startswith("archiver-unit-") and "-fetch-" in str(k)]
                    if units:
                        time.sleep(0.3)  # mid-unit: some of its pages fetched, not all
                        os.kill(pids[worker], signal.SIGKILL)
                        killed.append((worker, units[0]))
                        return
                time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    db = store.Archive(tmp_path / "archive.db")
    slow = replace(settings, host_delay=0.05, extract_workers=1, cluster=cluster.address)
    try:
        with serve_site(site) as server:
            report = crawl(db, [Source(server.base_url + "/sitemap_index.xml", "start")], slow)
    finally:
        done.set()
        killer.join(timeout=15)

    assert killed, "no worker was killed: the test did not exercise a lost unit"
    dead = [p for p in cluster.workers if p.poll() is not None]
    assert len(dead) == 1 and dead[0].returncode == -signal.SIGKILL
    assert report.new == 40 and report.failed == 0
    counts = db.execute("SELECT count(*), count(DISTINCT url), sum(versions) FROM articles").fetchone()
    assert tuple(counts) == (40, 40, 40)
    assert db.execute("SELECT count(*) FROM fetches WHERE article_id IS NOT NULL").fetchone()[0] == 40
    # every article URL is done, and each done article URL has its stored article
    assert db.execute("SELECT count(*) FROM frontier WHERE kind = 'article' AND state != 'done'").fetchone()[0] == 0
    assert db.execute(
        "SELECT count(*) FROM frontier f WHERE f.kind = 'article' AND f.state = 'done' "
        "AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = f.article_id)"
    ).fetchone()[0] == 0


def test_import_on_the_cluster_equals_the_local_import(tmp_path, cluster, fast):
    site = make_site(tmp_path / "site", 12)
    crawled = store.Archive(tmp_path / "crawled.db")
    with serve_site(site) as server:
        crawl(crawled, [Source(server.base_url + "/sitemap_index.xml", "start")], fast, pool=inline_pool)
    warc = tmp_path / "pages.warc.gz"
    assert export_archive(crawled, "warc", warc) == 12

    local = store.Archive(tmp_path / "local.db")
    import_warcs(local, [warc], workers=1, pool=inline_pool)
    remote = store.Archive(tmp_path / "remote.db")
    report = import_warcs(remote, [warc], cluster=cluster.address)
    assert (report.new, report.broken) == (12, [])
    assert articles(remote) == articles(local) and len(articles(remote)) == 12
    again = import_warcs(remote, [warc], cluster=cluster.address)
    assert (again.pages, again.already) == (0, 12)
    assert remote.execute("SELECT count(*) FROM pages").fetchone()[0] == 12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_scheduler_is_a_clear_error_before_anything_is_written(tmp_path, settings):
    address = f"tcp://127.0.0.1:{free_port()}"
    db = store.Archive(tmp_path / "archive.db")
    started = time.monotonic()
    with pytest.raises(ClusterUnavailable, match=rf"cannot reach the Dask scheduler at {address} within 1s"):
        crawl(db, [Source("http://127.0.0.1:9/feed.rss", "feed")],
              replace(settings, cluster=address, connect_timeout=1.0))
    assert time.monotonic() - started < 10
    assert db.execute("SELECT count(*) FROM crawl_runs").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM frontier").fetchone()[0] == 0


def test_cli_cluster_option_and_environment_variable(run_cli, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    flag = run_cli("crawl", "--start", "http://127.0.0.1:9/feed.rss", "--cluster", address,
                   "--log-format", "plain", env={"ARCHIVER_CONNECT_TIMEOUT": "1"})
    assert flag.returncode == 2
    assert f"cannot reach the Dask scheduler at {address}" in flag.stderr
    assert "dask scheduler" in flag.stderr and "without --cluster" in flag.stderr
    env = run_cli("import", str(tmp_path), "--db", "a.db",
                  env={"ARCHIVER_CLUSTER": address, "ARCHIVER_CONNECT_TIMEOUT": "1"})
    assert env.returncode == 2
    assert "no .warc or .warc.gz files" in env.stderr  # inputs are checked first
    (tmp_path / "x.warc").write_bytes(b"WARC/1.1\r\n\r\n")
    env = run_cli("import", "x.warc", "--db", "a.db",
                  env={"ARCHIVER_CLUSTER": address, "ARCHIVER_CONNECT_TIMEOUT": "1"})
    assert env.returncode == 2 and f"cannot reach the Dask scheduler at {address}" in env.stderr


def test_dask_executor_without_workers_says_so(tmp_path):
    """A scheduler with no workers would hold the work forever: it is an error at start."""
    info = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [*dask_command(), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(info)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (info.exists() and info.stat().st_size):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        import asyncio

        executor = DaskExecutor(address, timeout=1.0)
        with pytest.raises(ClusterUnavailable, match="has no workers"):
            asyncio.run(executor.start((), Settings()))
    finally:
        stop(scheduler)


def test_a_scheduler_port_that_accepts_but_never_answers_fails_within_the_timeout(run_cli, tmp_path):
    """A port that accepts connections and says nothing (a wrong service, a hung scheduler) held
    the crawl forever; a dead port left an empty archive. Both now fail after connect_timeout and
    leave nothing on disk: no archive, no data/ folder, no lock file."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list[socket.socket] = []
    stop_accepting = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop_accepting.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        for address in (f"tcp://127.0.0.1:{silent.getsockname()[1]}", f"tcp://127.0.0.1:{free_port()}"):
            started = time.monotonic()
            proc = run_cli("crawl", "--start", "http://127.0.0.1:9/feed.rss", "--cluster", address,
                           "--log-format", "plain", env={"ARCHIVER_CONNECT_TIMEOUT": "2"}, timeout=60)
            took = time.monotonic() - started
            assert proc.returncode == 2, (address, proc.stderr)
            assert f"cannot reach the Dask scheduler at {address} within 2s" in proc.stderr
            assert "Traceback" not in proc.stderr
            assert took < 20, took
            assert sorted(p.name for p in tmp_path.iterdir()) == [], address
            (tmp_path / "x.warc").write_bytes(b"WARC/1.1\r\n\r\n")
            imported = run_cli("import", "x.warc", "--cluster", address, "--db", "a.db",
                               env={"ARCHIVER_CONNECT_TIMEOUT": "2"}, timeout=60)
            assert imported.returncode == 2 and "cannot reach the Dask scheduler" in imported.stderr
            assert sorted(p.name for p in tmp_path.iterdir()) == ["x.warc"], address
            (tmp_path / "x.warc").unlink()
    finally:
        stop_accepting.set()
        acceptor.join(timeout=5)
        silent.close()
        for conn in held:
            conn.close()


def test_losing_the_scheduler_mid_crawl_is_one_line_exit_1_and_an_honest_run_row(run_cli, tmp_path, cluster):
    site = make_site(tmp_path / "site", 60)
    db = tmp_path / "archive.db"
    with serve_site(site) as server:
        args = [sys.executable, "-m", "archiver", "crawl", "--db", str(db), "--allow-private",
                "--host-delay", "0.1", "--cluster", cluster.address, "--log-format", "plain",
                "--start", server.base_url + "/sitemap_index.xml"]
        proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "ARCHIVER_CONNECT_TIMEOUT": "3"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.1)
            try:
                with __import__("sqlite3").connect(db) as conn:
                    if conn.execute("SELECT count(*) FROM articles").fetchone()[0] >= 3:
                        break
            except Exception:  # noqa: BLE001 - not created yet
                continue
        cluster.scheduler.kill()
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("archiver: error:")]
    assert len(errors) == 1 and "stopped" in errors[0], err
    assert out.startswith("crawl run 1:")  # the summary of what was kept
    with __import__("sqlite3").connect(db) as conn:
        status, error, new = conn.execute("SELECT status, error, new FROM crawl_runs").fetchone()
        kept = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert status == "failed" and error
    assert new == kept and 3 <= kept < 60
