"""Discovery: feeds, sitemaps and section pages -> candidate article URLs. Pure functions.

`discover` takes the bytes of a fetched source and tells what it is by its content (an RSS 2.0,
RSS 1.0/RDF or Atom feed; an XML sitemap, sitemap index or Google News sitemap, gzipped or not; an
HTML section page) and returns a `Discovery`: article links (normalised, with publication and
modification dates where the source gives them), further feeds (``<link rel="alternate">``) and
sitemaps (from an index). No network, no database: the crawl fetches and stores.

XML is parsed safely: entities are never expanded, DTDs and the network are never loaded, huge
trees are refused, gzip is inflated with a cap (`MAX_XML_BYTES`), and at most `MAX_ENTRIES` entries
are read from one document. The sitemap-index depth cap and cycle detection need to know where a
sitemap came from, so they live in the crawl (see `archiver.crawl`).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence

from lxml import etree

from archiver.errors import ExtractError, TooLarge
from archiver.models import Discovery, Link
from archiver.sections import read_section
from archiver.timestamps import parse_date
from archiver.urls import try_normalize

MAX_XML_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own limit, uncompressed
MAX_ENTRIES = 50_000  # URLs read from one feed or sitemap (the sitemap protocol's limit)
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


# --- safe XML ------------------------------------------------------------------------------------


def inflate(content: bytes, url: str, limit: int = MAX_XML_BYTES) -> bytes:
    """Gunzip `content` when it is gzip (by magic bytes), refusing to inflate past `limit`."""
    if not content.startswith(b"\x1f\x8b"):
        if len(content) > limit:
            raise TooLarge(url, f"document of {len(content)} bytes is over the {limit}-byte cap")
        return content
    out = bytearray()
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    pending = content
    try:
        while pending:
            out.extend(inflater.decompress(pending, limit + 1 - len(out)))
            if len(out) > limit:
                raise TooLarge(url, f"gzipped document inflates past the {limit}-byte cap")
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error as exc:
        raise ExtractError(url, f"corrupt gzip ({exc}); is this a .gz sitemap?") from None
    return bytes(out)


_PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "recover": True,
    "remove_comments": True,
    "remove_pis": True,
    "collect_ids": False,
}
_PIECE = 256 * 1024  # bytes inflated and parsed at a time


def _parser() -> etree.XMLParser:
    return etree.XMLParser(**_PARSER_OPTIONS)


def _pieces(content: bytes, url: str, limit: int = MAX_XML_BYTES) -> Iterator[bytes]:
    """The document a piece at a time, gunzipped when it is gzip (by magic bytes); TooLarge once
    more than `limit` bytes have been read (the reader stops early when it has enough)."""
    if not content.startswith(b"\x1f\x8b"):
        for at in range(0, len(content), _PIECE):
            if at >= limit:
                raise TooLarge(url, f"document is over the {limit}-byte cap")
            yield content[at : at + _PIECE]
        return
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    pending = content
    total = 0
    try:
        while pending:
            piece = inflater.decompress(pending, _PIECE)
            total += len(piece)
            if total > limit:
                raise TooLarge(url, f"gzipped document inflates past the {limit}-byte cap")
            if piece:
                yield piece
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error as exc:
        raise ExtractError(url, f"corrupt gzip ({exc}); is this a .gz sitemap?") from None


def parse_xml(content: bytes, url: str) -> tuple[etree._Element, str | None]:
    """Parse XML without entity expansion, DTDs or network access; raises ExtractError.

    Feeds in the wild are often slightly broken, so the parser recovers what it can; the second
    value describes the first error when it had to (None for a well-formed document)."""
    parser = _parser()
    try:
        root = etree.fromstring(content, parser, base_url=url)
    except etree.XMLSyntaxError as exc:
        raise ExtractError(url, f"not well-formed XML ({exc})") from None
    if root is None:
        raise ExtractError(url, "empty or unreadable XML document")
    errors = [e for e in parser.error_log if e.level >= etree.ErrorLevels.ERROR]
    problem = f"{errors[0].message.strip()}, line {errors[0].line}" if errors else None
    return root, problem


def _checked(url: str, what: str, problem: str | None, found: int, notes: list[str]) -> None:
    """A broken document with nothing readable fails; one with something left gets a note."""
    if problem is None:
        return
    if not found:
        raise ExtractError(url, f"{what} is not well-formed XML ({problem}) and no links could be read")
    notes.append(f"{what} is not well-formed XML ({problem}); read the {found} link(s) recovered")


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _children(element: etree._Element, name: str) -> Iterable[etree._Element]:
    return (child for child in element if _local(child) == name)


def _child_text(element: etree._Element, *names: str) -> str | None:
    for name in names:
        for child in _children(element, name):
            text = "".join(child.itertext()).strip()
            if text:
                return text
    return None


# --- sniffing ------------------------------------------------------------------------------------

_ROOT = re.compile(rb"<\s*([A-Za-z_][\w.\-]*:)?(rss|rdf|feed|urlset|sitemapindex|html)\b", re.IGNORECASE)


def sniff(content: bytes, content_type: str = "") -> str:
    """What a source is, by its content: 'feed', 'sitemap', 'html' or 'unknown'."""
    head = content[:4096]
    if head.startswith(b"\x1f\x8b"):
        return "sitemap"  # a gzipped document: sitemaps are the gzipped kind
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    match = _ROOT.search(head)
    if match:
        name = match.group(2).lower()
        if name in (b"rss", b"rdf", b"feed"):
            return "feed"
        if name in (b"urlset", b"sitemapindex"):
            return "sitemap"
        return "html"
    if stripped.startswith((b"<!doctype html", b"<html")) or content_type in (
        "text/html",
        "application/xhtml+xml",
    ):
        return "html"
    return "unknown"


# --- feeds ---------------------------------------------------------------------------------------


def _base(element: etree._Element, fallback: str) -> str:
    return element.base or fallback


def parse_feed(content: bytes, url: str) -> Discovery:
    """Article links of an RSS 2.0, RSS 1.0 (RDF) or Atom feed, with their dates."""
    root, problem = parse_xml(inflate(content, url), url)
    kind = _local(root)
    links: list[Link] = []
    notes: list[str] = []
    if kind == "feed":
        entries: Iterable[etree._Element] = _children(root, "entry")
        form = "atom"
    elif kind == "rss":
        channel = next(iter(_children(root, "channel")), root)
        entries = _children(channel, "item")
        form = "rss"
    elif kind == "rdf":
        entries = _children(root, "item")  # RSS 1.0 items are children of rdf:RDF
        form = "rdf"
    else:
        raise ExtractError(url, f"not a feed (root element <{kind}>)")
    for count, entry in enumerate(entries):
        if count >= MAX_ENTRIES:
            notes.append(f"feed has more than {MAX_ENTRIES} entries; the rest were skipped")
            break
        link = _atom_entry(entry, url) if form == "atom" else _rss_item(entry, url)
        if link is not None:
            links.append(link)
    _checked(url, "feed", problem, len(links), notes)
    return Discovery(kind=form, url=url, articles=tuple(_unique(links)), notes=tuple(notes))


def _rss_item(item: etree._Element, url: str) -> Link | None:
    href = _child_text(item, "origlink", "link")  # feedburner:origLink first: no redirector
    if href is None:
        about = item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
        for guid in _children(item, "guid"):
            if (guid.get("isPermaLink") or "true").lower() != "false":
                href = (guid.text or "").strip() or None
        href = href or about
    if not href:
        return None
    target = try_normalize(href, _base(item, url))
    if target is None:
        return None
    published = parse_date(_child_text(item, "pubdate", "date", "published", "issued"))
    modified = parse_date(_child_text(item, "updated", "modified"))
    return Link(target, published, modified, _child_text(item, "title"))


def _atom_entry(entry: etree._Element, url: str) -> Link | None:
    chosen: etree._Element | None = None
    for link in _children(entry, "link"):
        rel = (link.get("rel") or "alternate").lower()
        if rel != "alternate" or not link.get("href"):
            continue
        if chosen is None or (link.get("type") or "").startswith("text/html"):
            chosen = link
    href = chosen.get("href") if chosen is not None else _child_text(entry, "id")
    if not href:
        return None
    target = try_normalize(href, _base(chosen if chosen is not None else entry, url))
    if target is None:
        return None
    published = parse_date(_child_text(entry, "published", "issued", "created"))
    modified = parse_date(_child_text(entry, "updated", "modified"))
    return Link(target, published or None, modified, _child_text(entry, "title"))


# --- sitemaps ------------------------------------------------------------------------------------


def parse_sitemap(content: bytes, url: str) -> Discovery:
    """Pages of an XML sitemap (Google News dates included), or child sitemaps of an index.
    Gzipped sitemaps are inflated (with a cap) whatever their Content-Type.

    The document is inflated and parsed a piece at a time, each entry dropped once read, and
    reading stops at the MAX_ENTRIES-th entry: a sitemap of a million URLs costs what its first
    50,000 do, in memory and in time."""
    parser = etree.XMLPullParser(events=("start", "end"), **_PARSER_OPTIONS)
    kind = ""
    entry_name = ""
    found: list[Link] = []
    notes: list[str] = []
    entries = 0
    ended = cut_short = False  # the root closed by the document; or left open where it stopped
    try:
        for event, element in _events(parser, _pieces(content, url)):
            if event == "close":
                cut_short = not ended
                continue
            name = _local(element)
            if event == "end" and element.getparent() is None:
                ended = True
            if event == "start":
                if not kind:
                    kind = name
                    if kind not in ("urlset", "sitemapindex"):
                        raise ExtractError(url, f"not a sitemap (root element <{kind}>)")
                    entry_name = "url" if kind == "urlset" else "sitemap"
                continue
            parent = element.getparent()
            if name != entry_name or parent is None or _local(parent) != kind:
                continue
            entries += 1
            link = _sitemap_entry(element, url)
            if link is not None:
                found.append(link)
            element.clear(keep_tail=False)
            while element.getprevious() is not None:  # entries already read: let them go
                del parent[0]
            if entries >= MAX_ENTRIES:
                notes.append(f"sitemap has more than {MAX_ENTRIES} entries; the rest were not read")
                break
    except etree.XMLSyntaxError as exc:
        if not kind:
            raise ExtractError(url, f"not well-formed XML ({exc})") from None
    if not kind:
        raise ExtractError(url, "empty or unreadable XML document")
    errors = [e for e in parser.error_log if e.level >= etree.ErrorLevels.ERROR]
    problem = f"{errors[0].message.strip()}, line {errors[0].line}" if errors else None
    if problem is None and cut_short:
        problem = "the document ends before its elements are closed"
    links = tuple(_unique(found))
    _checked(url, "sitemap", problem if entries < MAX_ENTRIES else None, len(links), notes)
    if kind == "sitemapindex":
        return Discovery(kind="sitemap-index", url=url, sitemaps=links, notes=tuple(notes))
    return Discovery(kind="sitemap", url=url, articles=links, notes=tuple(notes))


def _events(parser: etree.XMLPullParser, pieces: Iterable[bytes]) -> Iterator[tuple[str, etree._Element]]:
    """The parser's events as the pieces are fed to it, then those of closing the document (a
    broken one's open elements end there)."""
    for piece in pieces:
        parser.feed(piece)
        yield from parser.read_events()
    try:
        root = parser.close()
    except etree.XMLSyntaxError:
        return  # nothing could be read
    yield "close", root  # what ends from here on was left open by the document
    yield from parser.read_events()


