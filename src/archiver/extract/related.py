"""Related and recommended article blocks, read as records: card title, absolute URL, summary.

A block is found by site rules, by markup (`related`, `recommended`, `jp-relatedposts` ...),
or by a heading in one of many wordings and languages ("Related Articles", "You May Also
Like", "More from this section", "Lesen Sie auch") followed by a list of article links. Inside
a block each distinct article URL is one card; its title comes from a heading or title-like
link, its summary from an excerpt element or a paragraph that is not the title. Navigation
menus, footers and share links are never cards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from archiver.extract.patterns import (
    CHROME_PHRASE,
    RELATED_HEADING,
    RELATED_MARKUP,
    SUMMARY_MARKUP,
    TITLE_MARKUP,
)
from archiver.extract.text import absolute_url, is_date_text, squash
from archiver.models import RelatedLink
from archiver.urls import is_related_article_url

_HEADING_TAGS = "h1, h2, h3, h4, h5, h6, [role=heading], strong, b, p, span, div, legend, caption"
_MAX_CLIMB = 6
_CARD_TEXT = 600  # characters of text one related card may hold, on average


@dataclass(frozen=True)
class RelatedRules:
    """Related-block selectors from a site file."""

    block: str | None = None
    card: str | None = None
    title: str | None = None
    url: str | None = None
    summary: str | None = None


def _classes(node: LexborNode) -> str:
    attrs = node.attributes
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()


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


def _article_links(block: LexborNode, page_url: str) -> dict[str, list[LexborNode]]:
    links: dict[str, list[LexborNode]] = {}
    for link in block.css("a[href]"):
        url = absolute_url(page_url, link.attributes.get("href"))
        if url is None or not is_related_article_url(url, page_url):
            continue
        if _in_excluded_region(link, block):
            continue
        links.setdefault(url.split("#", 1)[0], []).append(link)
    return links


def _link_title(link: LexborNode) -> str:
    text = squash(link.text(deep=True))
    if text and not CHROME_PHRASE.fullmatch(text):
        return text
    return ""


def _card_title(links: list[LexborNode], card: LexborNode, rules: RelatedRules | None) -> str:
    if rules is not None and rules.title:
        node = card.css_first(rules.title)
        if node is not None and squash(node.text(deep=True)):
            return squash(node.text(deep=True))
    # A link inside a heading or title-classed element wins, then the longest link text.
    for link in links:
        parent: LexborNode | None = link
        for _ in range(3):
            if parent is None:
                break
            if parent.tag in {"h1", "h2", "h3", "h4", "h5", "h6"} or \
                    TITLE_MARKUP.search(_classes(parent)):
                title = _link_title(link)
                if title:
                    return title
            parent = parent.parent
    for heading in card.css("h1, h2, h3, h4, h5, h6"):
        title = squash(heading.text(deep=True))
        if title:
            return title
    titles = [_link_title(link) for link in links]
    best = max(titles, key=len, default="")
    if best:
        return best
    for link in links:
        label = link.attributes.get("aria-label") or link.attributes.get("title") or ""
        label = re.sub(r"^(?:read more about|read more:?)\s+", "", squash(label), flags=re.IGNORECASE)
        if label:
            return label
    return ""


def _card_summary(card: LexborNode, title: str, rules: RelatedRules | None) -> str | None:
    if rules is not None and rules.summary:
        node = card.css_first(rules.summary)
        text = squash(node.text(deep=True)) if node is not None else ""
        return text or None
    candidates: list[str] = []
    for node in card.css("[class]"):
        if SUMMARY_MARKUP.search(_classes(node)):
            text = squash(node.text(deep=True))
            if text and text != title:
                return text
    for node in card.css("p, div, span"):
        if node.css_first("p, div") is not None and node.tag != "p":
            continue
        if node.css_first("a[href]") is not None and node.tag != "p":
            continue
        text = squash(node.text(deep=True))
        if len(text) < 25 or text == title or title in text and len(text) < len(title) + 15:
            continue
        if CHROME_PHRASE.fullmatch(text) or is_date_text(text):
            continue
        candidates.append(text)
    return candidates[0] if candidates else None


def _card_for(link: LexborNode, url: str, block: LexborNode, page_url: str) -> LexborNode:
    """The widest ancestor of `link` inside `block` that links to no other article."""
    card = link
    while True:
        parent = card.parent
        if parent is None or parent.mem_id == block.mem_id:
            return card
        others = {
            u for u in _article_links(parent, page_url) if u != url
        }
        if others:
            return card
        card = parent


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
            title = _card_title(links or [link_node], card, rules)
            if title:
                out.append(RelatedLink(title, url, _card_summary(card, title, rules)))
        return out
    found = _article_links(block, page_url)
    for url, links in found.items():
        card = block if len(found) == 1 else _card_for(links[0], url, block, page_url)
        title = _card_title(links, card, rules)
        if not title:
            continue
        out.append(RelatedLink(title, url, _card_summary(card, title, rules)))
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
    return len(block.text(deep=True)) <= max(1500, _CARD_TEXT * cards)


def _contains(ancestor: LexborNode, node: LexborNode) -> bool:
    parent: LexborNode | None = node
    while parent is not None:
        if parent.mem_id == ancestor.mem_id:
            return True
        parent = parent.parent
    return False


def _siblings_block(heading: LexborNode, page_url: str) -> LexborNode | None:
    """The first following sibling (before the next heading) holding >= 2 article links."""
    sibling = heading.next
    while sibling is not None:
        if sibling.is_element_node:
            if sibling.tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
                return None
            if len(_article_links(sibling, page_url)) >= 2:
                return sibling
        sibling = sibling.next
    return None


def following_cards(heading: LexborNode, page_url: str) -> list[LexborNode]:
    """Sibling elements after a heading, up to the next heading or non-card element."""
    cards: list[LexborNode] = []
    sibling = heading.next
    while sibling is not None:
        if sibling.is_element_node:
            if sibling.tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
                break
            if not _article_links(sibling, page_url):
                break
            cards.append(sibling)
        sibling = sibling.next
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
    groups: list[list[LexborNode]] = []  # card lists that follow a heading, with no wrapper
    headings: list[LexborNode] = []
    if rules is not None and rules.block:
        blocks.extend(tree.css(rules.block))
    if not blocks:
        for node in tree.css("[class], [id]"):
            if RELATED_MARKUP.search(_classes(node)) and not _in_excluded_region(node):
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
    unique: list[LexborNode] = []
    for block in blocks:
        if any(_contains(other, block) for other in blocks if other.mem_id != block.mem_id):
            continue
        if block.mem_id not in {b.mem_id for b in unique}:
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
        nodes.extend(cards)
        for card in cards:
            for link in read_cards(card, page_url, rules):
                if link.url not in seen:
                    seen.add(link.url)
                    links.append(link)
    return RelatedBlocks(links, nodes)
