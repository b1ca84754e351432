"""Bounded work per page and per run: a page that is slow to extract (a generated 5 MB page of
small blocks, served by the fault server, seconds of work for any extractor) is stopped at the
extract_timeout wherever extraction runs in worker processes (crawl, fetch, import, reextract,
extract), recorded as failed (kind timeout) and never holds up the pages after it; a crawl with
--max-duration ends within max_duration + deadline; `archiver extract` reads at most
max_body_bytes."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver import store
from archiver.config import Settings
from archiver.crawl import Source, crawl
from archiver.localserver import SiteServer, serve
from archiver.models import Fetched, FetchFailure, FetchResult
from archiver.reextract import reextract
from archiver.timestamps import parse_iso
from archiver.warcimport import import_warcs
from support.faultserver import FIXTURES, SEED, FaultHandler, slow_page

TIMEOUT = 2.0  # seconds; a normal page takes a tenth of that, the slow page several seconds
NORMAL = ("/pages/seed-plain.html", "/pages/other-plain.html", "/pages/seed-elementor.html",
          "/pages/other-elementor.html")


class FeedHandler(FaultHandler):
    """The fault routes, and /list.rss: a feed of the paths in the server's `listed`."""

    def route(self, path: str, head: bool) -> bool:
        if path == "/list.rss":
            origin = self.server.base_url
            items = "".join(f"<item><title>{p}</title><link>{origin}{p}</link></item>"
                            for p in self.server.listed)  # type: ignore[attr-defined]
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>l</title>{items}</channel></rss>'
            self.send_body(200, body.encode(), "application/rss+xml", head)
            return True
        return super().route(path, head)


def feed_server(listed: list[str]):  # type: ignore[no-untyped-def]
    context = serve(FIXTURES, FeedHandler)
    server: SiteServer = context.__enter__()
    server.listed = listed  # type: ignore[attr-defined]
    return context, server


@pytest.fixture()
def quick(settings: Settings) -> Settings:
    return replace(settings, host_delay=0.0, extract_workers=1, extract_timeout=TIMEOUT)


def errors(db) -> dict[str, tuple]:  # type: ignore[no-untyped-def, type-arg]
    return {row[0]: row[1:] for row in db.execute(
        "SELECT url, outcome, error_kind, error_message FROM fetches ORDER BY id")}


def test_a_crawl_stops_pages_that_are_slow_to_extract_and_archives_the_rest(tmp_path: Path, quick: Settings) -> None:
    """Real worker processes (one: the slow pages cannot hide behind a second worker); each slow
    page's worker is killed at the timeout and replaced, and the pages behind it go on."""
    listed = ["/slow-extract/one", *NORMAL[:2], "/slow-extract/two", *NORMAL[2:]]
    context, server = feed_server(listed)
    db = store.Archive(tmp_path / "a.db")
    try:
        started = time.monotonic()
        report = crawl(db, [Source(server.base_url + "/list.rss", "start")], quick)
        took = time.monotonic() - started
    finally:
        context.__exit__(None, None, None)
    origin = server.base_url
    rows = errors(db)
    for slow in ("/slow-extract/one", "/slow-extract/two"):
        outcome, kind, message = rows[origin + slow]
        assert (outcome, kind) == ("failed", "timeout"), rows[origin + slow]
        assert f"longer than {TIMEOUT:g}s" in message and "extract_timeout" in message
    # each page archived (the seed's second layout names its site: a change of that article)
    assert {rows[origin + p][0] for p in NORMAL} <= {"new", "changed", "unchanged"}
    assert (report.new + report.changed + report.unchanged, report.failed) == (4, 2)
    assert took < 4 * TIMEOUT + 20, took  # two timeouts, not two whole extractions (~10 s each)
    # retried on the slow schedule: a day from now, then a week
    for slow in ("/slow-extract/one", "/slow-extract/two"):
        state, due, error = db.execute("SELECT state, next_attempt_at, last_error FROM frontier WHERE url = ?",
                                       [origin + slow]).fetchone()
        assert state == "failed" and error.startswith("timeout: ")
        wait = parse_iso(due) - datetime.now(UTC)
        assert timedelta(hours=23) < wait <= timedelta(days=1)


def test_archiver_fetch_gives_up_on_a_page_that_is_slow_to_extract(run_cli, base_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    proc = run_cli("fetch", "--allow-private", "--db", "a.db", f"{base_url}/slow-extract/fetch",
                   f"{base_url}/pages/seed-plain.html", env={"ARCHIVER_EXTRACT_TIMEOUT": str(TIMEOUT)})
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert f"FAILED {base_url}/slow-extract/fetch: extraction took longer than {TIMEOUT:g}s" in proc.stderr
    assert "new" in proc.stdout and "seed-plain.html" in proc.stdout
    assert took < TIMEOUT + 15, took
    db = store.Archive(tmp_path / "a.db", create=False)
    assert db.execute("SELECT error_kind FROM fetches WHERE url LIKE '%slow-extract%'").fetchone() == ("timeout",)
    assert db.execute("SELECT count(*) FROM articles").fetchone() == (1,)


def _warc(path: Path, pages: list[tuple[str, bytes]]) -> None:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        for url, body in pages:
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body),
                http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                              protocol="HTTP/1.1"),
                warc_headers_dict={"WARC-Date": "2026-03-01T08:00:00Z"})
            writer.write_record(record)


