"""Find the main content and remove page chrome around and inside it, in place, with selectolax.

Chrome is recognised by markup (tag, class/id token, role, aria-label, hidden state, links
that are all share intents) and by short blocks whose whole text is a boilerplate phrase
("Edit Content", "Share the Article", "No More Articles", a byline, a cookie notice). The main
content node and its ancestors are never removed, and a block holding a large share of the
main content's text is kept whatever its class says (`<div class="article-body paywall">`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from archiver.extract.patterns import (
    CHROME_ARIA,
    CHROME_MARKUP,
    CHROME_PHRASE,
    CHROME_ROLES,
    CONSENT,
    DROP_TAGS,
    OUTER_TAGS,
    SHARE_HOSTS,
    SHORT_BLOCK,
    SUMMARY_MARKUP,
    TITLE_MARKUP,
)
from archiver.extract.text import DATE_HINT, byline_rest, squash

_BLOCK_TAGS = "p, div, li, h1, h2, h3, h4, h5, h6, span, section, dd, dt, td, small, a, " \
              "strong, b, em, i, figcaption, header, footer, aside, time, address, ul, ol"
_LINKED_HEADING = ", ".join(f"h{n} a[href], a[href] h{n}" for n in range(2, 6))
_SHARE_CONTAINERS = frozenset({"div", "p", "ul", "section", "span"})
_INLINE_TAGS = frozenset({"a", "span", "strong", "b", "em", "i", "small", "time"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


@dataclass(frozen=True)
class ChromeRules:
    """Extra chrome from a site file, on top of the built-in patterns."""

    selectors: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()


@lru_cache(maxsize=8192)
def _chrome_token(token: str) -> bool:
    return bool(CHROME_MARKUP.search(token.lower()))


def is_chrome_markup(node: LexborNode) -> bool:
    """Whether a node's class, id, role or aria-label marks it as page chrome."""
    attrs = node.attributes
    for token in (attrs.get("class") or "").split():
        if _chrome_token(token):
            return True
    ident = attrs.get("id")
    if ident and _chrome_token(ident):
        return True
    role = (attrs.get("role") or "").lower()
    if role in CHROME_ROLES:
        return True
    label = attrs.get("aria-label")
    return bool(label and node.tag in {"div", "section", "aside", "ul", "nav"}
                and CHROME_ARIA.search(label))


@lru_cache(maxsize=16384)
def _is_chrome_phrase(text: str) -> bool:
    """Whether a short block's whole text is a boilerplate phrase or a cookie notice (cached:
    nested elements and every page of a site repeat the same short texts)."""
    return bool(CHROME_PHRASE.fullmatch(text) or CONSENT.search(text))


def is_hidden(node: LexborNode) -> bool:
    attrs = node.attributes
    if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
        return True
    style = attrs.get("style")
    return bool(style and _HIDDEN_STYLE.search(style))


def find_main(tree: LexborHTMLParser) -> LexborNode | None:
    """The node that holds most of the article's paragraph text (a readability-style score)."""
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    for para in tree.css("p, pre, div, td, section, article, font, span"):
        # Paragraphs count with their whole text; other elements only with the text they
        # hold directly (`<div class="zn-body__paragraph">text</div>`, `<br>`-separated text).
        text = para.text(deep=para.tag in {"p", "pre"})
        length = len(text.strip())
        if length < 25:
            continue
        score = 1 + text.count(",") + min(length / 100, 3)
        node = para.parent
        for share in (1.0, 0.5, 0.25):
            if node is None or node.tag in {"html", "#document"}:
                break
            key = node.mem_id
            nodes[key] = node
            scores[key] = scores.get(key, 0.0) + score * share
            node = node.parent
    if not scores:
        return None
    best = max(scores, key=scores.__getitem__)
    return nodes[best]


def _ancestor_ids(node: LexborNode | None) -> set[int]:
    ids: set[int] = set()
    while node is not None:
        ids.add(node.mem_id)
        node = node.parent
    return ids


def _is_share_block(node: LexborNode, text: str) -> bool:
    """A short block whose links all go to share intents (facebook.com/sharer, mailto:...)."""
    if len(text) > SHORT_BLOCK * 2:
        return False
    links = node.css("a[href]")
    if len(links) < 2:
        return False
    for link in links:
        href = (link.attributes.get("href") or "").strip()
        if href.startswith("mailto:"):
            continue
        host = urlsplit(href).netloc.lower() if "://" in href else ""
        if not host or not SHARE_HOSTS.search(host):
            return False
    return True


def is_byline(text: str, node: LexborNode) -> bool:
    """A short "By Jane Doe | July 10, 2025" line."""
    if len(text) > 160:
        return False
    rest = byline_rest(text)
    if rest is None:
        return False
    return not rest.strip() or node.css_first("time") is not None or \
        bool(DATE_HINT.search(rest))