def _sitemap_entry(entry: etree._Element, url: str) -> Link | None:
    loc = _child_text(entry, "loc")
    target = try_normalize(loc, url) if loc else None
    if target is None:
        return None
    lastmod = parse_date(_child_text(entry, "lastmod"))
    published = title = None
    for news in _children(entry, "news"):
        published = parse_date(_child_text(news, "publication_date"))
        title = _child_text(news, "title")
    return Link(target, published, lastmod, title)


# --- section pages -------------------------------------------------------------------------------


def parse_section(
    content: bytes,
    url: str,
    *,
    patterns: Sequence[str] = (),
    excludes: Sequence[str] = (),
    domains: Sequence[str] = (),
    learned: Mapping[str, tuple[int, int]] | None = None,
) -> Discovery:
    """Article links of an HTML section page, and the feeds it names in <link rel="alternate">.

    A link counts when it is on the page's own host (or one of `domains`) and is an article by
    `patterns`/`excludes` when given, else by what the page says of it and what the crawl
    learned of the host's URL shapes (`learned`; see `archiver.sections`)."""
    found = read_section(content, url, patterns=patterns, excludes=excludes, domains=domains, learned=learned)
    return Discovery(
        kind="section",
        url=url,
        articles=tuple(Link(target, title=text) for target, text in found.articles),
        feeds=found.feeds,
        notes=found.notes,
        rejected=found.rejected,
    )


