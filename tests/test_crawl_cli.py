"""`archiver crawl` end to end: real subprocesses, a real server, then the SQLite file.
The lock, kill -9 and resume, politeness from the request log, log formats and exit statuses."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from archiver.crawl import EXIT_LOCKED, crawl_lock
from support.crawlsite import article_gets, article_path, make_site, serve_site


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def crawl_feed(run_cli, server, *args: str):  # type: ignore[no-untyped-def]
    """`archiver crawl` of the test site's RSS feed, quickly (no delay, one extraction worker)."""
    return run_cli(*args, "crawl", "--allow-private", "--host-delay", "0", "--workers", "1",
                   "--start", server.base_url + "/feed.rss", "--log-format", "plain")


def test_crawl_stores_articles_and_prints_one_summary_line(run_cli, tmp_path):
    site = make_site(tmp_path / "site", 4)
    with serve_site(site) as server:
        proc = crawl_feed(run_cli, server)
    assert proc.returncode == 0, proc.stderr
    (summary,) = proc.stdout.strip().splitlines()
    assert summary.startswith("crawl run 1: discovered 4, fetched 5, new 4, changed 0")
    assert "robots-blocked 0, duration" in summary
    assert "new 200 " + server.base_url + article_path(0) in proc.stderr
    db = tmp_path / "data" / "archive.db"
    assert rows(db, "SELECT COUNT(*), COUNT(DISTINCT url) FROM articles") == [(4, 4)]
    assert rows(db, "SELECT status, new, command FROM crawl_runs")[0][:2] == ("done", 4)


def test_json_log_format(run_cli, tmp_path):
    site = make_site(tmp_path / "site", 2)
    with serve_site(site) as server:
        proc = run_cli("crawl", "--allow-private", "--host-delay", "0", "--workers", "1",
                       "--start", server.base_url + "/atom.xml", "--log-format", "json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["event"] == "summary" and summary["new"] == 2 and summary["run_id"] == 1
    events = [json.loads(line) for line in proc.stderr.strip().splitlines()]
    assert {e["event"] for e in events} >= {"start", "discovered", "fetched"}


def test_failed_fetches_exit_1_and_bad_input_exits_2(run_cli, tmp_path):
    site = make_site(tmp_path / "site", 3)
    with serve_site(site) as server:
        server.fail = {article_path(1): 404}
        proc = crawl_feed(run_cli, server)
    assert proc.returncode == 1, proc.stderr
    assert "failed 1" in proc.stdout and "HTTP 404" in proc.stderr
    bad = run_cli("crawl", "--start", "ftp://example.com/feed")
    assert bad.returncode == 2 and "ftp://example.com/feed" in bad.stderr
    unknown = run_cli("crawl", "--site", "nope", "--sites", str(tmp_path))
    assert unknown.returncode == 2 and "no site file named nope" in unknown.stderr


def test_a_second_crawl_exits_at_once_while_one_holds_the_lock(run_cli, tmp_path):
    db = tmp_path / "data" / "archive.db"
    db.parent.mkdir()
    with crawl_lock(db):
        started = time.monotonic()
        proc = run_cli("crawl", "--start", "http://127.0.0.1:9/feed", "--allow-private")
        took = time.monotonic() - started
    assert proc.returncode == EXIT_LOCKED
    assert "another crawl (pid" in proc.stderr and "is running on this archive" in proc.stderr
    assert took < 15
    assert not db.exists() or rows(db, "SELECT COUNT(*) FROM crawl_runs") == [(0,)]


def test_host_delay_from_archiver_toml_spaces_requests(run_cli, tmp_path):
    (tmp_path / "archiver.toml").write_text("[archiver]\nhost_delay = 0.25\nextract_workers = 1\n")
    site = make_site(tmp_path / "site", 3)
    with serve_site(site) as server:
        proc = run_cli("crawl", "--allow-private", "--start", server.base_url + "/feed.rss",
                       "--log-format", "plain")
        times = [t for t, _, _, _ in server.log.entries]
    assert proc.returncode == 0, proc.stderr
    assert len(times) == 5  # robots.txt, the feed, three articles
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.24, gaps


def test_a_crawl_killed_mid_run_completes_on_the_next_with_each_article_once(tmp_path):
    n = 30
    site = make_site(tmp_path / "site", n)
    db = tmp_path / "archive.db"
    env = {**os.environ, "ARCHIVER_BACKOFF_BASE": "0.01"}
    with serve_site(site) as server:
        args = [sys.executable, "-m", "archiver", "crawl", "--db", str(db), "--allow-private",
                "--host-delay", "0.08", "--workers", "1", "--log-format", "plain",
                "--start", server.base_url + "/sitemap_index.xml"]
        proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        stored = 0
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            try:
                stored = rows(db, "SELECT COUNT(*) FROM articles")[0][0]
            except sqlite3.OperationalError:
                continue  # not created yet
            if stored >= 8:
                break
        assert proc.poll() is None, "the crawl ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        before = {url for (url,) in rows(db, "SELECT fetched_url FROM articles")}
        assert 8 <= len(before) < n
        first_gets = len(article_gets(server))
        second = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        again = [path for _, path, _ in article_gets(server)[first_gets:]]
    assert second.returncode == 0, second.stderr
    assert rows(db, "SELECT COUNT(*), COUNT(DISTINCT url) FROM articles") == [(n, n)]
    assert rows(db, "SELECT COUNT(*) FROM article_versions") == [(n,)]
    assert not {server.base_url + p for p in again} & before  # nothing archived fetched again
    every = {server.base_url + article_path(i) for i in range(n)}
    assert len(again) == len(set(again)) and {server.base_url + p for p in again} == every - before
    runs = rows(db, "SELECT status, stop_reason FROM crawl_runs ORDER BY id")
    assert runs == [("interrupted", "killed"), ("done", "complete")]
    assert rows(db, "SELECT state, COUNT(*) FROM frontier GROUP BY state") == [("done", n + 4)]
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]


