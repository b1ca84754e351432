"""Paragraphs of a DOM subtree (site-rule bodies, the fallback) and of JSON-LD articleBody.

Every result is a list of paragraphs (plain text, whitespace squashed, a `<br>` kept as one
newline). The extractor chooses between layers; nothing here decides which layer wins.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from archiver.extract.text import squash

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
