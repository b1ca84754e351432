"""The crawl against a hostile server: every fault ends in a clear record, the crawl carries on
with the other URLs, memory stays bounded, and the archive changes only by those records."""

from __future__ import annotations

import socket
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from archiver import store
from archiver.config import Settings
from archiver.crawl import Source, crawl
from archiver.localserver import SiteServer, serve
from archiver.pools import inline_pool
from support.faultserver import FIXTURES, FaultHandler

# route -> (error kind, words in the message); None: the page is archived
ARTICLE_FAULTS: dict[str, tuple[str, str] | None] = {
    "/pages/missing.html": ("http-status", "HTTP 404"),
    "/gone": ("http-status", "HTTP 410"),
    "/always-503": ("http-status", "HTTP 503"),
    "/pdf": ("not-html", "application/pdf"),
    "/image": ("not-html", "image/png"),
    "/empty": ("extract", "empty"),
    "/truncated": ("transport", "broken"),
    "/truncated-chunked": ("transport", "broken"),
    "/reset": ("transport", "broken"),
    "/slow-drip": ("transport", "deadline"),
    "/redirect-loop": ("transport", "redirects"),
    "/redirect-private": ("blocked-address", "169.254.169.254"),
    "/redirect-loopback": ("blocked-address", "127.0.0.2"),
    "/huge": ("too-large", "cap"),
    "/gzip-bomb": ("too-large", "decompression"),
    "/brotli-bomb": ("too-large", "decompression"),
    "/nested": ("extract", "deep"),
    "/flaky/crawl": None,  # 503, 503, then the page
    "/ratelimited-date/crawl": None,  # 429 with Retry-After as an HTTP date, then the page
    "/nul-bytes": None,
    "/invalid-utf8": None,
    "/pages/other-plain.html": None,
}

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>{origin}/pages/seed-plain.html?from=laughs</link></item>
</channel></rss>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>x</title>
<item><title>&xxe;</title><link>{origin}/pages/seed-elementor.html?from=xxe</link></item>
</channel></rss>"""


class HostileHandler(FaultHandler):
    """The fault routes, plus feeds and sitemaps about them and switchable robots.txt answers."""

    def route(self, path: str, head: bool) -> bool:
        origin = self.server.base_url
        xml = "application/xml"
        if path == "/robots.txt":
            mode = getattr(self.server, "robots", "ok")
            if mode == "ok":
                self.send_body(200, b"User-agent: *\nDisallow: /blocked/\n", "text/plain", head)
            elif mode == "5xx":
                self.send_body(503, b"busy", "text/plain", head)
            elif mode == "4xx":
                self.send_body(404, b"no robots here", "text/html", head)
            elif mode == "html-error":
                self.send_body(200, b"<html><body><h1>Oops, an error</h1></body></html>", "text/html", head)
            elif mode == "10mb":
                body = b"User-agent: *\nDisallow: /blocked/\n" + b"# padding padding padding\n" * 400_000
                self.send_body(200, body, "text/plain", head)
        elif path == "/hostile.rss":
            items = "".join(
                f"<item><title>{route}</title><link>{origin}{route}</link></item>" for route in ARTICLE_FAULTS
            )
            refused = self.server.refused_url  # type: ignore[attr-defined]
            items += f"<item><title>refused</title><link>{refused}</link></item>"
            items += f"<item><title>blocked</title><link>{origin}/blocked/a-story/</link></item>"
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>h</title>{items}</channel></rss>'
            self.send_body(200, body.encode(), "application/rss+xml", head)
        elif path == "/good.rss":
            body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>g</title>'
                    f"<item><title>a</title><link>{origin}/pages/other-plain.html</link></item>"
                    f"<item><title>b</title><link>{origin}/blocked/a-story/</link></item></channel></rss>")
            self.send_body(200, body.encode(), "application/rss+xml", head)
        elif path == "/feeds/malformed.rss":
            self.send_body(200, b"<rss><channel><item><title>unclosed", xml, head)
        elif path == "/feeds/truncated.rss":
            body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Cut off in the mid'
            self.send_body(200, body, xml, head)
        elif path == "/feeds/half.rss":  # one whole item, then the download stops
            body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>h</title>'
                    f"<item><title>a</title><link>{origin}/pages/other-plain.html</link></item>"
                    f"<item><title>b</title><link>{origin}/pag").encode()
            self.send_body(200, body, xml, head)
        elif path == "/feeds/laughs.rss":
            self.send_body(200, LAUGHS.format(origin=origin).encode(), xml, head)
        elif path == "/feeds/xxe.rss":
            self.send_body(200, XXE.format(origin=origin).encode(), xml, head)
        elif path == "/sitemaps/self.xml":
            body = (f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    f"<sitemap><loc>{origin}/sitemaps/self.xml</loc></sitemap></sitemapindex>")
            self.send_body(200, body.encode(), xml, head)
        else:
            return super().route(path, head)
        return True


@contextmanager
def hostile(robots: str = "ok") -> Iterator[SiteServer]:
    with serve(FIXTURES, HostileHandler) as server:
        server.robots = robots  # type: ignore[attr-defined]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            server.refused_url = f"http://127.0.0.1:{s.getsockname()[1]}/closed-port/"  # type: ignore[attr-defined]
        yield server


@pytest.fixture()
def fast(settings: Settings) -> Settings:
    # private addresses refused except the test servers' own 127.0.0.1
    return replace(settings, allow_private=False, allow_networks=("127.0.0.1/32",), host_delay=0.0,
                   extract_workers=1, deadline=2.0, retries=2, retry_after_cap=0.05)


def fetch_rows(db) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    return {row[0]: row[1:] for row in db.execute(
        "SELECT url, outcome, error_kind, error_message, attempts FROM fetches ORDER BY id")}


def test_each_fault_is_recorded_and_the_crawl_goes_on(tmp_path: Path, fast: Settings) -> None:
    FaultHandler.warm()
    db = store.Archive(tmp_path / "a.db")
    with hostile() as server:
        tracemalloc.start()
        report = crawl(db, [Source(server.base_url + "/hostile.rss", "start")], fast, pool=inline_pool)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        origin = server.base_url
        refused = server.refused_url  # type: ignore[attr-defined]
        assert not any("/blocked/" in p for p in server.log.paths())  # robots.txt obeyed
    rows = fetch_rows(db)
    failures = {route: want for route, want in ARTICLE_FAULTS.items() if want}
    for route, want in failures.items():
        outcome, kind, message, _ = rows[origin + route]
        assert (outcome, kind) == ("failed", want[0]), (route, rows[origin + route])
        assert want[1] in message, (route, message)
    # a host that refuses connections: its robots.txt is unreachable, so it is skipped for the run
    refused_robots = refused.rsplit("/", 2)[0] + "/robots.txt"
    assert rows[refused_robots][:2] == ("failed", "robots") and "cannot connect" in rows[refused_robots][2]
    stored = {route for route, want in ARTICLE_FAULTS.items() if want is None}
    for route in stored:
        assert rows[origin + route][0] in ("new", "unchanged", "changed"), (route, rows[origin + route])
    assert rows[origin + "/flaky/crawl"][3] == 3  # two 503s, then the page
    # the archive holds the two articles behind the good routes, once each
    titles = sorted(t for (t,) in db.execute("SELECT title FROM articles"))
    assert titles == ["Coastal Rail Line Reopens Six Months After Storm Washed Out Tracks",
                      "Taliban Foreign Minister’s Tehran Visit Highlights Iran’s Terrorist Alliances"]
    assert report.failed == len(failures)
    assert report.robots_blocked == 2  # /blocked/ by rule, and the refusing host's one URL
    assert peak < 96 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # the next run finds nothing new to store and leaves the archive as it was
    before = db.execute("SELECT count(*), sum(versions) FROM articles").fetchone()
    with hostile() as server2:
        crawl(db, [Source(server2.base_url + "/good.rss", "start")], fast, pool=inline_pool)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] >= before[0]


@pytest.mark.parametrize(
    "robots, archived, blocked_fetched",
    [
        ("4xx", True, True),  # RFC 9309: a 4xx robots.txt allows everything
        ("html-error", True, True),  # a 200 HTML error page holds no rules: allow
        ("10mb", True, False),  # only the head is read; its rules still apply
        ("5xx", False, False),  # server error: the host is skipped for this run
    ],
)
def test_robots_answers(tmp_path: Path, fast: Settings, robots: str, archived: bool, blocked_fetched: bool) -> None:
    db = store.Archive(tmp_path / "a.db")
    with hostile(robots) as server:
        tracemalloc.start()
        report = crawl(db, [Source(server.base_url + "/good.rss", "start")], fast, pool=inline_pool)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        paths = server.log.paths()
    assert (db.execute("SELECT count(*) FROM articles").fetchone()[0] == 1) is archived
    assert any(p.startswith("/blocked/") for p in paths) is blocked_fetched
    assert peak < 64 * 2**20
    if robots == "5xx":
        assert "/good.rss" not in paths
        assert report.robots_blocked >= 1
        row = db.execute("SELECT outcome, error_kind, status FROM fetches WHERE url LIKE '%/robots.txt'").fetchone()
        assert row == ("failed", "robots", 503)


@pytest.mark.parametrize(
    "source, kind",
    [
        ("/feeds/malformed.rss", "extract"),
        ("/feeds/truncated.rss", "extract"),
    ],
)
def test_broken_feeds_fail_clearly(tmp_path: Path, fast: Settings, source: str, kind: str) -> None:
    db = store.Archive(tmp_path / "a.db")
    with hostile() as server:
        report = crawl(db, [Source(server.base_url + source, "start"),
                            Source(server.base_url + "/good.rss", "start")], fast, pool=inline_pool)
        url = server.base_url + source
    row = db.execute("SELECT outcome, error_kind, error_message FROM fetches WHERE url = ?", [url]).fetchone()
    assert row is not None, "the broken feed has no fetches row"
    assert (row[0], row[1]) == ("failed", kind)
    assert "not well-formed XML" in row[2] and "no links" in row[2]
    assert report.failed == 1
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 1  # the good feed went on


def test_a_half_downloaded_feed_gives_what_it_has_with_a_warning(tmp_path: Path, fast: Settings, caplog) -> None:
    db = store.Archive(tmp_path / "a.db")
    with hostile() as server:
        report = crawl(db, [Source(server.base_url + "/feeds/half.rss", "start")], fast, pool=inline_pool)
    assert db.execute("SELECT title FROM articles").fetchall() == [
        ("Coastal Rail Line Reopens Six Months After Storm Washed Out Tracks",)]
    assert any("not well-formed XML" in r.getMessage() and "recovered" in r.getMessage() for r in caplog.records)
    assert report.failed <= 1  # at most the cut-off URL, which is not there


def test_entity_attacks_expand_nothing_and_read_no_files(tmp_path: Path, fast: Settings) -> None:
    db = store.Archive(tmp_path / "a.db")
    with hostile() as server:
        tracemalloc.start()
        crawl(db, [Source(server.base_url + "/feeds/laughs.rss", "start"),
                   Source(server.base_url + "/feeds/xxe.rss", "start")], fast, pool=inline_pool)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 64 * 2**20
    dump = "\n".join(str(row) for table in ("fetches", "frontier", "articles")
                     for row in db.execute(f"SELECT * FROM {table}"))
    assert "root:" not in dump and "lollollol" not in dump
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_sitemap_index_pointing_at_itself_ends(tmp_path: Path, fast: Settings) -> None:
    db = store.Archive(tmp_path / "a.db")
    with hostile() as server:
        report = crawl(db, [Source(server.base_url + "/sitemaps/self.xml", "start")], fast, pool=inline_pool)
        reads = [p for p in server.log.paths() if p == "/sitemaps/self.xml"]
    assert len(reads) == 1
    assert report.failed == 0


def test_a_crawl_that_fills_the_disk_is_failed_with_the_reason_and_counts_what_it_kept(
        tiny_disk: Path, tmp_path: Path, fast: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    import pytest as _pytest

    import archiver.crawl.scheduler
    from archiver.errors import CrawlFailed
    from support.crawlsite import article_html, article_path, make_site, serve_site

    site = make_site(tmp_path / "site", 40)
    rng = random.Random(3)
    for i in range(40):  # each page ~100 KB of sentences that compress badly: the 2 MiB disk fills
        # (sentences, not bare random tokens: the extractor keeps prose, and drops a wall of
        # tokens no reader would call text)
        extra = "<p>" + " ".join(f"The council heard w{rng.getrandbits(48):x}, and "
                                 f"w{rng.getrandbits(48):x} agreed." for _ in range(1800)) + "</p>"
        (site / article_path(i).strip("/") / "index.html").write_text(article_html(i, extra))
    db = store.Archive(tiny_disk / "archive.db")
    # one outcome a group: some are committed before the disk fills, however fast this machine is
    # today (groups of 200 or a second's worth may all wait for a commit that never comes)
    monkeypatch.setattr(archiver.crawl.scheduler, "COMMIT_ITEMS", 1)
    with serve_site(site) as server:
        with _pytest.raises(CrawlFailed, match="full") as info:
            crawl(db, [Source(server.base_url + "/sitemap_index.xml", "start")],
                  replace(fast, allow_private=True, allow_networks=()), pool=inline_pool)
    report = info.value.report
    kept = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    status, error, new, stop = db.execute("SELECT status, error, new, stop_reason FROM crawl_runs").fetchone()
    assert status == "failed" and "full" in error and stop == "error"
    assert 0 < kept < 40 and new == kept == report.new  # what was committed, not what was attempted
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
