"""Layered article extraction: site rules, structured data, a learned generic layer, fallback.

    extract_article(content, url, charset=None, rules=None) -> Article

Each field is filled by the first layer that has it: the site's rule file (`selectors/*.toml`),
then structured data (JSON-LD, OpenGraph / article:* meta, rel=canonical), then markup. The
body comes from the site's body selector, else from JSON-LD `articleBody` when it is complete,
else from the generic layer: the page is cut into text blocks (`blocks.py`) and a learned
classifier (`classify.py`, trained on the development sets by `benchmarks/trainbody.py`)
keeps the article's blocks, standfirst, headings, lists, tables and captions included (where
the classifier is in doubt about the page, fast trafilatura's body is taken instead,
`second.py`); else from a walk of the densest paragraph container. A body that the page splits into like
containers is joined first (`split.py`). `Article.extractor` names the layer that gave the
body and `Article.extractor_version` the version of this code, so stored pages can be
re-extracted when either changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from selectolax.lexbor import LexborHTMLParser, LexborNode

from archiver.encoding import decode_html
from archiver.errors import ExtractError
from archiver.extract.assemble import BodyEvidence, assemble_body, drop_title
from archiver.extract.authors import clean_authors, read_authors
from archiver.extract.blocks import Block, PageContext, is_boilerplate, page_blocks
from archiver.extract.body import node_paragraphs, text_paragraphs
from archiver.extract.chrome import (
    ChromeRules,
    find_main,
    find_popups,
    is_teaser_list,
    strip_chrome,
)
from archiver.extract.chrome import _remove as remove_nodes  # outermost first, once each
from archiver.extract.classify import BodyModel, default_model
from archiver.extract.dateline import read_dates
from archiver.extract.dates import machine_date
from archiver.extract.guard import MAX_DEPTH, bounded, too_deep
from archiver.extract.headline import choose_title, clean_title, find_heading
from archiver.extract.metadata import PageMeta, read_metadata
from archiver.extract.nearby import read_nearby
from archiver.extract.patterns import SHORT_BLOCK
from archiver.extract.related import RelatedBlocks, RelatedRules, find_related
from archiver.extract.second import second_body
from archiver.extract.split import join_split_body
from archiver.extract.text import absolute_url, squash
from archiver.models import Article

if TYPE_CHECKING:
    from archiver.rules import SiteRules

__all__ = ["EXTRACTOR_VERSION", "article_blocks", "extract_article"]

EXTRACTOR_VERSION = "2.3.2"  # a short heading between two kept blocks is kept


def _select_text(tree: LexborHTMLParser, selector: str | None) -> str | None:
    if not selector:
        return None
    node = tree.css_first(selector)
    if node is None:
        return None
    if node.tag == "meta":
        return squash(node.attributes.get("content")) or None
    return squash(node.text(deep=True)) or None


def _select_all(tree: LexborHTMLParser, selector: str | None) -> list[str]:
    if not selector:
        return []
    out = []
    for node in tree.css(selector):
        text = node.attributes.get("content") if node.tag == "meta" else node.text(deep=True)
        if squash(text):
            out.append(squash(text))
    return out


def _select_date(tree: LexborHTMLParser, selector: str | None) -> str | None:
    if not selector:
        return None
    node = tree.css_first(selector)
    if node is None:
        return None
    attrs = node.attributes
    for value in (attrs.get("datetime"), attrs.get("content"), node.text(deep=True)):
        date = machine_date(value)
        if date:
            return date
    return None


MAX_TREE_DEPTH = 400  # real pages nest ~30 deep; far deeper is an attack or a broken generator


def _too_deep(tree: LexborHTMLParser) -> bool:
    """Whether any text-bearing element sits deeper than MAX_TREE_DEPTH (walks are capped).

    The chrome and related-link passes cost depth x nodes, so parsed trees this deep are refused;
    `guard.too_deep` already refused, before parsing, markup deep enough to stall the parser."""
    for node in tree.css("p, li, td, a, span, div")[-2000:]:
        depth = 0
        parent = node.parent
        while parent is not None:
            depth += 1
            if depth > MAX_TREE_DEPTH:
                return True
            parent = parent.parent
    return False


def _title_nodes(tree: LexborHTMLParser, title: str) -> list[LexborNode]:
    key = squash(title).lower()
    for node in tree.css("h1"):
        if squash(node.text(deep=True)).lower() == key:
            return [node]
    return []


@dataclass
class _Page:
    """A parsed page and what the body layers need from it."""

    url: str
    base: str
    html: str
    tree: LexborHTMLParser
    meta: PageMeta
    main: LexborNode | None
    rule_body: LexborNode | None
    title: str
    related: RelatedBlocks
    chrome_rules: ChromeRules | None


def _read_page(content: bytes | str, url: str, charset: str | None,
               rules: SiteRules | None) -> tuple[_Page, Article]:
    """Parse a page and fill every Article field but the body."""
    text = decode_html(content, charset)
    if not text.strip():
        raise ExtractError(url, "empty page")
    text = bounded(text)
    if too_deep(text):
        raise ExtractError(
            url, f"markup nests elements over {MAX_DEPTH} levels deep; not parsed (hostile or broken page)"
        )
    tree = LexborHTMLParser(text)
    if tree.body is None or not squash(tree.body.text(deep=True)):
        raise ExtractError(url, "page has no text")
    if _too_deep(tree):
        raise ExtractError(url, f"elements nest more than {MAX_TREE_DEPTH} deep; not an article page")
    base_node = tree.css_first("base[href]")
    base = absolute_url(url, base_node.attributes.get("href")) if base_node else None
    base = base or url
    meta = read_metadata(tree, base)
    article_rules = rules.article if rules is not None else None

    rule_body: LexborNode | None = None
    if article_rules is not None and article_rules.body:
        rule_body = tree.css_first(article_rules.body)
    main = rule_body or join_split_body(tree, find_main(tree))

    title = clean_title(_select_text(tree, article_rules.title if article_rules else None))
    if title:
        heading = find_heading(tree, title)
    else:
        title, heading = choose_title(tree, meta)
    nearby = read_nearby(heading) if heading is not None else None
    subtitle = _select_text(tree, article_rules.subtitle if article_rules else None) or \
        meta.alternative_headline or meta.description
    authors = clean_authors(_select_all(tree, article_rules.authors if article_rules else None)) \
        or read_authors(tree, nearby, meta)
    published, modified = read_dates(tree, nearby, meta, url, text)
    published = _select_date(tree, article_rules.published if article_rules else None) or published
    modified = _select_date(tree, article_rules.modified if article_rules else None) or modified
    section = _select_text(tree, article_rules.section if article_rules else None) or \
        meta.section
    tags = _select_all(tree, article_rules.tags if article_rules else None) or meta.tags
    image = meta.image
    if article_rules is not None and article_rules.image:
        node = tree.css_first(article_rules.image)
        if node is not None:
            attrs = node.attributes
            image = absolute_url(base, attrs.get("src") or attrs.get("content") or
                                 attrs.get("href")) or image

    related_rules = None
    chrome_rules = None
    if rules is not None:
        r = rules.related
        related_rules = RelatedRules(r.block, r.card, r.title, r.url, r.summary)
        chrome_rules = ChromeRules(rules.chrome.drop, rules.chrome.phrases)
    related = find_related(tree, base, main, related_rules)
    page = _Page(url, base, text, tree, meta, main, rule_body, title, related, chrome_rules)
    article = Article(
        url=url,
        title=title,
        body="",
        canonical_url=meta.canonical_url,
        subtitle=subtitle,
        authors=authors,
        published_at=published,
        modified_at=modified,
        language=meta.language,
        site_name=meta.site_name,
        section=section,
        tags=tuple(dict.fromkeys(squash(t) for t in tags if squash(t))),
        image=image,
        related=tuple(related.links),
        extractor="",
        extractor_version=EXTRACTOR_VERSION,
    )
    return page, article


def extract_article(
    content: bytes | str,
    url: str,
    *,
    charset: str | None = None,
    rules: SiteRules | None = None,
    model: BodyModel | None = None,
) -> Article:
    """Extract one article record from a page; raises ExtractError, never returns None.

    `model` is the body classifier of the generic layer (default: the one shipped with the
    package; the training benchmarks pass their own)."""
    page, article = _read_page(content, url, charset, rules)
    if page.rule_body is not None:
        body, extractor = _rule_body(page)
    else:
        body, extractor = [], ""
    if not body:
        body, extractor = _generic_body(page, model or default_model())
    if not body:
        raise ExtractError(url, "no article text found (the page may not be an article)")
    return replace(article, body="\n\n".join(body), extractor=extractor)


def article_blocks(content: bytes | str, url: str, *, charset: str | None = None,
                   rules: SiteRules | None = None) -> tuple[list[Block], BodyEvidence]:
    """The blocks (with features) that the generic layer classifies on this page, and the
    rest of what it assembles the body from; the training benchmarks label and replay these."""
    page, _ = _read_page(content, url, charset, rules)
    blocks = _blocks(page)
    return blocks, _evidence(page)


def _rule_body(page: _Page) -> tuple[list[str], str]:
    """The site rule file's body node, with chrome stripped."""
    assert page.rule_body is not None
    tree, main, title = page.tree, page.main, page.title
    had_title = bool(_title_nodes(tree, title))
    strip_chrome(tree, main, page.chrome_rules, also=page.related.nodes,
                 standfirst=page.meta.description)
    if had_title and main is not None and title and not _title_nodes(tree, title):
        heading = tree.create_node("h1")
        heading.insert_child(title)
        main.insert_before(heading)
    paragraphs = drop_title(node_paragraphs(page.rule_body), title)
    return paragraphs, "site-rules"


