"""robots.txt: the policy of each answer (RFC 9309), and the crawl obeying it on a real server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from archiver import store
from archiver.crawl import Source, crawl
from archiver.pools import inline_pool
from archiver.robots import (
    ALLOW_ALL,
    DISALLOW_ALL,
    MAX_ROBOTS_BYTES,
    RULES,
    agent_token,
    policy_from_response,
)
from archiver.store import frontier
from support.crawlsite import article_gets, make_site, serve_site

UA = "archiver/0.1.0 (+https://github.com/archiver-news/archiver; news archiving bot)"
RULES_TEXT = b"""User-agent: *
Disallow: /private/
Crawl-delay: 2
Sitemap: https://news.example/sitemap.xml

User-agent: archiver
Disallow: /drafts/
Allow: /drafts/public/
Crawl-delay: 5
"""


def test_agent_token_is_the_product_name():
    assert agent_token(UA) == "archiver"


def test_rules_for_our_agent_group():
    policy = policy_from_response("https://news.example", 200, RULES_TEXT)
    assert policy.mode == RULES
    assert not policy.allows("https://news.example/drafts/x", UA)
    assert policy.allows("https://news.example/drafts/public/x", UA)
    assert policy.allows("https://news.example/private/x", UA)  # our own group replaces '*'
    assert not policy.allows("https://news.example/private/x", "otherbot/1.0")
    assert policy.crawl_delay(UA) == 5.0
    assert policy.sitemaps == ("https://news.example/sitemap.xml",)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_4xx_allows_everything(status):
    policy = policy_from_response("https://news.example", status)
    assert policy.mode == ALLOW_ALL and policy.allows("https://news.example/anything", UA)
    assert policy.cacheable


@pytest.mark.parametrize("status", [429, 500, 502, 503, None])
def test_5xx_429_and_unreachable_disallow_everything(status):
    policy = policy_from_response("https://news.example", status)
    assert policy.mode == DISALLOW_ALL and not policy.allows("https://news.example/a", UA)
    assert not policy.cacheable


def test_only_the_first_500_kib_is_read():
    body = b"User-agent: *\n" + b"# padding\n" * (MAX_ROBOTS_BYTES // 10) + b"Disallow: /late/\n"
    policy = policy_from_response("https://news.example", 200, body)
    assert policy.allows("https://news.example/late/x", UA)
    assert len(policy.text.encode()) <= MAX_ROBOTS_BYTES


def crawl_site(tmp_path: Path, settings, robots: str = "", status: int = 200, **kw):  # type: ignore[no-untyped-def]
    root = make_site(tmp_path / "site", 4, robots=robots or "User-agent: *\nDisallow: /private/\n")
    db = store.Archive(tmp_path / "archive.db")
    with serve_site(root) as server:
        server.robots_status = status
        report = crawl(db, [Source(server.base_url + "/section/", "start")],
                       replace(settings, host_delay=0.0, **kw), pool=inline_pool)
        gets = article_gets(server)
        paths = server.log.paths()
    return db, report, gets, paths


def test_a_disallowed_path_is_never_fetched(tmp_path, settings):
    db, report, gets, paths = crawl_site(tmp_path, settings)
    assert report.robots_blocked == 1 and report.new == 4
    assert not [p for p in paths if p.startswith("/private/")]
    (blocked,) = frontier.entries(db, "state = 'blocked'")
    assert "/private/" in blocked.url and blocked.next_attempt_at  # looked at again later
    assert paths.count("/robots.txt") == 1


def test_robots_404_allows_all(tmp_path, settings):
    _, report, _, paths = crawl_site(tmp_path, settings, status=404)
    assert report.robots_blocked == 0 and report.new == 5  # the "private" page too
    assert any(p.startswith("/private/") for p in paths)


def test_robots_503_disallows_the_host_for_this_run(tmp_path, settings):
    db, report, gets, paths = crawl_site(tmp_path, replace(settings, retries=0), status=503)
    assert paths == ["/robots.txt"]
    assert report.fetched == 0 and report.robots_blocked == 1  # the section page, left due
    assert db.execute("SELECT COUNT(*) FROM robots_txt").fetchone()[0] == 0  # not cached
    (entry,) = frontier.entries(db)
    assert entry.state == "queued" and entry.next_attempt_at


def test_robots_is_cached_between_runs(tmp_path, settings):
    root = make_site(tmp_path / "site", 2)
    db = store.Archive(tmp_path / "archive.db")
    fast = replace(settings, host_delay=0.0)
    with serve_site(root) as server:
        for _ in range(2):
            crawl(db, [Source(server.base_url + "/feed.rss", "start")], fast, pool=inline_pool)
        assert server.log.paths().count("/robots.txt") == 1


def test_crawl_delay_is_honoured_up_to_the_cap(tmp_path, settings):
    robots = "User-agent: *\nCrawl-delay: 0.3\n"
    _, _, gets, _ = crawl_site(tmp_path, settings, robots=robots, crawl_delay_cap=10.0)
    times = [t for t, _, _ in gets]
    assert len(times) == 4 and min(b - a for a, b in zip(times, times[1:])) >= 0.28
    robots = "User-agent: *\nCrawl-delay: 60\n"
    _, _, gets, _ = crawl_site(tmp_path / "capped", settings, robots=robots, crawl_delay_cap=0.1)
    times = [t for t, _, _ in gets]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.09 and max(gaps) < 5


def test_ignore_robots(tmp_path, settings):
    _, report, _, paths = crawl_site(tmp_path, settings, respect_robots=False)
    assert report.robots_blocked == 0 and "/robots.txt" not in paths
