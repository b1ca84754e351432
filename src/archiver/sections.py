"""Section and home pages: which of their links are articles. Pure: a page's bytes in, links out.

When a site file gives `article_patterns`, they decide. Otherwise every link to the site is
judged on what the page says about it, not on its URL alone:

- **URL shape.** A dated path, a long slug or a long numeric id is an article whatever else is
  said (`archiver.urls.looks_like_article`, as before). Listing segments (tag, author, page ...),
  pagination queries, the site's root and bare section folders (`/world/`) are not. A leaf (a
  file name, a number, a slug under a section: `/news/17.html`) leans article.
- **Anchor text.** A headline (three words and more, five and more the stronger) leans article;
  one or two words ("World", "Next", "2", an author's name) lean not.
- **Position.** Links in navigation, the page's header and footer, asides, breadcrumbs and
  pagination (by element, ARIA role or class name) are chrome.
- **Structure.** Links in the same place of a repeated structure (cards in a list, items of a
  grid) are judged together: a repeated structure of headlines is a list of articles; one of
  one- or two-word links is a menu or a tag cloud.
- **What the crawl learned of the host.** `learned` maps a URL shape (`url_shape`, such as
  `/news/<n>.html`) to how many pages of that shape turned out to be articles and how many did
  not; a shape that has been articles again and again is accepted, one that has not is refused.

A link is an article when the evidence adds up to `ACCEPT`. The page's own URL, other sites
and non-page files (images, feeds ...) are not candidates; every other link judged not an
article is counted in `Discovery.rejected`, so a site whose discovery fails shows it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from urllib.parse import parse_qsl, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from archiver.urls import (
    LISTING_SEGMENTS,
    NON_PAGE_SUFFIXES,
    host_of,
    is_article_url,
    looks_like_article,
    normalize_url,
    same_site,
    try_normalize,
)

MAX_SECTION_LINKS = 5_000
ACCEPT = 3  # evidence a link needs to be judged an article

FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json"}
)
_CHROME_TAGS = frozenset({"nav", "aside", "menu"})
_PAGE_PARTS = frozenset({"header", "footer"})  # chrome unless inside an <article>
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "menu", "menubar", "search"})
_CHROME_WORDS = frozenset({
    "nav", "navbar", "navigation", "menu", "menubar", "breadcrumb", "breadcrumbs", "pagination", "pager",
    "footer", "sidebar", "masthead", "tagcloud", "tags", "social", "share", "sharing", "skip",
})
_MAIN_TAGS = frozenset({"main", "article"})
_PAGING_PARAMS = frozenset({"page", "p", "paged", "pg", "offset", "start", "from", "sort", "order", "filter"})
_NAV_TEXT = frozenset({
    "home", "next", "previous", "prev", "older", "newer", "more", "next page", "previous page", "first",
    "last", "read more", "more stories", "see all", "view all", "all", "top", "back", "menu", "search",
})
_PAGE_SUFFIXES = (".html", ".htm", ".shtml", ".php", ".asp", ".aspx", ".jsp", ".cms")
_WORD = re.compile(r"[a-z]+")
_CLASS_PART = re.compile(r"[-_\s]+")
_ANCESTORS_SEEN = 60  # how far up a link's ancestors are looked at (pages nest 400 deep at most)
_SIGNATURE_DEPTH = 4  # ancestors that make a link's place in the page's structure


@dataclass(frozen=True)
class SectionLinks:
    """What a section page yields: article links (URL, anchor text), feeds, and how many links
    to the site were judged not articles."""

    articles: tuple[tuple[str, str | None], ...]
    feeds: tuple[str, ...]
    rejected: int
    notes: tuple[str, ...] = ()


# --- URL shapes --------------------------------------------------------------------------------------


def url_shape(url: str) -> str:
    """A URL's shape, what its host's articles (or its tag pages) have in common: the first path
    segment as it is (it names a section or a kind of page), later ones as `<n>` (digits),
    `<slug>` (words joined by - or _), `<w>` (one word) or `<id>` (anything else), extensions
    kept, and the names of its query parameters: `/news/17.html` -> `/news/<n>.html`,
    `/tag/harbour/` -> `/tag/<w>/`, `/2026/03/a-story/` -> `/<n>/<n>/<slug>/`."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    shaped = []
    for index, segment in enumerate(segments):
        if not segment:
            shaped.append("")
            continue
        stem, dot, ext = segment.rpartition(".") if "." in segment else (segment, "", "")
        ext = f".{ext.lower()}" if dot and ext.isalnum() and len(ext) <= 5 else ""
        stem = stem if ext else segment
        if index == 1 and not stem.isdigit():
            shaped.append(segment.lower())
            continue
        shaped.append(_segment_shape(stem.lower()) + ext)
    shape = "/".join(shaped) or "/"
    names = sorted({name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return shape + ("?" + "&".join(names) if names else "")


def _segment_shape(stem: str) -> str:
    if stem.isdigit():
        return "<n>"
    if re.fullmatch(r"[a-z]+", stem):
        return "<w>"
    if re.fullmatch(r"[a-z0-9]+([-_][a-z0-9]+)+", stem):
        return "<slug>"
    return "<id>"


def _shape_score(url: str, page: str) -> tuple[int, bool]:
    """(evidence from the URL alone, whether it is an article by shape whatever else is said)."""
    if looks_like_article(url):
        return ACCEPT, True
    parts = urlsplit(url)
    path = parts.path.lower()
    segments = [s for s in path.split("/") if s]
    query = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    stems = [s.rsplit(".", 1)[0] if s.endswith(_PAGE_SUFFIXES) else s for s in segments]
    if not segments or query & _PAGING_PARAMS or any(s in LISTING_SEGMENTS for s in stems):
        return -ACCEPT, False  # /tag/x/, /author/x/, /about.html, ?page=2
    if urlsplit(page).path == parts.path:  # the page itself, another query of it
        return -ACCEPT, False
    last = segments[-1]
    stem = last.rsplit(".", 1)[0] if last.endswith(_PAGE_SUFFIXES) else last
    if stem.isdigit() and len(stem) < 5 and not last.endswith(_PAGE_SUFFIXES):
        return -ACCEPT, False  # /page/2/, /2025/07/10/
    if all(_WORD.fullmatch(s) for s in segments):
        return -1, False  # /world/, /news/politics/: sections
    leaf = last.endswith(_PAGE_SUFFIXES) or any(ch.isdigit() for ch in stem) or (
        len(segments) >= 2 and len([w for w in re.split(r"[-_]", stem) if w]) >= 2
    )
    return (1 if leaf else 0), False


# --- the page ----------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    url: str
    text: str
    chrome: bool
    in_main: bool
    signature: tuple[str, ...]


def _anchor_text(node: LexborNode) -> str:
    text = " ".join((node.text(deep=True, separator=" ", strip=True) or "").split())
    if text:
        return text
    for attr in ("aria-label", "title"):
        value = (node.attributes.get(attr) or "").strip()
        if value:
            return value
    image = node.css_first("img[alt]")
    return (image.attributes.get("alt") or "").strip() if image is not None else ""


def _classes(node: LexborNode) -> set[str]:
    words: set[str] = set()
    for attr in ("class", "id"):
        value = (node.attributes.get(attr) or "").lower()
        words.update(part for part in _CLASS_PART.split(value) if part)
    return words


def _place(node: LexborNode) -> tuple[bool, bool, tuple[str, ...]]:
    """(in chrome, in the main content, its place in the page's structure) of a link."""
    chrome = in_main = in_article = False
    signature: list[str] = []
    parent = node.parent
    for depth in range(_ANCESTORS_SEEN):
        if parent is None or parent.tag in (None, "html", "#document"):
            break
        tag = parent.tag or ""
        role = (parent.attributes.get("role") or "").lower()
        if len(signature) < _SIGNATURE_DEPTH:
            first_class = (parent.attributes.get("class") or "").split()[:1]
            signature.append(tag + ("." + first_class[0] if first_class else ""))
        if tag == "article":
            in_article = True
        chrome = chrome or _is_chrome(parent, tag, role, in_article, depth)
        if tag in _MAIN_TAGS or role == "main":
            in_main = True
        parent = parent.parent
    return chrome, in_main, tuple(signature)


def _is_chrome(node: LexborNode, tag: str, role: str, in_article: bool, depth: int) -> bool:
    """Whether an ancestor of a link is page chrome: navigation, an aside, the page's own header
    or footer (an article's are not), or named so (class or id) close above the link."""
    if tag in _CHROME_TAGS or role in _CHROME_ROLES or (tag in _PAGE_PARTS and not in_article):
        return True
    return depth < 8 and bool(_classes(node) & _CHROME_WORDS)


def _text_score(text: str) -> int:
    words = text.split()
    lowered = text.lower().strip(" .…»›>→«‹<←|")
    if not words or lowered in _NAV_TEXT or lowered.isdigit():
        return -2
    if len(words) >= 5 and len(text) >= 20:
        return 2
    if len(words) >= 3 and len(text) >= 15:
        return 1
    return -1 if len(words) <= 2 else 0


def _group_scores(candidates: Sequence[_Candidate]) -> dict[tuple[str, ...], int]:
    """Evidence per repeated place in the structure: +2 for a list of headlines, -1 for a menu."""
    groups: dict[tuple[str, ...], list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        groups[candidate.signature].append(candidate)
    scores: dict[tuple[str, ...], int] = {}
    for signature, members in groups.items():
        if len({m.url for m in members}) < 3:
            continue
        words = median(len(m.text.split()) for m in members)
        scores[signature] = 2 if words >= 4 else -1 if words <= 2 else 0
    return scores


def _learned_score(shape: str, learned: Mapping[str, tuple[int, int]]) -> int:
    articles, others = learned.get(shape, (0, 0))
    if articles >= 2 and articles >= 3 * others:
        return 2 * ACCEPT
    if others >= 2 and others >= 3 * articles:
        return -2 * ACCEPT
    return 0


def _links(tree: LexborHTMLParser, base: str) -> Iterator[tuple[str, LexborNode]]:
    for node in tree.css("a[href]"):
        target = try_normalize(node.attributes.get("href") or "", base)
        if target is not None:
            yield target, node


def read_section(
    content: bytes | str,
    url: str,
    *,
    patterns: Sequence[str] = (),
    excludes: Sequence[str] = (),
    domains: Sequence[str] = (),
    learned: Mapping[str, tuple[int, int]] | None = None,
) -> SectionLinks:
    """The article links of an HTML section page (see the module doc), and the feeds it names
    in <link rel="alternate">."""
    tree = LexborHTMLParser(content)
    base = url
    for node in tree.css("base[href]"):
        base = urljoin(url, node.attributes.get("href") or "")
        break
    page = normalize_url(url)
    allowed = tuple(domains) or (host_of(page),)
    feeds = _feeds(tree, base)
    learned = learned or {}
    candidates: list[_Candidate] = []
    for target, node in _links(tree, base):
        if target == page or not same_site(target, allowed) or urlsplit(target).path.lower().endswith(NON_PAGE_SUFFIXES):
            continue
        chrome, in_main, signature = _place(node)
        candidates.append(_Candidate(target, _anchor_text(node), chrome, in_main, signature))
    groups = {} if patterns else _group_scores(candidates)
    accepted: dict[str, str | None] = {}
    judged: set[str] = set()
    for candidate in candidates:
        target = candidate.url
        judged.add(target)
        if target in accepted:
            accepted[target] = accepted[target] or candidate.text or None
            continue
        if patterns or excludes and any(re.search(p, target) for p in excludes):
            if is_article_url(target, patterns, excludes):
                accepted[target] = candidate.text or None
            continue
        if _is_article(candidate, page, groups, learned):
            accepted[target] = candidate.text or None
    notes: list[str] = []
    articles = list(accepted.items())
    if len(articles) > MAX_SECTION_LINKS:
        notes.append(f"more than {MAX_SECTION_LINKS} article links; the rest were skipped")
        articles = articles[:MAX_SECTION_LINKS]
    return SectionLinks(tuple(articles), feeds, len(judged) - len(accepted), tuple(notes))


def _is_article(candidate: _Candidate, page: str, groups: Mapping[tuple[str, ...], int],
                learned: Mapping[str, tuple[int, int]]) -> bool:
    shape_score, by_shape = _shape_score(candidate.url, page)
    learned_score = _learned_score(url_shape(candidate.url), learned)
    if by_shape:
        return learned_score >= 0  # as before, unless this host's pages of this shape were not articles
    if learned_score > 0 and shape_score >= 0:
        return True  # this host's pages of this shape were articles: as good as a site's pattern
    score = shape_score + learned_score + _text_score(candidate.text) + groups.get(candidate.signature, 0)
    if candidate.chrome:
        score -= 4
    elif candidate.in_main:
        score += 1
    return score >= ACCEPT


def _feeds(tree: LexborHTMLParser, base: str) -> tuple[str, ...]:
    feeds: list[str] = []
    for node in tree.css("link[rel][href]"):
        rels = (node.attributes.get("rel") or "").lower().split()
        kind = (node.attributes.get("type") or "").lower().split(";")[0].strip()
        title = (node.attributes.get("title") or "").lower()
        href = node.attributes.get("href") or ""
        if "alternate" not in rels or kind not in FEED_TYPES or kind == "application/feed+json":
            continue
        if "comment" in title or "/comments/" in href:
            continue  # WordPress comment feeds list comments, not articles
        target = try_normalize(href, base)
        if target is not None:
            feeds.append(target)
    return tuple(dict.fromkeys(feeds))


__all__ = ["ACCEPT", "MAX_SECTION_LINKS", "SectionLinks", "read_section", "url_shape"]