def test_crawl_every_site_file(run_cli, tmp_path):
    site = make_site(tmp_path / "site", 3)
    rules = tmp_path / "rules"
    rules.mkdir()
    with serve_site(site) as server:
        (rules / "gazette.toml").write_text(
            '[site]\nname = "gazette"\ndomains = ["127.0.0.1"]\n'
            f'[discovery]\nfeeds = ["{server.base_url}/feed.rdf"]\n'
            'article_patterns = ["/news/"]\n'
        )
        proc = run_cli("crawl", "--sites", str(rules), "--allow-private", "--host-delay", "0",
                       "--workers", "1", "--log-format", "plain")
    assert proc.returncode == 0, proc.stderr
    db = tmp_path / "data" / "archive.db"
    assert rows(db, "SELECT site, COUNT(*) FROM articles GROUP BY site") == [("gazette", 3)]


def test_crawl_site_keeps_the_sites_table_current(run_cli, tmp_path):
    site = make_site(tmp_path / "site", 2)
    rules = tmp_path / "rules"
    rules.mkdir()
    db = tmp_path / "data" / "archive.db"
    with serve_site(site) as server:
        (rules / "gazette.toml").write_text(
            '[site]\nname = "gazette"\ndomains = ["127.0.0.1"]\n'
            f'[discovery]\nfeeds = ["{server.base_url}/feed.rdf"]\n'
        )
        (rules / "herald.toml").write_text('[site]\nname = "herald"\ndomains = ["herald.example"]\n')
        crawl = ("crawl", "--sites", str(rules), "--site", "gazette", "--allow-private",
                 "--host-delay", "0", "--workers", "1", "--log-format", "plain")
        first = run_cli(*crawl)
        assert first.returncode == 0, first.stderr
        started = rows(db, "SELECT started_at FROM crawl_runs ORDER BY id")
        assert rows(db, "SELECT name, domains, last_crawled_at FROM sites ORDER BY name") == [
            ("gazette", '["127.0.0.1"]', started[-1][0]), ("herald", '["herald.example"]', None)]
        # a site file that changes its domains, and a later crawl: the rows follow
        (rules / "herald.toml").write_text(
            '[site]\nname = "herald"\ndomains = ["herald.example", "www.herald.example"]\n')
        time.sleep(1.1)  # timestamps are to the second
        second = run_cli(*crawl)
        assert second.returncode == 0, second.stderr
    started = rows(db, "SELECT started_at FROM crawl_runs ORDER BY id")
    assert len(started) == 2 and started[1] > started[0]
    assert rows(db, "SELECT name, domains, last_crawled_at FROM sites ORDER BY name") == [
        ("gazette", '["127.0.0.1"]', started[1][0]),
        ("herald", '["herald.example", "www.herald.example"]', None)]