def test_import_fails_only_the_page_that_is_slow_to_extract(tmp_path: Path) -> None:
    """The slow page is in the middle of a range a worker reads: that worker is stopped, the page
    is recorded as failed (its body kept, for a later reextract), and the pages before and after
    it in the range are imported."""
    warc = tmp_path / "pages.warc.gz"
    normal = [(f"https://news.example/{p.rsplit('/', 1)[1]}", (FIXTURES / p.lstrip("/")).read_bytes()) for p in NORMAL]
    _warc(warc, [*normal[:2], ("https://news.example/slow", slow_page()), *normal[2:]])
    db = store.Archive(tmp_path / "a.db")
    report = import_warcs(db, [warc], workers=1, extract_timeout=TIMEOUT)
    assert (report.pages, report.new + report.unchanged + report.changed, report.failed, report.broken) == (5, 4, 1, [])
    assert db.execute("SELECT outcome, error_kind FROM fetches WHERE url = 'https://news.example/slow'"
                      ).fetchone() == ("failed", "timeout")
    assert db.execute("SELECT count(*) FROM pages").fetchone() == (5,)
    again = import_warcs(db, [warc], workers=1, extract_timeout=TIMEOUT)
    assert (again.pages, again.already) == (0, 5)  # nothing twice


def test_reextract_stops_a_page_that_is_slow_to_extract(tmp_path: Path) -> None:
    db = store.Archive(tmp_path / "a.db")
    for url, body in (("https://news.example/slow", slow_page()), ("https://news.example/seed", SEED.read_bytes())):
        fetched = Fetched(url, url, 200, (("content-type", "text/html; charset=utf-8"),), body,
                          "2026-03-01T08:00:00Z", 0.1)
        db.store_result(FetchResult(url, fetched.fetched_at, 0.1, fetched=fetched,
                                           failure=FetchFailure(url, "extract", "an older extractor failed")))
    started = time.monotonic()
    report = reextract(db, workers=1, extract_timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT + 15
    assert report.count("new") == 1 and report.count("failed") == 1
    ((_, why),) = report.failures
    assert "https://news.example/slow" in why and f"longer than {TIMEOUT:g}s" in why


def test_archiver_extract_runs_in_a_worker_with_the_deadline_and_caps_its_input(run_cli, tmp_path: Path) -> None:
    (tmp_path / "slow.html").write_bytes(slow_page())
    started = time.monotonic()
    slow = run_cli("extract", "slow.html", "--url", "https://news.example/slow",
                   env={"ARCHIVER_EXTRACT_TIMEOUT": str(TIMEOUT)})
    assert time.monotonic() - started < TIMEOUT + 10
    assert slow.returncode == 2 and "Traceback" not in slow.stderr
    assert f"slow.html: extraction took longer than {TIMEOUT:g}s" in slow.stderr
    # /dev/zero (or any endless stream) is refused at max_body_bytes, not read into memory
    started = time.monotonic()
    endless = run_cli("extract", "/dev/zero", "--url", "https://news.example/zero")
    assert time.monotonic() - started < 10
    assert endless.returncode == 2 and "/dev/zero: over the 10485760-byte cap (max_body_bytes)" in endless.stderr
    piped = subprocess.run([sys.executable, "-m", "archiver", "extract", "-", "--url", "https://news.example/p"],
                           input=b"<p>" * (11 * 1024 * 1024 // 3), capture_output=True, timeout=60, check=False)
    assert piped.returncode == 2 and b"over the 10485760-byte cap" in piped.stderr
    # a normal page: text by default, the record with --json
    (tmp_path / "seed.html").write_bytes(SEED.read_bytes())
    text = run_cli("extract", "seed.html", "--url", "https://news.example/seed")
    record = run_cli("extract", "seed.html", "--url", "https://news.example/seed", "--json")
    assert text.returncode == record.returncode == 0, (text.stderr, record.stderr)
    import json

    title = json.loads(record.stdout)["title"]
    assert text.stdout.startswith(title + "\n") and "words:" in text.stdout


def test_max_duration_stops_retries_and_the_run_ends_within_max_duration_plus_deadline(
        tmp_path: Path, settings: Settings) -> None:
    """The slow page's extraction (no extract_timeout to speak of here) is still running when
    max_duration + deadline comes: it is abandoned and its URL stays due. The 429 asks for a
    retry after 7 s, past max_duration: no retry is made."""
    context, server = feed_server(["/slow-extract/maxdur", "/ratelimited/maxdur"])
    db = store.Archive(tmp_path / "a.db")
    limits = replace(settings, host_delay=0.0, extract_workers=1, extract_timeout=600.0, max_duration=1.0,
                     deadline=2.0, retry_after_cap=60.0)
    try:
        started = time.monotonic()
        report = crawl(db, [Source(server.base_url + "/list.rss", "start")], limits)
        took = time.monotonic() - started
        hits = server.log.paths().count("/ratelimited/maxdur")
    finally:
        context.__exit__(None, None, None)
    assert took < limits.max_duration + limits.deadline + 3, took
    assert report.stop_reason == "max-duration"
    assert hits == 1  # its retry would start after max_duration: not made
    rows = errors(db)
    assert "time is up" in rows[server.base_url + "/ratelimited/maxdur"][2]
    slow = db.execute("SELECT state, next_attempt_at FROM frontier WHERE url LIKE '%slow-extract%'").fetchone()
    assert slow[0] == "queued" and slow[1] is not None  # abandoned, still due: fetched again next run
    assert server.base_url + "/slow-extract/maxdur" not in rows