def _blocks(page: _Page) -> list[Block]:
    tree = page.tree
    if page.chrome_rules is not None:
        for selector in page.chrome_rules.selectors:
            for node in tree.css(selector):
                node.decompose()
    # Related-link blocks (read as records of their own), hover cards inside sentences and
    # teaser lists inside the body go before the blocks are cut.
    doomed = list(page.related.nodes) + find_popups(tree) + \
        [n for n in tree.css("ul, ol") if is_teaser_list(n)]
    remove_nodes({n.mem_id: n for n in doomed})
    root = tree.body
    if root is None:
        return []
    context = PageContext(
        title=page.title,
        description=page.meta.description or "",
        article_body=page.meta.article_body or "",
        main_id=page.main.mem_id if page.main is not None else None,
    )
    blocks = page_blocks(root, context)
    if page.chrome_rules is not None and page.chrome_rules.phrases:
        phrases = re.compile("(?:" + "|".join(re.escape(squash(p)) for p in
                                               page.chrome_rules.phrases) + ").*",
                             re.IGNORECASE | re.DOTALL)
        blocks = [b for b in blocks if not (len(b.text) <= SHORT_BLOCK and
                                            phrases.fullmatch(b.text))]
    return blocks


def _evidence(page: _Page) -> BodyEvidence:
    structured = text_paragraphs(page.meta.article_body) if page.meta.article_body else []
    main, html = page.main, page.html
    return BodyEvidence(page.title, drop_title(structured, page.title),
                        (lambda: node_paragraphs(main)) if main is not None else list,
                        lambda: second_body(html))


def _generic_body(page: _Page, model: BodyModel) -> tuple[list[str], str]:
    """The blocks the classifier keeps (`assemble.assemble_body` says what else may win)."""
    blocks = _blocks(page)
    texts = [b.text for b in blocks]
    verdicts = model.verdicts([b.features for b in blocks], texts,
                              [is_boilerplate(b) for b in blocks])
    return assemble_body(texts, verdicts, _evidence(page))