def _phrase_matcher(phrases: Sequence[str]) -> re.Pattern[str] | None:
    """Site phrases match a short block that is the phrase or starts with it ("Sharing:")."""
    if not phrases:
        return None
    return re.compile("(?:" + "|".join(re.escape(squash(p)) for p in phrases) + ").*",
                      re.IGNORECASE | re.DOTALL)


def strip_chrome(
    tree: LexborHTMLParser,
    main: LexborNode | None,
    rules: ChromeRules | None = None,
    *,
    also: Iterable[LexborNode] = (),
    keep: Iterable[LexborNode] = (),
    standfirst: str | None = None,
) -> None:
    """Remove chrome from `tree` in place, never `main`, the `keep` nodes or their ancestors.

    `also` are extra nodes to remove (related blocks found earlier); `keep` holds the title
    heading, which the generic layer uses to tell the article from appended ones."""
    protected = _ancestor_ids(main)
    for node in keep:
        protected |= _ancestor_ids(node)
    main_length = 0
    if main is not None:
        main_length = len(main.text(deep=True))
    # Related blocks found earlier go last: the phrase pass must still see a "Related: <link>"
    # line whole, with its "Related:" label.
    late: dict[int, LexborNode] = {n.mem_id: n for n in also if n.mem_id not in protected}
    doomed: dict[int, LexborNode] = {}

    def doom(node: LexborNode) -> None:
        if node.mem_id not in protected:
            doomed[node.mem_id] = node

    def holds_main_text(node: LexborNode) -> bool:
        return main_length > 0 and len(node.text(deep=True)) > 0.4 * main_length

    # Comments go first: serialised again, a comment that held "<!--" swallows the page.
    for node in tree.root.traverse(include_text=True) if tree.root is not None else ():
        if node.is_comment_node:
            doomed[node.mem_id] = node
    for node in tree.css(",".join(DROP_TAGS)):
        if node.tag == "form" and holds_main_text(node):
            continue
        doom(node)
    for node in tree.css(",".join(OUTER_TAGS)):
        if not holds_main_text(node):
            doom(node)
    for node in tree.css("[hidden], [aria-hidden], [style]"):
        if is_hidden(node) and not holds_main_text(node):
            doom(node)
    for node in tree.css("[class], [id], [role], [aria-label]"):
        if node.tag in {"html", "body", "main"} or node.mem_id in protected:
            continue
        if is_chrome_markup(node) and not holds_main_text(node):
            doom(node)
    if rules is not None:
        for selector in rules.selectors:
            for node in tree.css(selector):
                doom(node)
    site_phrases = _phrase_matcher(rules.phrases) if rules is not None else None
    for node in tree.css("ul, ol"):
        if node.mem_id not in protected and (is_link_list(node) or is_teaser_list(node)):
            doom(node)
    if standfirst:
        for node in find_standfirst(tree, standfirst):
            doom(node)
    for node in find_popups(tree):
        doom(node)

    # Markup chrome goes before the phrase pass, which then walks a smaller tree.
    early = {k: n for k, n in doomed.items() if k not in late}
    doomed = {k: n for k, n in late.items() if not inside_any(n, early)}
    _remove(early)
    # The tree does not change until the phrase pass ends: each parent's text is read once,
    # however many short children climb to it (20,000 "Share" links in one bar).
    texts: dict[int, str] = {}

    linked: dict[int, bool] = {}

    def text_of(node: LexborNode) -> str:
        key = node.mem_id
        if key not in texts:
            texts[key] = squash(node.text(deep=True))
        return texts[key]

    def all_links(node: LexborNode) -> bool:
        """Whether nearly all of a block's text is its links' text (a bar of links)."""
        key = node.mem_id
        if key not in linked:
            total = len(text_of(node).replace(" ", ""))
            in_links = sum(len("".join(a.text(deep=True).split())) for a in node.css("a"))
            linked[key] = total > 0 and in_links >= 0.9 * total
        return linked[key]

    for node in tree.css(_BLOCK_TAGS):
        if node.mem_id in protected or node.mem_id in doomed:
            continue
        raw = node.text(deep=True)
        if len(raw) > SHORT_BLOCK * 3:
            continue
        text = squash(raw)
        if not text:
            continue
        if len(text) <= SHORT_BLOCK and (
            _is_chrome_phrase(text)
            or (site_phrases is not None and site_phrases.fullmatch(text))
            or is_byline(text, node)
        ):
            target = _widest_same_text(node, text, protected, text_of)
            if target.tag in _INLINE_TAGS:
                # An inline phrase ("Twitter", "Read more") inside a real paragraph is text;
                # inside a short line of links, or a bar of nothing but links, it is chrome.
                parent = target.parent
                if parent is None or (len(text_of(parent)) > SHORT_BLOCK
                                      and not all_links(parent)):
                    continue
            doom(target)
        elif node.tag in _SHARE_CONTAINERS and _is_share_block(node, text):
            doom(node)
    _remove(doomed)
    _drop_empty(tree)


