"""Crash safety and concurrency: a real crawl process killed with SIGKILL at random moments
(fixed seeds) leaves a clean archive that the next run completes; Datasette reads while a
crawl writes, and neither side sees "database is locked"."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from archiver import store
from support.crawlsite import article_gets, article_path, make_site, serve_site
from support.procs import alive

pytestmark = pytest.mark.slow

N = 24


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql, args).fetchall()


def has_articles_table(db: Path) -> bool:
    """Whether the archive exists and has its schema (without creating the file, as connect would)."""
    if not db.exists():
        return False
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'articles'").fetchone() is not None


def crawl_args(db: Path, start: str) -> list[str]:
    return [sys.executable, "-m", "archiver", "crawl", "--db", str(db), "--allow-private",
            "--host-delay", "0.03", "--workers", "1", "--log-format", "plain", "--start", start]


@pytest.mark.parametrize("seed", [11, 23, 42])
def test_sigkill_at_random_moments_then_the_next_run_completes(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    site = make_site(tmp_path / "site", N)
    db = tmp_path / "archive.db"
    env = {**os.environ, "ARCHIVER_BACKOFF_BASE": "0.01"}
    with serve_site(site) as server:
        args = crawl_args(db, server.base_url + "/sitemap_index.xml")
        kills = 0
        checks: list[tuple[int, set[str]]] = []  # (server log position, articles stored) at each kill
        for _ in range(3):  # up to three kills, each after a random share of a run
            proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.4, 2.5))
            if proc.poll() is not None:
                break  # it finished before its kill
            family = descendants(proc.pid)  # the forkserver and extraction workers
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            kills += 1
            wait_until_gone(family)  # no orphaned workers left behind by a kill -9
            if not has_articles_table(db):
                # killed while starting (a loaded machine can take over a second to import),
                # before the schema was made: nothing is stored, so nothing can be half stored
                assert not article_gets(server)
                continue
            assert rows(db, "PRAGMA integrity_check") == [("ok",)]
            # never half an article: every article has its version, its page and its fetch row
            assert rows(db, "SELECT COUNT(*) FROM articles a WHERE NOT EXISTS "
                            "(SELECT 1 FROM article_versions v WHERE v.article_id = a.id) "
                            "OR a.page_id IS NULL OR NOT EXISTS "
                            "(SELECT 1 FROM fetches f WHERE f.article_id = a.id)") == [(0,)]
            stored = {url.split("?")[0] for (url,) in rows(db, "SELECT fetched_url FROM articles")}
            checks.append((len(article_gets(server)), stored))
        last = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        gets = [server.base_url + path for _, path, _ in article_gets(server)]
    assert last.returncode == 0, last.stderr
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert rows(db, "SELECT COUNT(*), COUNT(DISTINCT url), SUM(versions) FROM articles") == [(N, N, N)]
    expected = {server.base_url + article_path(i) for i in range(N)}
    assert {g.split("?")[0] for g in gets} == expected
    # nothing archived before a kill is fetched again after it (only work in flight is redone)
    for position, stored in checks:
        again = {g.split("?")[0] for g in gets[position:]}
        assert not again & stored, (kills, sorted(again & stored))
    assert rows(db, "SELECT COUNT(*) FROM frontier WHERE state != 'done'") == [(0,)]


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def wait_until_gone(pids: set[int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    left = set(pids)
    while left and time.monotonic() < deadline:
        left = {p for p in left if alive(p)}
        time.sleep(0.1)
    assert not left, f"processes left behind after kill -9: {sorted(left)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_datasette_reads_while_a_crawl_writes(tmp_path: Path) -> None:
    n = 60
    site = make_site(tmp_path / "site", n)
    db = tmp_path / "archive.db"
    env = {**os.environ, "ARCHIVER_BACKOFF_BASE": "0.01"}
    port = free_port()
    with serve_site(site) as server:
        store.Archive(db).conn.close()  # the archive exists before Datasette opens it
        serve = subprocess.Popen([sys.executable, "-m", "archiver", "serve", "--db", str(db),
                                  "--port", str(port)], cwd=tmp_path, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and serve.poll() is None:
                try:
                    urllib.request.urlopen(base + "/-/versions.json", timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.2)
            assert serve.poll() is None, serve.communicate()[0]
            args = [sys.executable, "-m", "archiver", "crawl", "--db", str(db), "--allow-private",
                    "--host-delay", "0", "--workers", "1", "--log-format", "plain",
                    "--start", server.base_url + "/feed.rss"]
            crawl = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            seen, reads, errors = [], 0, []
            while crawl.poll() is None and reads < 2000:
                for path in ("/archive/articles.json?_shape=array&_size=5",
                             "/archive.json?sql=select+count(*)+as+n+from+articles&_shape=array",
                             "/archive/fetches.json?_shape=array&_size=5"):
                    try:
                        body = urllib.request.urlopen(base + path, timeout=10).read()
                    except OSError as exc:  # HTTP 500 "database is locked" would land here
                        errors.append(f"{path}: {exc}")
                        continue
                    reads += 1
                    if "count" in path:
                        seen.append(json.loads(body)[0]["n"])
            out, err = crawl.communicate(timeout=120)
        finally:
            serve.terminate()
            served = serve.communicate(timeout=10)[0]
    assert crawl.returncode == 0, err
    assert "locked" not in err.lower()
    assert errors == [], errors[:3]
    assert "database is locked" not in served
    assert reads > 10
    assert seen == sorted(seen)  # the reader saw the archive grow, never shrink or break
    assert rows(db, "SELECT COUNT(*) FROM articles") == [(n,)]
