"""The article's title, and the headline element a reader sees it in.

    title, heading = choose_title(tree, meta)

The page's own `<h1>` is the title a reader sees, but pages hold several: the site's logo,
widget titles, "Related Articles". The h1 that resembles what the page states about itself
(JSON-LD headline, og:title, `<title>`) is the headline; without such an h1, an h2 equal to a
stated title, else the stated title with the site's name cut off ("Title | Site").
"""

from __future__ import annotations

import html
import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from archiver.extract.metadata import PageMeta
from archiver.extract.text import squash

_SEPARATOR = re.compile(r"\s+(?:\||-|–|—|::|·|»|•|/)\s+")
_WORD = re.compile(r"\w+")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z]+);", re.IGNORECASE)
# Headings that belong to the site, not the article: logos, widget titles, menus, hidden text.
_CHROME = re.compile(
    r"logo|site-?title|site-?name|branding|widget|navbar|menu|sr-only|screen-reader|"
    r"visually-?hidden|hidden-title",
    re.IGNORECASE,
)
_CHROME_PARENTS = frozenset({"nav", "aside", "footer"})
_TITLED = ("h1, h2, h3, h4, [itemprop='headline'], [class*='title' i], [class*='headline' i], "
           "[class*='heading' i]")
MAX_HEADINGS = 12
RESEMBLES = 0.5  # share of words an h1 must have in common with a stated title


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def _similarity(a: str, b: str) -> float:
    """Words in common over the longer one's words (1.0: the same words)."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / max(len(wa), len(wb))


def _parts(title: str) -> list[str]:
    return [p for p in _SEPARATOR.split(title) if p.strip()]


def clean_title(text: str | None) -> str:
    """A title without markup escapes left in it (`&#8211;`) and extra whitespace."""
    text = squash(text)
    return squash(html.unescape(text)) if _ENTITY.search(text) else text


def strip_site_name(title: str, site_name: str | None) -> str:
    """"Title | Site" -> "Title": the first part that is not the site's name."""
    parts = _parts(title)
    if len(parts) < 2:
        return title
    site = (site_name or "").casefold()
    kept = [p for p in parts if not site or (p.casefold() != site and p.casefold() not in site)]
    return squash(kept[0] if kept else parts[0])


def _is_chrome(node: LexborNode) -> bool:
    if _CHROME.search(node.attributes.get("class") or "") or "hidden" in node.attributes:
        return True
    parent = node.parent
    for _ in range(4):
        if parent is None or parent.tag in {"body", "html"}:
            return False
        if parent.tag in _CHROME_PARENTS or _CHROME.search(parent.attributes.get("class") or ""):
            return True
        parent = parent.parent
    # A headline inside a nav or aside further up is still the site's.
    while parent is not None and parent.tag not in {"body", "html"}:
        if parent.tag in _CHROME_PARENTS:
            return True
        parent = parent.parent
    return False


def _headings(tree: LexborHTMLParser, tag: str) -> list[tuple[LexborNode, str]]:
    out = []
    for node in tree.css(tag)[:MAX_HEADINGS]:
        text = clean_title(node.text(deep=True))
        if text:
            out.append((node, text))
    return out


def find_heading(tree: LexborHTMLParser, title: str) -> LexborNode | None:
    """The element showing `title` (an h1, h2 or headline), else the h1 most like it."""
    key = title.casefold()
    for node in tree.css(_TITLED)[:MAX_HEADINGS * 8]:
        raw = node.text(deep=True)
        if len(raw) < 2 * len(title) + 40 and clean_title(raw).casefold() == key:
            return node
    h1s = [(n, t) for n, t in _headings(tree, "h1") if not _is_chrome(n)]
    best = max(h1s, key=lambda h: _similarity(h[1], title), default=None)
    if best is not None and _similarity(best[1], title) >= RESEMBLES:
        return best[0]
    return _element_showing(tree, key)


def _element_showing(tree: LexborHTMLParser, key: str) -> LexborNode | None:
    """The first element outside the page's chrome whose text is the title (`key`, casefolded),
    whatever its tag: a `<legend>`, a styled `<p>` (one pass over the text nodes)."""
    if tree.body is None:
        return None
    for node in tree.body.traverse(include_text=True):
        if not node.is_text_node:
            continue
        text = node.text_content or ""
        if len(text) < 2 * len(key) + 40 and clean_title(text).casefold() == key:
            parent = node.parent
            if parent is not None and parent.tag not in {"script", "style", "title"} and \
                    not _is_chrome(parent):
                return parent
    return None


def choose_title(tree: LexborHTMLParser, meta: PageMeta) -> tuple[str, LexborNode | None]:
    """The article's title and the element that shows it (None when no element does)."""
    stated = [clean_title(s) for s in (meta.title, meta.og_title, meta.html_title) if s]
    stated += [p for s in stated for p in _parts(s)]
    site = (meta.site_name or "").casefold()
    h1s = [(n, t) for n, t in _headings(tree, "h1")
           if not _is_chrome(n) and t.casefold() != site]

    def resemblance(text: str) -> float:
        return max((_similarity(text, s) for s in stated), default=0.0)

    if h1s:
        node, text = max(h1s, key=lambda h: resemblance(h[1]))
        if not stated or resemblance(text) >= RESEMBLES:
            return text, node
    keys = {s.casefold() for s in stated}
    for node, text in _headings(tree, "h2"):
        if text.casefold() in keys:
            return text, node
    source = clean_title(meta.og_title or meta.html_title or meta.title)
    if source:
        title = strip_site_name(source, meta.site_name)
        return title, find_heading(tree, title)
    if h1s:
        return h1s[0][1], h1s[0][0]
    return "", None
