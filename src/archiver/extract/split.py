"""Join an article body that the page splits into several same-classed containers.

Some CMSs cut the body into chunks (`<div class="article-body">` ... an ad rail ...
`<div class="article-body">`) so that ads can sit between them. Extractors that take one
container then keep only the first chunk. A chunk is joined to the main node when it has the
main node's exact tag and class, sits in a wrapper like the main node's (the same template
slot repeated), carries paragraph text, and belongs to the same article: no
`<article>` element and no second `<h1>` separates the two (that is what an appended,
infinite-scroll article looks like).
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

_MIN_CHUNK_TEXT = 80  # characters of paragraph text that make a chunk body text


def _ancestors(node: LexborNode) -> list[LexborNode]:
    out: list[LexborNode] = []
    parent = node.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


def _signature(node: LexborNode | None) -> tuple[str, str]:
    if node is None:
        return ("", "")
    return (node.tag or "", " ".join((node.attributes.get("class") or "").split()))


def _paragraph_text(node: LexborNode) -> int:
    return sum(len(p.text(deep=True).strip()) for p in node.css("p"))


def _same_article(main_up: list[LexborNode], chunk: LexborNode) -> bool:
    """Whether `chunk` and `main` sit in one article: walking up from each to their lowest
    common ancestor passes no `<article>`, and that ancestor holds at most one h1."""
    ids = {n.mem_id: i for i, n in enumerate(main_up)}
    node = chunk.parent
    while node is not None and node.mem_id not in ids:
        if node.tag == "article":
            return False
        node = node.parent
    if node is None:
        return False
    if any(n.tag == "article" for n in main_up[: ids[node.mem_id]]):
        return False
    return len(node.css("h1")) <= 1


def split_chunks(tree: LexborHTMLParser, main: LexborNode) -> list[LexborNode]:
    """Every chunk of the body `main` belongs to, `main` included, in document order: one
    node for most pages."""
    classes = (main.attributes.get("class") or "").split()
    if main.tag is None or not classes:
        return [main]  # a bare <div> says nothing about being one of a series
    main_up = _ancestors(main)
    up_ids = {n.mem_id for n in main_up}
    parent_signature = _signature(main.parent)
    chunks: list[LexborNode] = []
    # Walk the tree rather than build a selector from the page's own class tokens: utility
    # classes (`md:mr-[25%]`, `u-mt@s`, `!hidden`) are not valid CSS selectors.
    for node in tree.root.traverse() if tree.root is not None else ():
        if node.tag != main.tag:
            continue
        if node.mem_id == main.mem_id:
            chunks.append(node)
            continue
        if node.mem_id in up_ids or (node.attributes.get("class") or "").split() != classes:
            continue
        if any(a.mem_id == main.mem_id for a in _ancestors(node)):
            continue
        if _signature(node.parent) != parent_signature:
            continue  # a repeated template slot sits in a like wrapper (or the same one)
        if _paragraph_text(node) >= _MIN_CHUNK_TEXT and _same_article(main_up, node):
            chunks.append(node)
    return chunks


def join_split_body(tree: LexborHTMLParser, main: LexborNode | None) -> LexborNode | None:
    """Move the body's chunks into the first of them; returns the node that holds the body
    now (`main` itself when the body is in one piece)."""
    if main is None:
        return None
    chunks = split_chunks(tree, main)
    if len(chunks) < 2:
        return main
    first = chunks[0]
    for chunk in chunks[1:]:
        for child in list(chunk.iter(include_text=True)):
            first.insert_child(child)  # selectolax inserts a copy
        chunk.decompose()
    return first