def _unique(links: Iterable[Link]) -> Iterable[Link]:
    seen: set[str] = set()
    for link in links:
        if link.url not in seen:
            seen.add(link.url)
            yield link


# --- dispatch ------------------------------------------------------------------------------------


def discover(
    content: bytes,
    url: str,
    content_type: str = "",
    *,
    patterns: Sequence[str] = (),
    excludes: Sequence[str] = (),
    domains: Sequence[str] = (),
    learned: Mapping[str, tuple[int, int]] | None = None,
) -> Discovery:
    """Tell a source apart by its content (feed, sitemap or section page) and read its links.

    Raises ExtractError when it is none of these, TooLarge past the size caps."""
    kind = sniff(content, content_type)
    if kind == "feed":
        return parse_feed(content, url)
    if kind == "sitemap":
        if content.startswith(b"\x1f\x8b") and sniff(next(_pieces(content, url), b"")) == "feed":
            return parse_feed(content, url)  # a gzipped feed
        return parse_sitemap(content, url)
    if kind == "html":
        return parse_section(content, url, patterns=patterns, excludes=excludes, domains=domains, learned=learned)
    raise ExtractError(
        url,
        f"neither a feed, a sitemap nor an HTML page (Content-Type {content_type or 'unknown'}); "
        "give the URL of an RSS/Atom feed, an XML sitemap or a section page",
    )


def gzip_bytes(content: bytes) -> bytes:
    """Gzip deterministically (for tests and the demo's .xml.gz sitemaps)."""
    return gzip.compress(content, mtime=0)
