"""The crawl against a real local server and a real SQLite archive: discovery from every source
kind, the frontier, politeness, conditional re-crawl, versions, bounds and failures."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver import store
from archiver.config import Settings
from archiver.crawl import (
    REVISIT_AFTER,
    Source,
    crawl,
    next_retry,
    next_revisit,
    plan_sources,
)
from archiver.errors import ConfigError
from archiver.models import FetchFailure
from archiver.pipeline import archive_urls
from archiver.pools import inline_pool
from archiver.store import frontier
from support.crawlsite import article_gets, article_html, article_path, make_site, serve_site

N = 6


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path / "site", N)


@pytest.fixture()
def fast(settings: Settings) -> Settings:
    return replace(settings, host_delay=0.0, extract_workers=1)


def db_at(tmp_path: Path):  # type: ignore[no-untyped-def]
    return store.Archive(tmp_path / "archive.db")


def run(db, server, sources, settings, **kw):  # type: ignore[no-untyped-def]
    srcs = [s if isinstance(s, Source) else Source(server.base_url + s, "start") for s in sources]
    return crawl(db, srcs, settings, pool=inline_pool, **kw)


def count(db, sql: str, *args: object) -> int:  # type: ignore[no-untyped-def]
    return int(db.execute(sql, list(args)).fetchone()[0])


@pytest.mark.parametrize(
    "source, expected",
    [
        ("/feed.rss", N),
        ("/feed.rdf", N),
        ("/atom.xml", N),
        ("/sitemap_index.xml", N),
        ("/sitemap-b.xml.gz", N - N // 2),
        ("/sitemap-news.xml", 2),
        ("/section/", N),
    ],
)
def test_each_source_kind_is_told_apart_and_crawled(tmp_path, site, fast, source, expected):
    db = db_at(tmp_path)
    with serve_site(site) as server:
        report = run(db, server, [source], fast)
    assert report.new == expected
    assert report.failed == 0
    urls = {row[0] for row in db.execute("SELECT url FROM articles")}
    assert urls == {server.base_url + article_path(i) for i in range(N)[N - expected:]}
    # every stored URL is normalised: no tracking parameters, no fragments
    assert not [u for u in urls if "utm_" in u or "#" in u]
    assert count(db, "SELECT COUNT(*) FROM articles") == count(db, "SELECT COUNT(DISTINCT url) FROM articles")


def test_newest_first_where_dates_are_known(tmp_path, site, fast):
    db = db_at(tmp_path)
    with serve_site(site) as server:
        run(db, server, ["/feed.rss"], fast)
        order = [p for _, p, _ in article_gets(server)]
    assert order == [article_path(i) for i in reversed(range(N))]


def test_a_run_is_recorded_and_the_frontier_holds_every_url(tmp_path, site, fast):
    db = db_at(tmp_path)
    with serve_site(site) as server:
        report = run(db, server, ["/section/"], fast, command="test crawl")
    row = db.execute(
        "SELECT command, status, discovered, fetched, new, robots_blocked, finished_at, duration "
        "FROM crawl_runs WHERE id = ?", [report.run_id]
    ).fetchone()
    assert row[:6] == ("test crawl", "done", N + 1, N + 2, N, 1)  # the section, its Atom feed
    assert row[6] and row[7] > 0
    states = frontier.counts(db)
    assert states == {"done": N + 2, "blocked": 1}  # articles, section, atom; the private page
    fetched = {row[0] for row in db.execute("SELECT crawl_run_id FROM fetches")}
    assert fetched == {report.run_id}
    assert "discovered 7, fetched 8, new 6" in report.summary()


def test_robots_txt_and_pages_share_the_crawls_connections(tmp_path, site, fast):
    """robots.txt goes through the same per-host clients as the pages, so one max_connections
    holds for the whole crawl: with one allowed, a host's robots.txt, feed and articles all
    travel on one kept-alive connection (a separate robots client would open a second)."""
    db = db_at(tmp_path)
    peers: list[tuple[str, int]] = []
    with serve_site(site) as server:
        accept = server.process_request

        def counted(request, client_address):  # type: ignore[no-untyped-def]
            peers.append(client_address)
            accept(request, client_address)

        server.process_request = counted  # type: ignore[method-assign]
        report = run(db, server, ["/feed.rss"], replace(fast, max_connections=1))
        paths = server.log.paths()
    assert report.new == N
    assert paths[0] == "/robots.txt" and len(paths) == N + 2
    assert len(peers) == 1


def test_second_run_gets_304s_and_stores_no_new_page(tmp_path, site, fast):
    db = db_at(tmp_path)
    with serve_site(site) as server:
        first = run(db, server, ["/feed.rss", "/sitemap_index.xml"], fast)
        pages = count(db, "SELECT COUNT(*) FROM pages")
        n_log = len(server.log.entries)
        second = run(db, server, ["/feed.rss", "/sitemap_index.xml"], fast)
        later = server.log.entries[n_log:]
    assert first.new == N and pages == N
    assert second.new == second.changed == second.unchanged == 0
    assert second.not_modified == 2 and second.fetched == 2  # the two configured sources
    assert count(db, "SELECT COUNT(*) FROM pages") == pages
    assert all("if-none-match" in headers for _, _, _, headers in later if not _.endswith("robots.txt"))
    assert not [p for _, _, p, _ in later if p.startswith("/news/")]  # nothing archived fetched again


def test_recent_articles_are_revisited_and_changes_become_versions(tmp_path, site, fast):
    db = db_at(tmp_path)
    start = datetime.now(UTC)
    fresh = replace(fast, revisit_days=3650)  # the test site's articles are "recent"
    with serve_site(site) as server:
        run(db, server, ["/feed.rss"], fresh, clock=lambda: start)
        changed = site / article_path(1).strip("/") / "index.html"
        changed.write_text(article_html(1, "<p>Correction: the breakwater is 400 metres long.</p>"), encoding="utf-8")
        n_log = len(server.log.entries)
        later = start + REVISIT_AFTER[0] + timedelta(minutes=1)
        report = run(db, server, ["/feed.rss"], fresh, clock=lambda: later)
        gets = [(p, h) for _, m, p, h in server.log.entries[n_log:] if p.startswith("/news/")]
    assert report.changed == 1 and report.not_modified == N - 1 + 1  # + the feed
    assert all("if-none-match" in h for _, h in gets) and len(gets) == N
    url = server.base_url + article_path(1)
    versions = db.execute(
        "SELECT v.version, v.diff FROM article_versions v JOIN articles a ON a.id = v.article_id "
        "WHERE a.url = ? ORDER BY v.version", [url]
    ).fetchall()
    assert [v for v, _ in versions] == [1, 2]
    assert "Correction: the breakwater is 400 metres long." in versions[1][1]
    entry = frontier.get(db, url)
    assert entry is not None and entry.revisits == 1
    assert entry.next_attempt_at > (later + REVISIT_AFTER[0]).isoformat()[:16]


def test_revisit_schedule_decays_and_ends():
    fetched = "2026-03-01T08:00:00Z"
    steps = [next_revisit("2026-03-01T07:00:00Z", fetched, n, fetched, 30) for n in range(len(REVISIT_AFTER) + 1)]
    gaps = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in steps[:-1]]  # type: ignore[union-attr]
    assert gaps == sorted(gaps) and steps[-1] is None
    assert next_revisit("2025-01-01T00:00:00Z", fetched, 0, fetched, 30) is None  # old: never
    assert next_revisit(None, fetched, 0, fetched, 0) is None  # revisits off


def test_retry_policy():
    now = datetime(2026, 3, 1, tzinfo=UTC)
    transient = FetchFailure("u", "http-status", "HTTP 503", status=503)
    assert next_retry(transient, 1, now) == "2026-03-01T00:10:00Z"
    assert next_retry(transient, 5, now) is None  # given up
    assert next_retry(FetchFailure("u", "http-status", "HTTP 404", status=404), 1, now) is None


def test_failures_are_recorded_with_their_retry(tmp_path, site, fast):
    db = db_at(tmp_path)
    with serve_site(site) as server:
        server.fail = {article_path(0): 404, article_path(1): 503}
        report = run(db, server, ["/feed.rss"], replace(fast, retries=0))
    assert report.failed == 2 and report.new == N - 2
    gone = frontier.get(db, server.base_url + article_path(0))
    busy = frontier.get(db, server.base_url + article_path(1))
    assert gone and gone.state == "failed" and gone.next_attempt_at is None and gone.last_status == 404
    assert busy and busy.state == "failed" and busy.attempts == 1 and busy.next_attempt_at
    assert count(db, "SELECT COUNT(*) FROM fetches WHERE outcome = 'failed'") == 2
    assert db.execute("SELECT status FROM crawl_runs").fetchone()[0] == "failed"


def test_max_pages_stops_and_the_next_run_carries_on(tmp_path, site, fast):
    db = db_at(tmp_path)
    with serve_site(site) as server:
        first = run(db, server, ["/feed.rss"], replace(fast, max_pages=3))
        second = run(db, server, ["/feed.rss"], fast)
    assert first.stop_reason == "max-pages" and first.fetched == 3 and first.new == 2
    assert first.queued == N - 2
    assert second.new == N - 2
    assert count(db, "SELECT COUNT(*) FROM articles") == N


def test_max_duration_stops_starting_fetches(tmp_path, site, fast):
    db = db_at(tmp_path)
    with serve_site(site) as server:
        report = run(db, server, ["/feed.rss"], replace(fast, host_delay=0.3, max_duration=0.5))
    assert report.stop_reason == "max-duration"
    assert report.fetched < N + 1 and report.queued > 0


def test_urls_already_archived_are_not_fetched_again(tmp_path, site, fast):
    db = db_at(tmp_path)
    with serve_site(site) as server:
        url = server.base_url + article_path(2)
        archive_urls(db, [url + "?utm_source=newsletter"], fast)  # a one-off `archiver fetch`
        n_log = len(server.log.entries)
        report = run(db, server, ["/feed.rss"], fast)
        paths = [p for _, _, p, _ in server.log.entries[n_log:]]
    assert article_path(2) not in paths
    assert report.new == N - 1
    entry = frontier.get(db, url)
    assert entry and entry.state == "done" and entry.article_id


def test_sitemap_cycles_and_depth_are_bounded(tmp_path, fast):
    root = tmp_path / "site"
    make_site(root, 2)
    # a.xml -> b.xml -> a.xml (a cycle), and a chain deeper than the cap
    (root / "loop-a.xml").write_text(
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>%ORIGIN%/loop-b.xml</loc></sitemap>"
        "<sitemap><loc>%ORIGIN%/deep-1.xml</loc></sitemap></sitemapindex>"
    )
    (root / "loop-b.xml").write_text(
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>%ORIGIN%/loop-a.xml</loc></sitemap>"
        "<sitemap><loc>%ORIGIN%/sitemap-a.xml</loc></sitemap></sitemapindex>"
    )
    for level in range(1, 6):
        (root / f"deep-{level}.xml").write_text(
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>%ORIGIN%/deep-{level + 1}.xml</loc></sitemap></sitemapindex>"
        )
    db = db_at(tmp_path)
    with serve_site(root) as server:
        report = run(db, server, ["/loop-a.xml"], replace(fast, max_sitemap_depth=3))
        paths = [p for _, _, p, _ in server.log.entries]
    assert paths.count("/loop-a.xml") == 1 and paths.count("/loop-b.xml") == 1
    assert "/deep-3.xml" in paths and "/deep-4.xml" not in paths
    assert report.new == 1 and report.failed == 0


def test_plan_sources_names_unknown_sites():
    with pytest.raises(ConfigError, match="no site file named nope"):
        plan_sources([], ["nope"])
    with pytest.raises(ConfigError, match="nothing to crawl"):
        plan_sources([])
    (src,) = plan_sources([], start_urls=["HTTP://Example.COM:80/feed#x"])
    assert src == Source("http://example.com/feed", "start", None)


def test_site_files_declare_sources():
    from archiver.rules import DiscoveryRules, SiteRules

    declared = SiteRules(
        name="gazette", path="selectors/gazette.toml", domains=("news.example",),
        discovery=DiscoveryRules(feeds=("/feed/",), sections=("https://news.example/world/",)),
    )
    bare = SiteRules(name="bare", path="selectors/bare.toml", domains=("bare.example",))
    assert plan_sources([declared, bare]) == [
        Source("https://news.example/feed/", "feed", "gazette", False),
        Source("https://news.example/world/", "section", "gazette", False),
        Source("https://bare.example/", "section", "bare", True),  # + robots.txt sitemaps, feeds
    ]
    assert [s.site for s in plan_sources([declared, bare], ["bare"])] == ["bare"]


def test_storing_a_big_sitemaps_links_grows_linearly(tmp_path, fast):
    """The writer holds the archive's write lock while it queues a sitemap's links, so that work
    must be linear in the links (it rebuilt a set of the batch per link: quadratic, a 50,000-URL
    sitemap held the lock for over a minute). A complexity check, not a time limit: 8 times the
    links may cost at most 3 times 8 the time (quadratic work costs 64 times)."""
    import time

    def seconds(n: int) -> float:
        root = tmp_path / f"site{n}"
        root.mkdir()
        rows = "".join(f"<url><loc>%ORIGIN%/news/{i}-a-story-about-the-harbour-works/</loc></url>" for i in range(n))
        (root / "big.xml").write_text(
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>')
        db = store.Archive(tmp_path / f"a{n}.db")
        with serve_site(root) as server:
            started = time.monotonic()
            report = run(db, server, ["/big.xml"], replace(fast, max_pages=1))
            took = time.monotonic() - started
        assert report.discovered == n
        return took

    seconds(500)  # warm up (imports, first connections)
    small, big = seconds(2_000), seconds(16_000)
    assert big < 3 * 8 * small, (small, big)
