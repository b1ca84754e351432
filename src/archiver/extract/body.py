"""Article body candidates: our own DOM walk, trafilatura on the pruned page, JSON-LD text.

Every candidate is a list of paragraphs (plain text, whitespace squashed, a `<br>` kept as one
newline). The extractor chooses between them; nothing here decides which layer wins.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable

from lxml import etree
from selectolax.lexbor import LexborHTMLParser, LexborNode

from archiver.extract.text import squash

LOGGER = logging.getLogger(__name__)

BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
    "ol", "dl", "dt", "dd", "blockquote", "pre", "table", "thead", "tbody", "tfoot", "tr",
    "td", "th", "figure", "figcaption", "header", "footer", "aside", "address", "details",
    "summary", "hr", "center", "form", "fieldset", "caption",
})
SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "title",
                       "iframe", "object", "video", "audio", "picture", "img", "source",
                       "figcaption", "button", "form", "select", "textarea", "input"})
_WORD = re.compile(r"\w+")


def _flush(buffer: list[str], out: list[str]) -> None:
    if not buffer:
        return
    lines = [squash(line) for line in "".join(buffer).split("\n")]
    text = "\n".join(line for line in lines if line)
    if text:
        out.append(text)
    buffer.clear()


def _walk(node: LexborNode, out: list[str], buffer: list[str]) -> None:
    for child in node.iter(include_text=True):
        if child.is_text_node:
            buffer.append(child.text_content or "")
            continue
        tag = child.tag
        if tag is None or tag.startswith("#") or tag in SKIP_TAGS:
            continue
        if tag == "br":
            buffer.append("\n")
        elif tag in BLOCK_TAGS:
            _flush(buffer, out)
            _walk(child, out, buffer)
            _flush(buffer, out)
        else:
            _walk(child, out, buffer)


def node_paragraphs(node: LexborNode) -> list[str]:
    """The paragraphs of a DOM subtree: one per block element, inline text joined."""
    out: list[str] = []
    buffer: list[str] = []
    _walk(node, out, buffer)
    _flush(buffer, out)
    return out


def _element_text(element: etree._Element) -> str:
    parts: list[str] = []

    def visit(el: etree._Element) -> None:
        if el.text:
            parts.append(el.text)
        for child in el:
            if child.tag == "lb":
                parts.append("\n")
            else:
                visit(child)
            if child.tail:
                parts.append(child.tail)

    visit(element)
    lines = [squash(line) for line in "".join(parts).split("\n")]
    return "\n".join(line for line in lines if line)


def xml_paragraphs(body: etree._Element) -> list[str]:
    """Paragraphs of trafilatura's body tree (p, head, list/item, quote, table/row, code)."""
    out: list[str] = []

    def add(el: etree._Element) -> None:
        tag = el.tag
        if tag in {"list", "quote", "table", "div"} and len(el):
            # Containers: each child block is its own paragraph; loose text too.
            if el.text and squash(el.text):
                out.append(squash(el.text))
            for child in el:
                if child.tag in {"item", "p", "row", "list", "quote", "head", "table", "code"} or child.tag == "cell":
                    add(child)
                else:
                    text = _element_text(child)
                    if text:
                        out.append(text)
                if child.tail and squash(child.tail):
                    out.append(squash(child.tail))
            return
        if tag == "row":
            cells = [_element_text(c) for c in el]
            text = " ".join(c for c in cells if c)
            if text:
                out.append(text)
            return
        if tag == "item" and any(c.tag == "list" for c in el):
            head = squash(el.text or "")
            if head:
                out.append(head)
            for child in el:
                add(child)
            return
        if tag == "graphic":
            return
        text = _element_text(el)
        if text:
            out.append(text)

    for element in body:
        add(element)
    return out


def trafilatura_paragraphs(html: str | etree._Element, url: str, *, fast: bool = True,
                           recall: bool = True) -> list[str]:
    """Paragraphs trafilatura finds in (pruned) HTML; empty when it finds nothing."""
    from trafilatura import bare_extraction

    document = bare_extraction(
        html, url=url, fast=fast, favor_recall=recall, include_comments=False,
        include_tables=True, with_metadata=False, output_format="python",
    )
    if document is None:
        return []
    body = getattr(document, "body", None)
    if body is None:
        return []
    return xml_paragraphs(body)


_MARKUP = re.compile(r"<(?:p|div|br|span|a|h\d|em|strong|img|iframe|ul|li|body)\b", re.IGNORECASE)


def text_paragraphs(text: str) -> list[str]:
    """Paragraphs of JSON-LD articleBody text: plain text is split on line breaks; text that
    holds HTML (escaped or not, as some CMSs emit) is parsed and walked like a page."""
    if "&lt;" in text and not _MARKUP.search(text):
        text = html.unescape(text)
    if _MARKUP.search(text):
        fragment = LexborHTMLParser(text)
        for node in fragment.css("script, style, iframe, noscript, figure, img"):
            node.decompose()
        root = fragment.body or fragment.root
        return node_paragraphs(root) if root is not None else []
    chunks = re.split(r"\n\s*\n|\r\n|\n", text.replace("\r\n", "\n"))
    return [squash(c) for c in chunks if squash(c)]


def words(paragraphs: Iterable[str]) -> list[str]:
    return _WORD.findall(" ".join(paragraphs))


def readability_paragraphs(html_text: str) -> list[str]:
    """Paragraphs of the content readability-lxml chooses (its scorer merges like siblings);
    empty when it finds nothing or cannot parse the page."""
    from lxml.etree import ParserError
    from readability import Document
    from readability.readability import Unparseable

    try:
        summary = Document(html_text).summary(html_partial=True)
    except (Unparseable, ParserError, ValueError) as exc:
        LOGGER.debug("readability found no content: %s", exc)
        return []
    root = LexborHTMLParser(summary).body
    return node_paragraphs(root) if root is not None else []
