"""`archiver demo`: serve the bundled demo news sites on 127.0.0.1 and crawl them into the archive.

Two invented publications, each on its own port (so each is its own host to the crawler):

- Levant Dispatch (`site/levant-dispatch/`, port 8765): an RSS 2.0 feed (with utm_* tracking
  parameters on its links), a section page, a home page linking a members-only page that
  robots.txt disallows, and the seed article with the articles it links to as related.
- Harbor Valley Courier (`site/harbor-valley-courier/`, port 8766): configured only by its home
  page; the crawl finds its Atom and RSS 1.0 feeds through `<link rel="alternate">`, and its
  sitemap index (a Google News sitemap and a gzipped monthly sitemap) through robots.txt.

Feeds, sitemaps and robots.txt name absolute URLs, written `%ORIGIN%` in the files and filled in
when served, so the site works on any port. Ports are fixed by default, so article URLs stay the
same from run to run and a second run stores nothing new.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

from archiver.config import Settings
from archiver.demo import DEMO_PORT
from archiver.crawl import Progress, Source, run_crawl
from archiver.localserver import SiteHandler, SiteServer, serve
from archiver.models import CrawlReport
from archiver.rules import SiteRules

SITE = Path(__file__).resolve().parent / "site"
LEVANT = SITE / "levant-dispatch"
COURIER = SITE / "harbor-valley-courier"
DEMO_HOST_DELAY = 0.05  # our own server on loopback: a short pause keeps the crawl polite yet quick

TEMPLATED = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".txt": "text/plain; charset=utf-8",
}
FEED_INDEXES = ("index.rss", "index.atom", "index.rdf", "index.xml")


class DemoHandler(SiteHandler):
    """The static server, plus: `%ORIGIN%` filled in feeds, sitemaps and robots.txt; folders
    served by their feed file when they have no index.html (`/feed/`); `x.xml.gz` gzipped from
    `x.xml` on the fly."""

    def route(self, path: str, head: bool) -> bool:
        root = self.server.root.resolve()
        target = (root / path.lstrip("/")).resolve()
        if root != target and root not in target.parents:
            return False
        if target.is_dir() and not (target / "index.html").is_file():
            for name in FEED_INDEXES:
                if (target / name).is_file():
                    self.send_templated(target / name, head)
                    return True
            return False
        if target.suffix == ".gz" and not target.exists() and target.with_suffix("").is_file():
            self.send_templated(target.with_suffix(""), head, gzipped=True)
            return True
        if target.suffix in TEMPLATED and target.is_file():
            self.send_templated(target, head)
            return True
        return False

    def send_templated(self, file: Path, head: bool, gzipped: bool = False) -> None:
        body = file.read_bytes().replace(b"%ORIGIN%", self.server.base_url.encode("ascii"))
        kind = TEMPLATED[file.suffix]
        if gzipped:
            body = gzip.compress(body, mtime=0)
            kind = "application/gzip"
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        modified = email.utils.formatdate(file.stat().st_mtime, usegmt=True)
        if self.headers.get("If-None-Match") == etag or (
            not self.headers.get("If-None-Match") and self.headers.get("If-Modified-Since") == modified
        ):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_body(200, body, kind, head, ETag=etag, Last_Modified=modified)


@contextmanager
def serve_demo(port: int = DEMO_PORT) -> Iterator[tuple[SiteServer, SiteServer]]:
    """Serve both demo sites on 127.0.0.1: Levant Dispatch on `port`, the Courier on `port + 1`
    (port 0: any free ports)."""
    with ExitStack() as stack:
        levant = stack.enter_context(serve(LEVANT, DemoHandler, port=port))
        courier = stack.enter_context(serve(COURIER, DemoHandler, port=port + 1 if port else 0))
        yield levant, courier


def demo_sources(levant: str, courier: str) -> list[Source]:
    """What the demo crawls: the Dispatch's feed and sections; the Courier's home page alone
    (its feeds and sitemaps are found by discovery)."""
    return [
        Source(f"{levant}/feed/", "feed", "levant-dispatch"),
        Source(f"{levant}/category/middle-east/", "section", "levant-dispatch"),
        Source(f"{levant}/", "section", "levant-dispatch"),
        Source(f"{courier}/", "section", "harbor-valley-courier", auto=True),
    ]


def demo_settings(settings: Settings) -> Settings:
    """The demo's own servers are on loopback: allow it, and keep the pause between requests
    short (robots.txt is still obeyed)."""
    return replace(
        settings,
        allow_private=True,
        host_delay=min(settings.host_delay, DEMO_HOST_DELAY),
        respect_robots=True,
    )


def run_demo(
    db_path: str | Path,
    settings: Settings,
    *,
    sites: Sequence[SiteRules] = (),
    port: int = DEMO_PORT,
    progress: Progress | None = None,
) -> CrawlReport:
    """Serve the demo sites on 127.0.0.1 and crawl them into the archive at `db_path`."""
    with serve_demo(port) as (levant, courier):
        return run_crawl(
            db_path,
            demo_sources(levant.base_url, courier.base_url),
            demo_settings(settings),
            sites=sites,
            command=f"archiver demo --port {port}",
            progress=progress,
        )
