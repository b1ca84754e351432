"""URL normalisation and article-URL heuristics: pure functions, no network, no database.

`normalize_url` gives every URL one spelling before it enters the frontier, so the same page found
in a feed, a sitemap and a section page is fetched once:

- scheme and host lower-cased, a trailing dot and the default port dropped, IDN hosts in punycode;
- an empty path becomes ``/``, dot segments are resolved, percent escapes are upper-cased and
  unreserved characters decoded (``%7E`` -> ``~``);
- the fragment is dropped;
- tracking parameters (``utm_*``, ``fbclid``, ``gclid`` ... see `TRACKING_PARAMS`) are removed;
  every other query parameter is kept, in its order and spelling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from archiver.errors import InvalidURL

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_id", "vero_conv", "s_cid", "li_fat_id", "ttclid", "wickedid",
        "rb_clickid", "__s", "ref_src", "ref_url", "cmpid", "ito", "at_medium", "at_campaign",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
DEFAULT_PORTS = {"http": 80, "https": 443}

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")

# Path segments that name lists, not articles (tag pages, author pages, pagination, chrome).
LISTING_SEGMENTS = frozenset(
    {
        "tag", "tags", "category", "categories", "author", "authors", "topic", "topics", "page",
        "search", "feed", "feeds", "rss", "login", "signin", "register", "subscribe", "account",
        "about", "contact", "privacy", "privacy-policy", "terms", "cookie-policy", "advertise",
        "wp-admin", "wp-content", "wp-json", "wp-includes", "cdn-cgi", "static", "assets", "amp",
        "newsletter", "newsletters", "video", "videos", "podcasts", "live", "comments", "archive",
        "archives", "section", "sections", "people", "jobs", "careers", "shop", "events",
    }
)
NON_PAGE_SUFFIXES = (
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".ico", ".css", ".js", ".json", ".xml",
    ".rss", ".atom", ".gz", ".zip", ".pdf", ".mp3", ".mp4", ".m4a", ".webm", ".woff", ".woff2",
    ".txt", ".csv",
)
_DATE_PATH = re.compile(r"/(19|20)\d\d/(0?[1-9]|1[0-2])(/(0?[1-9]|[12]\d|3[01]))?/[^/]+")
_NUMERIC_ID = re.compile(r"(^|[-_/.])\d{5,}($|[-_/.]|\.html?$)")


def _normalize_escapes(text: str, keep: str = "") -> str:
    """Upper-case percent escapes; decode the ones that stand for unreserved characters."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        if char in _UNRESERVED and char not in keep:
            return char
        return "%" + match.group(1).upper()

    return _ESCAPE.sub(fix, text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
            continue
        if segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
            continue
        output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def is_tracking_param(name: str) -> bool:
    key = unquote_plus(name).strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def normalize_url(url: str, base: str | None = None) -> str:
    """The one spelling of `url` (resolved against `base` when given); raises InvalidURL."""
    raw = url.strip()
    try:
        absolute = raw[:8].lower().startswith(("http://", "https://"))
        joined = urljoin(base, raw) if base and not absolute else raw  # sitemaps: absolute, 50,000 a time
        parts = urlsplit(joined)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(url, f"malformed URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidURL(url, "not an http:// or https:// URL")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidURL(url, "URL has no host")
    try:
        host = host.encode("idna").decode("ascii").lower() if not host.isascii() else host.lower()
    except UnicodeError as exc:
        raise InvalidURL(url, f"bad host name ({exc})") from None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    path = _remove_dot_segments(_normalize_escapes(parts.path or "/"))
    if not path.startswith("/"):
        path = "/" + path
    query = "&".join(
        _normalize_escapes(piece)
        for piece in parts.query.split("&")
        if piece and not is_tracking_param(piece.split("=", 1)[0])
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def try_normalize(url: str, base: str | None = None) -> str | None:
    """normalize_url for links scraped from pages, where junk is expected and skipped."""
    try:
        return normalize_url(url, base)
    except InvalidURL:
        return None


def host_of(url: str) -> str:
    """A URL's host name, lower-cased, without a trailing dot or the port ("" for a URL that
    has none, or cannot be read)."""
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def site_of(url: str) -> str:
    """The site an article belongs to when no site file claims it: its host without `www.`."""
    return host_of(url).removeprefix("www.")


def matching_domain(url: str, domains: Iterable[str]) -> str | None:
    """The longest of `domains` that the URL's host is, or is a subdomain of (None: none is)."""
    host = host_of(url)
    best: str | None = None
    for domain in domains:
        if (host == domain or host.endswith("." + domain)) and (best is None or len(domain) > len(best)):
            best = domain
    return best


def same_site(url: str, domains: Iterable[str]) -> bool:
    """Whether the URL's host is one of `domains` or a subdomain of one."""
    return matching_domain(url, domains) is not None


def group_by_host(urls: Iterable[str]) -> dict[str, list[str]]:
    """URLs by host (`host_of`), each host's in the order given."""
    groups: dict[str, list[str]] = {}
    for url in urls:
        groups.setdefault(host_of(url), []).append(url)
    return groups


def host_key(url: str) -> str:
    """The politeness and robots.txt key of a URL: its host, with the port when not the default."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    scheme = parts.scheme.lower()
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return host
    return f"{host}:{port}"


def url_host(url: str | None) -> str | None:
    """SQL `url_host(url)` and `fetches.host`: a URL's `host_key`, for grouping fetches by host;
    None for no URL or one whose port is not a number."""
    if not url:
        return None
    try:
        return host_key(url)
    except ValueError:
        return None


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, where its robots.txt lives."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{host_key(url)}"


# URL paths that are listings, not articles.
NON_ARTICLE_PATH = re.compile(
    r"/(?:tags?|category|categories|topics?|section|sections|author|authors|people|search|"
    r"page|feed|wp-admin|wp-login|login|account|subscribe|newsletter|about|contact|privacy|"
    r"terms|careers|advertise)(?:/|$)",
    re.IGNORECASE,
)
SHARE_HOSTS = re.compile(
    r"(?:^|\.)(?:facebook\.com|twitter\.com|x\.com|linkedin\.com|pinterest\.com|reddit\.com|"
    r"whatsapp\.com|t\.me|telegram\.me|tumblr\.com|vk\.com|addthis\.com|sharethis\.com|"
    r"getpocket\.com|flipboard\.com|wa\.me)$",
    re.IGNORECASE,
)


def same_page(a: str, b: str) -> bool:
    """Whether two absolute URLs name the same page (ignoring fragment, query and a final /)."""
    pa, pb = urlsplit(a), urlsplit(b)
    host_a = pa.netloc.lower().removeprefix("www.")
    host_b = pb.netloc.lower().removeprefix("www.")
    return host_a == host_b and pa.path.rstrip("/") == pb.path.rstrip("/")


def is_related_article_url(url: str, page_url: str) -> bool:
    """Whether a link of a related-articles block goes to an article (not a section, tag, author
    or share link). Laxer than `is_article_url`: the block already says it lists articles."""
    parts = urlsplit(url)
    if SHARE_HOSTS.search(parts.netloc.lower()):
        return False
    path = parts.path
    if same_page(url, page_url) or not path.strip("/"):
        return False
    if NON_ARTICLE_PATH.search(path):
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return bool(
        re.search(r"[\w]+-[\w]+-[\w]+", last)  # a slug of three or more words
        or re.search(r"\d{4,}", path)  # an id or a date
        or last.endswith((".html", ".htm", ".php", ".aspx"))
    )


def looks_like_article(url: str) -> bool:
    """A guess for sites without article patterns: dated or long-slug paths, numeric ids."""
    parts = urlsplit(url)
    path = parts.path
    lowered = path.lower()
    if lowered.endswith(NON_PAGE_SUFFIXES):
        return False
    segments = [s for s in lowered.split("/") if s]
    if not segments:
        return False
    if any(s in LISTING_SEGMENTS for s in segments[:-1]) or segments[0] in LISTING_SEGMENTS:
        return False
    if segments[-1] in LISTING_SEGMENTS or segments[-1].isdigit() and len(segments[-1]) < 5:
        return False  # /page/2/, /2025/07/10/
    if _DATE_PATH.search(lowered):
        return True
    last = segments[-1].rsplit(".", 1)[0] if segments[-1].endswith((".html", ".htm")) else segments[-1]
    words = [w for w in re.split(r"[-_]", last) if w]
    if len(words) >= 4 and len(last) >= 20:
        return True
    return bool(_NUMERIC_ID.search(segments[-1]))


def is_article_url(
    url: str, patterns: Sequence[str] = (), excludes: Sequence[str] = ()
) -> bool:
    """Whether a link is an article: matches a site pattern (or the heuristic when there are none)
    and no exclude pattern. Patterns are regular expressions searched in the full URL."""
    if any(re.search(p, url) for p in excludes):
        return False
    if patterns:
        return any(re.search(p, url) for p in patterns)
    return looks_like_article(url)
