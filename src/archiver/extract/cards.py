"""Reading one related-article card: its title and its summary, wherever the page puts them.

A card's title is a link in a heading or title-classed element, else a heading, else its longest
link text; its summary an excerpt-classed element, a paragraph that is not the title, the bare
text beside the link (`<li><a>Title</a><br>Summary</li>`), or, where the card is only its link,
the paragraph after it, up to the next card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborNode

from archiver.extract.patterns import CHROME_PHRASE, SUMMARY_MARKUP, TITLE_MARKUP
from archiver.extract.text import is_date_text, squash

CARD_TEXT = 600  # characters of text one related card may hold, on average
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


@dataclass(frozen=True)
class RelatedRules:
    """Related-block selectors from a site file."""

    block: str | None = None
    card: str | None = None
    title: str | None = None
    url: str | None = None
    summary: str | None = None


def classes(node: LexborNode) -> str:
    attrs = node.attributes
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()


def _link_title(link: LexborNode) -> str:
    text = squash(link.text(deep=True))
    if text and not CHROME_PHRASE.fullmatch(text):
        return text
    return ""


def card_title(links: list[LexborNode], card: LexborNode, rules: RelatedRules | None) -> str:
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
                    TITLE_MARKUP.search(classes(parent)):
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


def summary_text(text: str, title: str) -> bool:
    """Whether a block of text can be a card's summary (not its title, a date, or chrome)."""
    if len(text) < 25 or text == title or (title in text and len(text) < len(title) + 15):
        return False
    return not (CHROME_PHRASE.fullmatch(text) or is_date_text(text))


def card_summary(card: LexborNode, title: str, rules: RelatedRules | None) -> str | None:
    if rules is not None and rules.summary:
        node = card.css_first(rules.summary)
        text = squash(node.text(deep=True)) if node is not None else ""
        return text or None
    for node in card.css("[class]"):
        if SUMMARY_MARKUP.search(classes(node)):
            text = squash(node.text(deep=True))
            if text and text != title:
                return text
    for node in card.css("p, div, span"):
        if node.css_first("p, div") is not None and node.tag != "p":
            continue
        if node.css_first("a[href]") is not None and node.tag != "p":
            continue
        text = squash(node.text(deep=True))
        if summary_text(text, title):
            return text
    return _loose_text(card, title)


def _loose_text(card: LexborNode, title: str) -> str | None:
    """A summary written as bare text beside the card's link (`<li><a>Title</a><br>Summary</li>`):
    the card's text without its links' text."""
    text = squash(card.text(deep=True))
    if len(text) > 4 * CARD_TEXT:
        return None
    for link in card.css("a"):
        linked = squash(link.text(deep=True))
        if linked:
            text = text.replace(linked, " ", 1)
    text = squash(text).strip(" -–—|·•:")
    return text if summary_text(text, title) else None


def summary_after(card: LexborNode, title: str, starts: frozenset[int]) -> str | None:
    """A summary that follows its card instead of sitting in it, up to the next card
    (`<h4><a>Title</a></h4><p>Summary</p><h4>...`); `starts` are the mem_ids of the block's
    article links, each of which starts a card."""
    sibling = card.next
    for _ in range(4):
        if sibling is None:
            return None
        if sibling.is_element_node:
            if sibling.tag in HEADINGS or sibling.mem_id in starts or any(
                    a.mem_id in starts for a in sibling.css("a[href]")):
                return None
            raw = sibling.text(deep=True)
            text = squash(raw) if len(raw) <= 2 * CARD_TEXT else ""
        else:
            text = squash(sibling.text_content) if sibling.is_text_node else ""
        if summary_text(text, title):
            return text
        sibling = sibling.next
    return None