def test_one_crawl_per_archive_whatever_path_names_it(run_cli, tmp_path):
    """The lock follows the archive, not the path string: through a symlink (to the file or to
    its folder) or a relative path, a second crawl finds the first one's lock."""
    real = tmp_path / "real"
    real.mkdir()
    db = real / "archive.db"
    (tmp_path / "link.db").symlink_to(db)
    (tmp_path / "linkdir").symlink_to(real, target_is_directory=True)
    with crawl_lock(db) as held:
        assert held == db.with_name("archive.db.lock") and held.exists()
        for other in ("link.db", "linkdir/archive.db", "real/../real/archive.db", str(tmp_path / "link.db")):
            proc = run_cli("crawl", "--db", other, "--start", "http://127.0.0.1:9/feed", "--allow-private")
            assert proc.returncode == EXIT_LOCKED, (other, proc.stderr)
            assert "another crawl" in proc.stderr
    assert not held.exists()  # given up cleanly: no lock file left behind


def test_a_crawl_leaves_no_lock_file_and_a_bogus_site_leaves_no_archive(run_cli, tmp_path):
    site = make_site(tmp_path / "site", 2)
    with serve_site(site) as server:
        proc = crawl_feed(run_cli, server)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "data").iterdir() if not p.name.startswith("archive.db-")) == [
        "archive.db"]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for args in (["crawl", "--site", "bogus"], ["crawl", "--site", "bogus", "--db", "x.db"]):
        bogus = subprocess.run([sys.executable, "-m", "archiver", *args], cwd=fresh, capture_output=True,
                               text=True, timeout=60, check=False)
        assert bogus.returncode == 2 and "no site file named bogus" in bogus.stderr
        assert list(fresh.iterdir()) == []  # no archive, no data/ folder, no lock file


def test_a_run_whose_hosts_cannot_be_reached_exits_1(run_cli, tmp_path):
    """Every host down (its robots.txt unreachable): nothing was fetched, and cron must see it."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = run_cli("crawl", "--allow-private", "--start", f"http://127.0.0.1:{port}/feed.rss",
                   "--log-format", "plain", "--timeout", "2")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "1 host(s) unreachable" in proc.stdout
    db = tmp_path / "data" / "archive.db"
    assert rows(db, "SELECT status, unreachable, error FROM crawl_runs") == [("failed", 1, None)]


def test_plain_logs_carry_one_timestamp_format(run_cli, tmp_path):
    """Progress lines and the logging module's lines (a failure's warning, -v info) alike."""
    import re

    site = make_site(tmp_path / "site", 2)
    with serve_site(site) as server:
        server.fail = {article_path(1): 404}
        proc = crawl_feed(run_cli, server, "-v")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert any(" WARNING archiver.crawl: failed " in line for line in lines)  # from logging
    assert any(line.split(" ", 1)[1].startswith("new 200 ") for line in lines)  # from the progress
    stamped = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")
    assert all(stamped.match(line) for line in lines), [line for line in lines if not stamped.match(line)]
    assert not any(" INFO httpx:" in line for line in lines)  # one line per page, archiver's own
