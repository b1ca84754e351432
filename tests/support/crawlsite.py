"""A small generated news site for crawl tests, served by a real local server.

`make_site(root, n)` writes `n` article pages under /news/, and every kind of source: an RSS 2.0
feed (/feed.rss, links with utm_* parameters), an RSS 1.0 feed (/feed.rdf), an Atom feed
(/atom.xml), a sitemap index (/sitemap_index.xml) over a plain sitemap, a gzipped one and a
Google News sitemap, a section page (/section/) and robots.txt. Feeds, sitemaps and robots.txt
say `%ORIGIN%`, filled in by the demo's handler when served.

`CrawlHandler` adds test switches on the server object: `robots_status` (answer /robots.txt
with that status instead of the file) and `fail` (path -> status to answer instead).
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archiver.demo.run import DemoHandler
from archiver.localserver import SiteServer, serve

BASE_DATE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

WORDS = (
    "The harbour authority said on Tuesday that the new breakwater would protect the inner basin "
    "from winter swells, allowing fishing boats to stay in port during storms that used to force "
    "them up the estuary. Engineers expect the work to take two seasons and to cost less than the "
    "council first feared, because much of the rock can be quarried locally."
)


def article_path(i: int) -> str:
    return f"/news/2026/03/story-number-{i:04d}-about-the-harbour-works/"


def published(i: int) -> datetime:
    return BASE_DATE + timedelta(hours=i)


def article_html(i: int, extra: str = "") -> str:
    title = f"Story number {i} about the harbour works"
    when = published(i).isoformat()
    paras = "\n".join(f"<p>{WORDS} (Part {k} of story {i}.)</p>" for k in range(1, 5))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} – Test Gazette</title>
<link rel="canonical" href="{article_path(i)}">
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="Test Gazette">
<meta property="article:published_time" content="{when}">
<meta name="author" content="Ana Writer">
</head><body>
<header><nav><a href="/">Home</a> <a href="/section/">News</a> <a href="/about/">About</a></nav></header>
<main><article>
<h1>{title}</h1>
<p class="byline">By Ana Writer · <time datetime="{when}">{when[:10]}</time></p>
{paras}
{extra}
</article></main>
<footer><p>© Test Gazette · <a href="/privacy/">Privacy</a></p></footer>
</body></html>
"""


def make_site(root: Path, n: int = 6, robots: str = "User-agent: *\nDisallow: /private/\n") -> Path:
    """Write the site; return root."""
    for i in range(n):
        page = root / article_path(i).strip("/") / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(article_html(i), encoding="utf-8")
    private = root / "private" / "2026" / "03" / "a-private-story-about-the-harbour-works" / "index.html"
    private.parent.mkdir(parents=True, exist_ok=True)
    private.write_text(article_html(999), encoding="utf-8")
    ids = list(range(n))
    (root / "feed.rss").write_text(rss2(ids), encoding="utf-8")
    (root / "feed.rdf").write_text(rdf(ids), encoding="utf-8")
    (root / "atom.xml").write_text(atom(ids), encoding="utf-8")
    half = n // 2
    (root / "sitemap-a.xml").write_text(urlset(ids[:half]), encoding="utf-8")
    (root / "sitemap-b.xml").write_text(urlset(ids[half:]), encoding="utf-8")  # served as .xml.gz
    (root / "sitemap-news.xml").write_text(news_sitemap(ids[-2:]), encoding="utf-8")
    (root / "sitemap_index.xml").write_text(
        index(["/sitemap-a.xml", "/sitemap-b.xml.gz", "/sitemap-news.xml"]), encoding="utf-8"
    )
    section = root / "section" / "index.html"
    section.parent.mkdir(parents=True, exist_ok=True)
    links = "\n".join(f'<li><a href="{article_path(i)}#comments">Story {i}</a></li>' for i in ids)
    section.write_text(
        f"""<!DOCTYPE html><html><head><title>News – Test Gazette</title>
<link rel="alternate" type="application/atom+xml" title="Test Gazette" href="/atom.xml">
<link rel="alternate" type="application/rss+xml" title="Comments Feed" href="/comments/feed/">
</head><body><nav><a href="/">Home</a> <a href="/tag/harbour/">Harbour</a> <a href="/about/">About</a>
<a href="/private/2026/03/a-private-story-about-the-harbour-works/">Members</a></nav>
<ul>{links}</ul><a href="/section/page/2/">Older</a></body></html>""",
        encoding="utf-8",
    )
    (root / "robots.txt").write_text(robots, encoding="utf-8")
    return root


