"""Related and recommended article blocks, read as records: card title, absolute URL, summary.

A block is found by site rules, by markup (`related`, `recommended`, `jp-relatedposts` ...),
or by a heading in one of many wordings and languages ("Related Articles", "You May Also
Like", "More from this section", "Lesen Sie auch") followed by a list of article links, or by
cards that follow such a heading with no wrapper. Inside a block each distinct article URL is one
card, read by `cards` (title and summary). Navigation menus, footers and share links are never
cards. Every pass is linear in the page's links: each card is found by one climb per link.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser, LexborNode

from archiver.extract.cards import (
    CARD_TEXT,
    HEADINGS,
    RelatedRules,
    card_summary,
    card_title,
    classes,
    summary_after,
    summary_text,
)
from archiver.extract.chrome import inside_any
from archiver.extract.patterns import RELATED_HEADING, RELATED_MARKUP
from archiver.extract.text import absolute_url, squash
from archiver.models import RelatedLink
from archiver.urls import is_related_article_url

_HEADING_TAGS = "h1, h2, h3, h4, h5, h6, [role=heading], strong, b, p, span, div, legend, caption"
_MAX_CLIMB = 6


def _in_excluded_region(node: LexborNode, stop: LexborNode | None = None) -> bool:
    """Whether a node sits in navigation, a menu, or the page's (not a section's) header or
    footer."""
    parent: LexborNode | None = node
    while parent is not None:
        if stop is not None and parent.mem_id == stop.mem_id:
            return False
        tag = parent.tag
        if tag in {"nav", "menu"} or (parent.attributes.get("role") or "") in {
            "navigation", "contentinfo", "menu", "menubar", "banner"
        }:
            return True
        if tag in {"header", "footer"} and not _inside_content(parent):
            return True
        parent = parent.parent
    return False


def _inside_content(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in {"article", "section", "main", "aside"}:
            return True
        parent = parent.parent
    return False


@lru_cache(maxsize=65536)
def _article_url(page_url: str, href: str | None) -> str | None:
    """The absolute URL of a link to an article, None for any other link (cached: the same
    links are judged again for each block and heading that holds them)."""
    url = absolute_url(page_url, href)
    return url.split("#", 1)[0] if url is not None and is_related_article_url(url, page_url) \
        else None


def _article_links(block: LexborNode, page_url: str) -> dict[str, list[LexborNode]]:
    links: dict[str, list[LexborNode]] = {}
    for link in block.css("a[href]"):
        url = _article_url(page_url, link.attributes.get("href"))
        if url is None:
            continue
        if _in_excluded_region(link, block):
            continue
        links.setdefault(url, []).append(link)
    return links


def _cards(block: LexborNode, found: dict[str, list[LexborNode]]) -> dict[str, LexborNode]:
    """For each article URL of a block, its card: the widest ancestor of its first link inside
    the block that links to no other article. Each ancestor learns the URLs under it once,
    walking up from the links, so the cost is linear in the block's links."""
    under: dict[int, str | None] = {}  # mem_id -> the one URL under it, None: several
    for url, links in found.items():
        for link in links:
            node = link.parent
            while node is not None and node.mem_id != block.mem_id:
                if node.mem_id not in under:
                    under[node.mem_id] = url
                elif under[node.mem_id] == url:
                    break  # a link to the same article already climbed from here
                else:
                    # Several articles meet here: every ancestor above is mixed as well.
                    while node is not None and node.mem_id != block.mem_id and \
                            under.get(node.mem_id, "") is not None:
                        under[node.mem_id] = None
                        node = node.parent
                    break
                node = node.parent
    cards: dict[str, LexborNode] = {}
    for url, links in found.items():
        card = links[0]
        parent = card.parent
        while parent is not None and parent.mem_id != block.mem_id and \
                under.get(parent.mem_id) == url:
            card = parent
            parent = card.parent
        cards[url] = card
    return cards


def read_cards(block: LexborNode, page_url: str, rules: RelatedRules | None = None
               ) -> list[RelatedLink]:
    """The cards of one related block, in document order, one per distinct article URL."""
    out: list[RelatedLink] = []
    if rules is not None and rules.card:
        for card in block.css(rules.card):
            link_node = card.css_first(rules.url) if rules.url else card.css_first("a[href]")
            if link_node is None:
                continue
            if link_node.tag != "a":
                link_node = link_node.css_first("a[href]") or link_node
            url = absolute_url(page_url, link_node.attributes.get("href"))
            if url is None:
                continue
            links = [a for a in card.css("a[href]")
                     if absolute_url(page_url, a.attributes.get("href")) == url]
            title = card_title(links or [link_node], card, rules)
            if title:
                out.append(RelatedLink(title, url, card_summary(card, title, rules)))
        return out
    found = _article_links(block, page_url)
    cards = {url: block for url in found} if len(found) == 1 else _cards(block, found)
    starts = frozenset(link.mem_id for links in found.values() for link in links)
    for url, links in found.items():
        card = cards[url]
        title = card_title(links, card, rules)
        if not title:
            continue
        summary = card_summary(card, title, rules)
        if summary is None and card.mem_id != block.mem_id:
            summary = summary_after(card, title, starts)
        out.append(RelatedLink(title, url, summary))
    return out


