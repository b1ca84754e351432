"""The text a reader sees around the headline, in document order, for datelines and bylines.

    Nearby = read_nearby(heading, before=300, after=700)

Walks the tree from the headline element forwards and backwards, text node by text node,
skipping what is never shown (scripts, styles, templates, hidden elements), and stops after
`before`/`after` characters, so the cost does not depend on the size of the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from selectolax.lexbor import LexborNode

from archiver.extract.text import squash

_UNSEEN = frozenset({"script", "style", "noscript", "template", "svg", "head", "select",
                     "option", "iframe", "textarea", "button"})
MAX_STEPS = 5000  # nodes visited per direction, whatever the markup


@dataclass
class Chunk:
    """One text node near the headline: its text, its node, and its offset in `Nearby.text`."""

    text: str
    node: LexborNode
    start: int = 0


@dataclass
class Nearby:
    """Text before the headline, the headline, and text after it, joined with single spaces;
    `heading_start`/`heading_end` are the headline's offsets in `text`."""

    chunks: list[Chunk] = field(default_factory=list)
    text: str = ""
    heading_start: int = 0
    heading_end: int = 0
    times: list[tuple[int, LexborNode]] = field(default_factory=list)  # (offset, <time> node)

    def chunk_at(self, offset: int) -> Chunk | None:
        for chunk in self.chunks:
            if chunk.start <= offset < chunk.start + len(chunk.text):
                return chunk
        return None


def _hidden(node: LexborNode) -> bool:
    attrs = node.attributes
    if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
        return True
    style = (attrs.get("style") or "").replace(" ", "").lower()
    return "display:none" in style


def _skip(node: LexborNode) -> bool:
    return node.tag in _UNSEEN or (node.is_element_node and _hidden(node))


def _next_after(node: LexborNode) -> LexborNode | None:
    """The next node in document order after `node`'s subtree."""
    current: LexborNode | None = node
    while current is not None:
        if current.next is not None:
            return current.next
        current = current.parent
    return None


def _take(node: LexborNode, out: list[LexborNode]) -> int:
    """Keep a text node that holds text; the characters it adds to the walk."""
    text = squash(node.text_content)
    if not text:
        return 0
    out.append(node)
    return len(text) + 1


def _forward(start: LexborNode, limit: int) -> list[LexborNode]:
    """Text nodes and <time> elements after `start`'s subtree, in document order."""
    out: list[LexborNode] = []
    size = steps = 0
    node = _next_after(start)
    while node is not None and size < limit and steps < MAX_STEPS:
        steps += 1
        if node.is_text_node:
            size += _take(node, out)
        elif node.is_element_node and not _skip(node):
            if node.tag == "time":
                out.append(node)
            if node.child is not None:
                node = node.child
                continue
        node = _next_after(node)
    return out


def _backward(start: LexborNode, limit: int) -> list[LexborNode]:
    """Text nodes and <time> elements before `start`, nearest first (reverse document order)."""
    out: list[LexborNode] = []
    size = steps = 0
    node: LexborNode | None = start
    while node is not None and size < limit and steps < MAX_STEPS:
        steps += 1
        if node.prev is None:
            node = node.parent  # an ancestor holds no text of its own before its children
            if node is None or node.tag in {"body", "html"}:
                break
            continue
        node = node.prev
        while node.is_element_node and not _skip(node) and node.last_child is not None:
            if node.tag == "time":
                out.append(node)
            node = node.last_child
            steps += 1
        if node.is_text_node:
            size += _take(node, out)
        elif node.tag == "time":
            out.append(node)
    return out


def read_nearby(heading: LexborNode, before: int = 300, after: int = 700) -> Nearby:
    """The text around `heading` (about `before` and `after` characters of it)."""
    nearby = Nearby()
    parts: list[str] = []
    offset = 0

    def add(nodes: list[LexborNode]) -> None:
        nonlocal offset
        for node in nodes:
            if not node.is_text_node:
                nearby.times.append((offset, node))
                continue
            text = squash(node.text_content)
            nearby.chunks.append(Chunk(text, node, offset))
            parts.append(text)
            offset += len(text) + 1

    add(list(reversed(_backward(heading, before))))
    nearby.heading_start = offset
    heading_text = squash(heading.text(deep=True))
    if heading_text:
        nearby.chunks.append(Chunk(heading_text, heading, offset))
        parts.append(heading_text)
        offset += len(heading_text) + 1
    nearby.heading_end = offset
    add(_forward(heading, after))
    nearby.text = " ".join(parts)
    return nearby
