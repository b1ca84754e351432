"""Plain, frozen records passed between the pipeline's stages.

Every stage takes and returns these, never open clients or database handles, so the same
stages can run in worker processes (or on other machines) and be tested on fixture files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


def header_value(headers: Iterable[tuple[str, str]], name: str, default: str | None = None) -> str | None:
    """The first value of header `name` (in any case) among `headers`."""
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return default


@dataclass(frozen=True)
class Fetched:
    """One HTTP response as it came off the wire, body already decoded from its transfer coding."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes
    fetched_at: str  # ISO-8601 UTC
    duration: float  # seconds from the first request to the last byte, retries included
    attempts: int = 1
    redirects: tuple[str, ...] = ()

    def header(self, name: str, default: str | None = None) -> str | None:
        return header_value(self.headers, name, default)

    @property
    def content_type(self) -> str:
        value = self.header("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        value = self.header("content-type") or ""
        for part in value.split(";")[1:]:
            key, _, val = part.partition("=")
            if key.strip().lower() == "charset" and val.strip():
                return val.strip().strip("\"'").lower()
        return None


@dataclass(frozen=True)
class RelatedLink:
    """A related or recommended article that a page links to."""

    title: str
    url: str
    summary: str | None = None


@dataclass(frozen=True)
class Article:
    """A clean article record: what the extractor made of one page."""

    url: str
    title: str
    body: str  # plain text, paragraphs separated by one blank line
    canonical_url: str | None = None
    subtitle: str | None = None
    authors: tuple[str, ...] = ()
    published_at: str | None = None
    modified_at: str | None = None
    language: str | None = None
    site_name: str | None = None
    section: str | None = None
    tags: tuple[str, ...] = ()
    image: str | None = None
    related: tuple[RelatedLink, ...] = ()
    extractor: str = ""
    extractor_version: str = ""

    @property
    def key_url(self) -> str:
        """The URL an article is stored under: its canonical URL when the page names one."""
        return self.canonical_url or self.url

    @property
    def word_count(self) -> int:
        return len(self.body.split())

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.body.split("\n\n") if p]

    def to_record(self) -> dict[str, Any]:
        """The article as a JSON-ready dict (the `--json` output)."""
        record = asdict(self)
        record["authors"] = list(self.authors)
        record["tags"] = list(self.tags)
        record["related"] = [asdict(link) for link in self.related]
        record["word_count"] = self.word_count
        return record


@dataclass(frozen=True)
class Link:
    """A candidate article URL and what the source said about it."""

    url: str
    published_at: str | None = None  # ISO-8601 UTC
    modified_at: str | None = None  # ISO-8601 UTC (sitemap lastmod, Atom updated)
    title: str | None = None


@dataclass(frozen=True)
class Discovery:
    """What one source (a feed, a sitemap, a section page) yielded: `archiver.discover`."""

    kind: str  # rss, rdf, atom, sitemap, sitemap-index, section
    url: str
    articles: tuple[Link, ...] = ()
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[Link, ...] = ()  # child sitemaps of an index (modified_at = its lastmod)
    notes: tuple[str, ...] = ()
    rejected: int = 0  # links of a section page to the site judged not articles


@dataclass(frozen=True)
class FetchFailure:
    """A URL that could not be fetched or extracted, as recorded in `fetches`."""

    url: str
    kind: str
    message: str
    status: int | None = None
    attempts: int = 1


@dataclass(frozen=True)
class PackedBody:
    """A page body as the archive keeps it: compressed (`codec`: zstd; pages stored before
    archive migration 0003 are gzip), with its SHA-256 and size. Made where the page is processed
    (a worker), so the one process that writes SQLite only inserts it."""

    blob: bytes
    sha256: str
    size: int
    codec: str = "zstd"


@dataclass(frozen=True)
class FetchResult:
    """What became of one URL: the response (None when none came), and what the pure stage made
    of it: an article (an article page), a discovery (a source), or the failure (of the fetch,
    or of the stage: then `fetched` is kept). A 304 has only `fetched`."""

    url: str
    started_at: str
    duration: float  # seconds the fetch took (as Fetched.duration; the wait for the host's turn and extraction not counted)
    fetched: Fetched | None = None
    article: Article | None = None
    failure: FetchFailure | None = None
    discovery: Discovery | None = None
    body: PackedBody | None = None  # fetched.content packed for storage, when already done

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(frozen=True)
class CrawlReport:
    """What one crawl run did (the summary line and the `crawl_runs` row)."""

    run_id: int
    discovered: int = 0  # article URLs new to the frontier
    fetched: int = 0  # requests made (robots.txt not counted)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    not_modified: int = 0  # 304 answers, articles and sources
    failed: int = 0
    robots_blocked: int = 0
    unreachable: int = 0  # hosts skipped: their robots.txt could not be fetched (down, 5xx)
    links_articles: int = 0  # links of section pages judged articles
    links_rejected: int = 0  # ... and judged not (navigation, tags, authors, pages ...)
    duration: float = 0.0
    stop_reason: str = "complete"  # complete, max-pages, max-duration, signal, error
    queued: int = 0  # URLs still due when the run ended
    error: str | None = None  # why the run ended in an error

    @property
    def ok(self) -> bool:
        """Whether the run did what it set out to: no failed fetch, no unreachable host, no error
        (what `archiver crawl`'s exit status 0 says)."""
        return not (self.failed or self.unreachable or self.error)

    def summary(self) -> str:
        """The one-line summary a run ends with."""
        return (
            f"crawl run {self.run_id}: discovered {self.discovered}, fetched {self.fetched}, "
            f"new {self.new}, changed {self.changed}, unchanged {self.unchanged}, "
            f"not modified {self.not_modified}, failed {self.failed}, "
            f"robots-blocked {self.robots_blocked}, duration {self.duration:.1f}s"
            + (f", {self.unreachable} host(s) unreachable" if self.unreachable else "")
            + (f"; section links: {self.links_articles} judged articles, {self.links_rejected} rejected"
               if self.links_articles or self.links_rejected else "")
            + (f" (stopped: {self.stop_reason}, {self.queued} still due)"
               if self.stop_reason != "complete" else "")
        )

    def to_record(self) -> dict[str, Any]:
        return asdict(self)