def _block_after_heading(heading: LexborNode, page_url: str, main: LexborNode | None
                         ) -> LexborNode | None:
    """Climb from a related heading to the nearest ancestor holding article links after it."""
    node = heading
    for _ in range(_MAX_CLIMB):
        parent = node.parent
        if parent is None or parent.tag in {"body", "html"}:
            return None
        if main is not None and parent.mem_id == main.mem_id:
            # The heading sits directly in the article: the cards are its following siblings.
            return _siblings_block(node, page_url)
        if main is not None and _contains(parent, main):
            return None
        links = _article_links(parent, page_url)
        own = _article_links(heading, page_url)
        if len(set(links) - set(own)) >= 2:
            if len(links) > 40 or not _card_sized(parent, len(links)):
                return None
            return parent
        node = parent
    return None


def _card_sized(block: LexborNode, cards: int) -> bool:
    """Whether a block's text is what a list of cards holds (title, date, short summary each),
    not an article with links in its paragraphs."""
    return len(block.text(deep=True)) <= max(1500, CARD_TEXT * cards)


def _contains(ancestor: LexborNode, node: LexborNode) -> bool:
    parent: LexborNode | None = node
    while parent is not None:
        if parent.mem_id == ancestor.mem_id:
            return True
        parent = parent.parent
    return False


def _section_heading(node: LexborNode, page_url: str) -> bool:
    """A heading that starts another section (one that links to an article is a card's title)."""
    return node.tag in HEADINGS and not _article_links(node, page_url)


def _siblings_block(heading: LexborNode, page_url: str) -> LexborNode | None:
    """The first following sibling (before the next heading) holding >= 2 article links."""
    sibling = heading.next
    while sibling is not None:
        if sibling.is_element_node:
            if _section_heading(sibling, page_url):
                return None
            if len(_article_links(sibling, page_url)) >= 2:
                return sibling
        sibling = sibling.next
    return None


MAX_BETWEEN_CARDS = 2  # elements without an article link (a summary, a date) between two cards


def following_cards(heading: LexborNode, page_url: str) -> list[list[LexborNode]]:
    """The cards that follow a heading as its siblings, up to the next section heading or
    anything else: each card is an element with an article link (all of one tag) and the
    elements after it that have none (its summary, its date), up to the next card."""
    cards: list[list[LexborNode]] = []
    between: list[LexborNode] = []
    sibling = heading.next
    while sibling is not None:
        if sibling.is_element_node:
            if _article_links(sibling, page_url):
                if cards and sibling.tag != cards[0][0].tag:
                    break  # cards are alike; a link in another shape is the text going on
                if cards:
                    cards[-1].extend(between)
                between = []
                cards.append([sibling])
            elif sibling.tag in HEADINGS or not cards or len(between) >= MAX_BETWEEN_CARDS \
                    or len(sibling.text(deep=True)) > CARD_TEXT:
                break
            else:
                between.append(sibling)
        sibling = sibling.next
    # What follows the last card is its own only as far as every card before it had the same.
    shapes = {tuple(n.tag for n in card[1:]) for card in cards[:-1]}
    if len(shapes) == 1:
        shape = shapes.pop()
        if shape and tuple(n.tag for n in between[:len(shape)]) == shape:
            cards[-1].extend(between[:len(shape)])
    return cards


@dataclass
class RelatedBlocks:
    """The related links of a page and the nodes they came from (chrome to remove)."""

    links: list[RelatedLink]
    nodes: list[LexborNode]


def find_related(
    tree: LexborHTMLParser,
    page_url: str,
    main: LexborNode | None,
    rules: RelatedRules | None = None,
) -> RelatedBlocks:
    """Related article links of a page, and the block nodes that hold them."""
    blocks: list[LexborNode] = []
    groups: list[list[list[LexborNode]]] = []  # cards that follow a heading, with no wrapper
    headings: list[LexborNode] = []
    if rules is not None and rules.block:
        blocks.extend(tree.css(rules.block))
    if not blocks:
        for node in tree.css("[class], [id]"):
            if RELATED_MARKUP.search(classes(node)) and not _in_excluded_region(node):
                if main is not None and _contains(node, main):
                    continue
                blocks.append(node)
        for node in tree.css(_HEADING_TAGS):
            raw = node.text(deep=True)
            if len(raw) > 80:
                continue
            text = squash(raw)
            if not text or not RELATED_HEADING.fullmatch(text):
                continue
            if node.tag in {"p", "span", "div", "strong", "b"} and node.css_first("a[href]"):
                continue
            if _in_excluded_region(node):
                continue
            block = _block_after_heading(node, page_url, main)
            if block is not None:
                headings.append(node)
                blocks.append(block)
                continue
            cards = following_cards(node, page_url)
            if len(cards) >= 2:
                headings.append(node)
                groups.append(cards)
    # Outermost blocks only, each read once.
    block_ids = {block.mem_id for block in blocks}
    unique: list[LexborNode] = []
    read: set[int] = set()
    for block in blocks:
        if block.mem_id in read or inside_any(block, block_ids):
            continue
        read.add(block.mem_id)
        unique.append(block)
    links: list[RelatedLink] = []
    seen: set[str] = set()
    nodes: list[LexborNode] = list(unique) + headings
    for block in unique:
        for link in read_cards(block, page_url, rules):
            if link.url not in seen:
                seen.add(link.url)
                links.append(link)
    for cards in groups:
        for card in cards:
            nodes.extend(card)
            for link in read_cards(card[0], page_url, rules):
                if link.url in seen:
                    continue
                seen.add(link.url)
                if link.summary is None:
                    texts = (squash(n.text(deep=True)) for n in card[1:])
                    link = RelatedLink(link.title, link.url,
                                       next((t for t in texts if summary_text(t, link.title)), None))
                links.append(link)
    return RelatedBlocks(links, nodes)