def _drop_empty(tree: LexborHTMLParser) -> None:
    """Remove containers left without text: an emptied `<div class="post">` misleads the
    generic extractor into taking it for the article."""
    empty: dict[int, LexborNode] = {}
    for node in tree.css("div, section, article, aside, span, p, ul, ol, li, figure, a, "
                         "header, footer, table, h1, h2, h3, h4, h5, h6, strong, b, em, i"):
        if not node.text(deep=True).strip():
            empty[node.mem_id] = node
    _remove(empty)


def is_link_list(node: LexborNode) -> bool:
    """A list of three or more items whose text is nearly all link text (headline lists,
    "more stories", tag clouds): navigation, not prose."""
    items = [li for li in node.iter() if li.tag == "li"]
    if len(items) < 3:
        return False
    total = len(squash(node.text(deep=True)))
    if total == 0:
        return False
    linked = sum(len(squash(a.text(deep=True))) for a in node.css("a"))
    return linked >= 0.8 * total


def is_teaser_list(node: LexborNode) -> bool:
    """A list of three or more story teasers: most items hold a linked heading (a headline,
    perhaps with an image and a one-line summary). Prose lists do not head their items."""
    items = [li for li in node.iter() if li.tag == "li"]
    if len(items) < 3:
        return False
    headed = sum(1 for li in items if li.css_first(_LINKED_HEADING) is not None)
    return headed >= 0.75 * len(items)


def find_popups(tree: LexborHTMLParser) -> list[LexborNode]:
    """Hover cards inlined in running text: a span inside a paragraph that holds three or
    more links and next to nothing else ("Rep. Jane Doe" followed by her latest headlines).
    Prose puts words between its links; a card is a cluster of them."""
    found: list[LexborNode] = []
    for node in tree.css("p span"):
        links = node.css("a")
        if len(links) < 3:
            continue
        total = len(squash(node.text(deep=True)))
        linked = sum(len(squash(a.text(deep=True))) for a in links)
        if total and linked >= 0.9 * total:
            found.append(node)
    # The innermost card only: its wrapper also holds the link that opens it, which is text.
    wrappers = {p.mem_id for n in found for p in _parents(n)}
    return [n for n in found if n.mem_id not in wrappers]


def _parents(node: LexborNode) -> list[LexborNode]:
    out: list[LexborNode] = []
    parent = node.parent
    while parent is not None and parent.tag != "p":
        out.append(parent)
        parent = parent.parent
    return out


def find_standfirst(tree: LexborHTMLParser, description: str) -> list[LexborNode]:
    """The standfirst: a heading or classed block repeating the page's description. (A plain
    paragraph repeating it is the article's first paragraph, and stays.)"""
    key = squash(description)
    if len(key) < 30:
        return []
    found: list[LexborNode] = []
    for node in tree.css("h2, h3, h4, h5, h6, div[class], p[class], span[class], section"):
        raw = node.text(deep=True)
        if len(raw) > len(key) * 2 + 200:
            continue
        text = squash(raw)
        if text == key or (len(text) > 30 and key.startswith(text.rstrip(".…"))):
            if node.tag == "p" and not (SUMMARY_MARKUP.search(node.attributes.get("class") or "")
                                        or TITLE_MARKUP.search(node.attributes.get("class") or "")):
                continue
            if node.css_first("p") is not None and node.tag != "p":
                # A container: its own paragraph decides.
                continue
            found.append(node)
    return found


def _widest_same_text(node: LexborNode, text: str, protected: set[int],
                      text_of: Callable[[LexborNode], str]) -> LexborNode:
    """Climb from `node` while the parent holds no other text."""
    while True:
        parent = node.parent
        if parent is None or parent.mem_id in protected or parent.tag in {"body", "html"}:
            return node
        if text_of(parent) != text:
            return node
        node = parent


def inside_any(node: LexborNode, ids: Container[int]) -> bool:
    """Whether an ancestor of `node` is one of the nodes whose mem_ids are `ids`."""
    parent = node.parent
    while parent is not None:
        if parent.mem_id in ids:
            return True
        parent = parent.parent
    return False


def _remove(doomed: dict[int, LexborNode]) -> None:
    """Decompose nodes, outermost first, never touching a node freed with its ancestor."""
    roots: list[LexborNode] = []
    for key, node in doomed.items():
        parent = node.parent
        inside = False
        while parent is not None:
            if parent.mem_id in doomed and parent.mem_id != key:
                inside = True
                break
            parent = parent.parent
        if not inside:
            roots.append(node)
    for node in roots:
        node.decompose()