def rss2(ids: list[int]) -> str:
    items = "\n".join(
        f"""<item><title>Story {i}</title>
<link>%ORIGIN%{article_path(i)}?utm_source=rss&amp;utm_medium=feed</link>
<pubDate>{email.utils.format_datetime(published(i))}</pubDate><guid isPermaLink="false">id-{i}</guid></item>"""
        for i in ids
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test Gazette</title><link>%ORIGIN%/</link>
{items}</channel></rss>"""


def rdf(ids: list[int]) -> str:
    items = "\n".join(
        f"""<item rdf:about="%ORIGIN%{article_path(i)}"><title>Story {i}</title>
<link>%ORIGIN%{article_path(i)}</link><dc:date>{published(i).isoformat()}</dc:date></item>"""
        for i in ids
    )
    return f"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="%ORIGIN%/"><title>Test Gazette</title><link>%ORIGIN%/</link></channel>
{items}</rdf:RDF>"""


def atom(ids: list[int]) -> str:
    entries = "\n".join(
        f"""<entry><title>Story {i}</title><id>urn:story:{i}</id>
<link rel="alternate" type="text/html" href="{article_path(i).lstrip('/')}"/>
<published>{published(i).isoformat()}</published><updated>{published(i).isoformat()}</updated></entry>"""
        for i in ids
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="%ORIGIN%/"><title>Test Gazette</title>
<id>urn:gazette</id><updated>{BASE_DATE.isoformat()}</updated>
{entries}</feed>"""


def urlset(ids: list[int]) -> str:
    urls = "\n".join(
        f"<url><loc>%ORIGIN%{article_path(i)}</loc><lastmod>{published(i).isoformat()}</lastmod></url>"
        for i in ids
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>"""


def news_sitemap(ids: list[int]) -> str:
    urls = "\n".join(
        f"""<url><loc>%ORIGIN%{article_path(i)}</loc><news:news><news:publication>
<news:name>Test Gazette</news:name><news:language>en</news:language></news:publication>
<news:publication_date>{published(i).isoformat()}</news:publication_date>
<news:title>Story {i}</news:title></news:news></url>"""
        for i in ids
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>"""


def index(paths: list[str]) -> str:
    maps = "\n".join(f"<sitemap><loc>%ORIGIN%{p}</loc></sitemap>" for p in paths)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{maps}</sitemapindex>"""


class CrawlHandler(DemoHandler):
    def route(self, path: str, head: bool) -> bool:
        fail = getattr(self.server, "fail", {})
        if path in fail:
            self.send_body(fail[path], b"<html><body>error</body></html>", "text/html", head)
            return True
        status = getattr(self.server, "robots_status", 200)
        if path == "/robots.txt" and status != 200:
            self.send_body(status, b"no robots here", "text/plain", head)
            return True
        return super().route(path, head)


@contextmanager
def serve_site(root: Path) -> Iterator[SiteServer]:
    with serve(root, CrawlHandler) as server:
        server.fail = {}  # type: ignore[attr-defined]
        server.robots_status = 200  # type: ignore[attr-defined]
        yield server


def article_gets(server: SiteServer) -> list[tuple[float, str, dict[str, str]]]:
    """(time, path, headers) of every GET of an article page."""
    with server.log.lock:
        return [(t, p, h) for t, m, p, h in server.log.entries if m == "GET" and p.startswith("/news/")]
