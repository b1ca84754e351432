"""Discovery that reads the page: section pages' links judged by anchor text, structure and
position as well as URL shape, and by what the crawl learned of the host; a held-out-style
site (short numeric article URLs, no site file) is archived completely, its chrome never
fetched as articles."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from archiver import store
from archiver.config import Settings
from archiver.crawl import Source, crawl
from archiver.discover import parse_section
from archiver.pools import inline_pool
from archiver.sections import url_shape
from support.crawlsite import serve_site
from support.heldout import chrome_paths, make_site, section_paths

BASE = "https://news.example"


@pytest.mark.parametrize(
    "url, shape",
    [
        ("https://n.example/news/17.html", "/news/<n>.html"),
        ("https://n.example/news/1234.html", "/news/<n>.html"),
        ("https://n.example/tag/harbour/", "/tag/<w>/"),
        ("https://n.example/author/jane-doe/", "/author/<slug>/"),
        ("https://n.example/2026/03/a-story-about-things/", "/<n>/<n>/<slug>/"),
        ("https://n.example/world/?page=2", "/world/?page"),
        ("https://n.example/", "/"),
        ("https://n.example/p/a1b2c3", "/p/<id>"),
    ],
)
def test_url_shapes(url: str, shape: str) -> None:
    assert url_shape(url) == shape


def card(path: str, title: str) -> str:
    return (f'<div class="story"><h3><a href="{path}">{title}</a></h3><p class="meta">By '
            f'<a href="/by/jane-doe">Jane Doe</a> · <a href="/topics/harbour">Harbour</a></p></div>')


PAGE = f"""<html><body><header><nav><a href="/">Home</a> <a href="/world/">World</a>
<a href="/business/">Business</a> <a href="/news/99.html">Breaking</a></nav></header>
<main><h1>World</h1><div class="stories">
{card("/news/17.html", "Council approves the new harbour budget after a long debate")}
{card("/news/18.html", "Ferry sailings to the island resume on Monday")}
{card("/news/19.html", "Rail bridge reopens after storm repairs")}
{card("/news/20.html", "Hospital opens a new wing for children this spring")}
</div><p><a href="/news/21.html"><img src="x.jpg"></a> <a href="/world/page/2/">Next</a>
<a href="/world/?page=3">3</a></p></main>
<aside><a href="/news/22.html">The most read story of the week about the harbour</a></aside>
<footer><a href="/about.html">About us</a> <a href="/terms-of-service.html">Terms of service and use</a></footer>
</body></html>"""


def article_urls(found) -> list[str]:  # type: ignore[no-untyped-def]
    return [link.url.removeprefix(BASE) for link in found.articles]


def test_a_section_page_is_read_for_its_headlines_not_its_chrome() -> None:
    found = parse_section(PAGE.encode(), BASE + "/world/")
    assert article_urls(found) == ["/news/17.html", "/news/18.html", "/news/19.html", "/news/20.html"]
    # rejected: /, /business/ and /news/99.html (nav), /by/jane-doe and /topics/harbour (in every
    # card), the bare image link, two pages, the aside, two footer links (the page itself is none)
    assert found.rejected == 11
    assert found.articles[0].title == "Council approves the new harbour budget after a long debate"


def test_what_the_host_taught_decides_links_the_page_says_little_about() -> None:
    """/news/<n>.html pages were articles before: the bare image link and the nav link count
    too. A host whose /news/<n>.html pages were never articles has its headlines refused."""
    were_articles = {"/news/<n>.html": (12, 0)}
    found = parse_section(PAGE.encode(), BASE + "/world/", learned=were_articles)
    assert set(article_urls(found)) == {f"/news/{n}.html" for n in range(17, 23)} | {"/news/99.html"}
    were_not = {"/news/<n>.html": (0, 5)}
    assert article_urls(parse_section(PAGE.encode(), BASE + "/world/", learned=were_not)) == []
    # a dated long-slug URL is an article whatever the page says, unless the host taught otherwise
    dated = b'<a href="/2026/03/a-story-about-the-harbour-works/">x</a>'
    assert article_urls(parse_section(dated, BASE + "/")) == ["/2026/03/a-story-about-the-harbour-works/"]
    assert article_urls(parse_section(dated, BASE + "/", learned={"/<n>/<n>/<slug>/": (0, 9)})) == []


@pytest.fixture()
def fast(settings: Settings) -> Settings:
    return replace(settings, host_delay=0.0, extract_workers=1)


def test_a_held_out_site_is_archived_completely_and_its_chrome_never_fetched(tmp_path: Path, fast: Settings) -> None:
    titles = make_site(tmp_path / "site", articles=120, sections=4)
    db = store.Archive(tmp_path / "archive.db")
    with serve_site(tmp_path / "site") as server:
        sources = [Source(server.base_url + path, "start") for path in section_paths(4)]
        report = crawl(db, sources, fast, pool=inline_pool)
        gets = [p for _, m, p, _ in server.log.entries if m == "GET"]
    archived = {url.removeprefix(server.base_url) for (url,) in db.execute("SELECT url FROM articles")}
    assert archived == set(titles)  # every article, and nothing else
    assert report.new == 120 and report.failed == 0
    assert not set(gets) & set(chrome_paths(4)), sorted(set(gets) & set(chrome_paths(4)))
    assert report.links_articles == 120 and report.links_rejected > 100
    assert f"section links: 120 judged articles, {report.links_rejected} rejected" in report.summary()
    with sqlite3.connect(tmp_path / "archive.db") as conn:
        run = conn.execute("SELECT links_articles, links_rejected FROM crawl_runs").fetchone()
        host = conn.execute("SELECT site, links_articles, links_rejected FROM host_discovery").fetchone()
        shapes = dict((s, (a, o)) for s, a, o in conn.execute("SELECT shape, articles, others FROM url_shapes"))
    assert run == (120, report.links_rejected)
    assert host == ("127.0.0.1", 120, report.links_rejected)
    assert shapes["/news/<n>.html"] == (120, 0)  # learned: the next run trusts this shape
    assert all(shapes[path] == (0, 1) for path in section_paths(4))  # the sections list articles
