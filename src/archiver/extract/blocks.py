"""Cut a page into text blocks and describe each with DOM and text features.

    page_blocks(tree, context) -> list[Block]

A block is the text between two block-level boundaries (a paragraph, a heading, a list item, a
table cell, a caption, loose text in a `<div>`), in document order. Its features say what the
learned body classifier (`classify.py`) needs to tell article text from page chrome on pages no
one has seen: the block's own text (length, link density, punctuation, boilerplate phrases),
its markup (tag, the class/id vocabulary of its ancestors by distance, landmark elements such
as `<article>`, `<aside>` or `<footer>`), where it sits (position in the page, relative to the
title heading and to the densest paragraph container) and what the page's other evidence says
(the meta description, a JSON-LD articleBody), and how many elements look like each of its
three nearest ancestors (`ancestry.py`). Nothing here is tied to a site: class names
are read through a fixed vocabulary of word stems.

One pass over the tree (selectolax's flat traversal, with a stack rebuilt from parent links)
and one over the blocks: linear in the size of the page.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from selectolax.lexbor import LexborNode

from archiver.extract.ancestry import ANCESTOR_FEATURES, ancestor_features
from archiver.extract.patterns import CHROME_PHRASE, CONSENT, RELATED_HEADING, SHARE_HOSTS
from archiver.extract.text import DATE_HINT, byline_rest, is_date_text, squash
from archiver.extract.vocabulary import (
    CATEGORIES,
    FAR,
    LANDMARK_INDEX,
    LANDMARKS,
    OWNER_INDEX,
    OWNER_TAGS,
    markup_categories,
)

BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
    "ol", "dl", "dt", "dd", "blockquote", "pre", "table", "thead", "tbody", "tfoot", "tr",
    "td", "th", "figure", "figcaption", "header", "footer", "aside", "address", "details",
    "summary", "hr", "center", "form", "fieldset", "caption", "nav",
})
SKIP_TAGS = frozenset({
    "script", "style", "noscript", "template", "svg", "head", "title", "iframe", "object",
    "embed", "video", "audio", "picture", "img", "source", "button", "select", "textarea",
    "input", "option", "nav", "menu", "dialog", "canvas", "map", "math", "label",
})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_WORD = re.compile(r"\w+")



@dataclass
class _Element:
    serial: int
    tag: str
    block: bool
    skip: bool
    depth: int
    nearest: list[int]  # per category, then per landmark: depth of the nearest one, or -1
    in_link: bool
    in_pre: bool  # line breaks in its text are kept (elsewhere they are spaces, as rendered)


@dataclass
class Block:
    """One block of text, its owner element's tag, its element path and its features."""

    text: str
    tag: str
    path: tuple[int, ...]
    owner: int = 0  # index in `path` of the owner element
    chars: int = 0
    link_chars: int = 0
    nearest: list[int] = field(default_factory=list)
    depth: int = 0
    links: int = 0
    share_links: int = 0  # links to share intents (facebook.com/sharer, mailto:)
    features: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class PageContext:
    """What the page says about its article apart from its blocks."""

    title: str = ""
    description: str = ""
    article_body: str = ""
    main_id: int | None = None  # mem_id of the densest paragraph container (`find_main`)


def is_share_link(href: str) -> bool:
    """A link to a share intent (a social network's share page, or mailto:)."""
    href = href.strip()
    if href.startswith("mailto:"):
        return True
    if "://" not in href:
        return False
    try:
        host = urlsplit(href).hostname or ""
    except ValueError:
        return False
    return bool(SHARE_HOSTS.search(host))


def _is_hidden(attrs: dict[str, str | None]) -> bool:
    if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
        return True
    style = attrs.get("style")
    return bool(style and _HIDDEN_STYLE.search(style))


def _cut(root: LexborNode, context: PageContext
         ) -> tuple[list[Block], set[int], list[tuple[str, str]]]:
    """The blocks under `root` in document order, the serials of elements in `main` and each
    element's tag and class/id markup by serial."""
    n_categories = len(CATEGORIES)
    blocks: list[Block] = []
    stack: list[_Element] = []
    ids: list[int] = []  # mem_ids of the stack's elements
    buffer: list[str] = []
    link_chars = 0
    links = [0, 0]  # links, share links in the block being read
    in_main: set[int] = set()
    elements: list[tuple[str, str]] = []
    serial = 0

    def flush() -> None:
        nonlocal link_chars
        if buffer:
            lines = [squash(line) for line in "".join(buffer).split("\n")]
            text = "\n".join(line for line in lines if line)
            buffer.clear()
            if text:
                owner = next((i for i in range(len(stack) - 1, -1, -1) if stack[i].block), 0)
                top = stack[-1]
                blocks.append(Block(text, stack[owner].tag, tuple(e.serial for e in stack),
                                    owner, len(text), min(link_chars, len(text)),
                                    top.nearest, top.depth, links[0], links[1]))
        link_chars = 0
        links[0] = links[1] = 0

    for node in root.traverse(include_text=True):
        parent = node.parent
        parent_id = parent.mem_id if parent is not None else None
        while ids and ids[-1] != parent_id:
            if stack[-1].block:
                flush()
            ids.pop()
            stack.pop()
        tag = node.tag or ""
        if stack and stack[-1].skip:
            if not node.is_text_node:
                stack.append(stack[-1])
                ids.append(node.mem_id)
            continue
        if node.is_text_node:
            value = node.text_content or ""
            buffer.append(value if stack and stack[-1].in_pre else value.replace("\n", " "))
            if stack and stack[-1].in_link:
                link_chars += len(value.strip())
            continue
        if tag.startswith(("-", "_", "#")) or tag == "!doctype":
            continue
        if tag == "br":
            buffer.append("\n")
            continue
        depth = len(stack)
        nearest = list(stack[-1].nearest) if stack else [-1] * (n_categories + len(LANDMARKS))
        attrs = node.attributes
        if tag == "a" and attrs.get("href"):
            links[0] += 1
            links[1] += is_share_link(attrs.get("href") or "")
        markup = " ".join(v for v in (attrs.get("class"), attrs.get("id")) if v)
        if markup:
            for index in markup_categories(markup):
                nearest[index] = depth
        landmark = LANDMARK_INDEX.get(tag)
        if landmark is not None:
            nearest[n_categories + landmark] = depth
        if attrs and _is_hidden(attrs):
            nearest[n_categories + LANDMARK_INDEX["hidden"]] = depth
        block = tag in BLOCK_TAGS
        if block:
            flush()
        element = _Element(serial, tag, block, tag in SKIP_TAGS, depth, nearest,
                           tag == "a" or bool(stack and stack[-1].in_link),
                           tag == "pre" or bool(stack and stack[-1].in_pre))
        if node.mem_id == context.main_id:
            in_main.add(serial)
        elements.append((tag, markup))
        serial += 1
        stack.append(element)
        ids.append(node.mem_id)
    while stack:
        if stack[-1].block or len(stack) == 1:
            flush()
        stack.pop()
    return blocks, in_main, elements


_BY = re.compile(r"(?:by|von|par|por|door|di|av|de)\s", re.IGNORECASE)
def is_byline(text: str) -> bool:
    """A short block that is a byline ("By Jane Roe | July 10, 2025"), perhaps with date
    lines under it (which, like a <time> element, make a longer tail a byline's)."""
    if len(text) > 200:
        return False
    first, *lines = text.split("\n")
    rest = byline_rest(first)
    if rest is None or not all(is_date_text(line) for line in lines):
        return False
    return not rest.strip() or bool(lines) or bool(DATE_HINT.search(rest))


_SENTENCE_END = frozenset('.!?"”»)…:')
_PUNCT = re.compile(r"[.,;:!?]")


def _grams(words: Sequence[str]) -> set[tuple[str, ...]]:
    if len(words) < 4:
        return {tuple(words)} if words else set()
    return set(zip(words, words[1:], words[2:], words[3:]))


def _coverage(words: Sequence[str], grams: set[tuple[str, ...]]) -> float:
    mine = _grams(words)
    if not mine:
        return 0.0
    return sum(1 for g in mine if g in grams) / len(mine)


def _is_share_block(block: Block) -> bool:
    return block.chars <= 280 and block.links >= 2 and block.share_links == block.links


def _text_features(block: Block) -> list[float]:
    text, chars, link_chars = block.text, block.chars, block.link_chars
    words = _WORD.findall(text)
    n_words = len(words)
    letters = sum(map(str.isalpha, text))
    upper = sum(map(str.isupper, text))
    digits = sum(map(str.isdigit, text))
    short = chars <= 140
    low = text.lower()
    return [
        math.log1p(chars),
        math.log1p(n_words),
        link_chars / chars if chars else 0.0,
        len(_PUNCT.findall(text)) / n_words if n_words else 0.0,
        text.count(",") / n_words if n_words else 0.0,
        float(text[-1] in _SENTENCE_END),
        float(text[:1].isupper()),
        digits / chars if chars else 0.0,
        upper / letters if letters else 0.0,
        sum(len(w) for w in words) / n_words if n_words else 0.0,
        float(text.count("\n")),
        float(short and bool(CHROME_PHRASE.fullmatch(text))),
        float(short and bool(RELATED_HEADING.fullmatch(text))),
        float(is_date_text(text)),
        float("©" in text or "copyright" in low),
        float(short and bool(_BY.match(text))),
        float(text.endswith(":")),
        float(text.count("|") + text.count("•") + text.count("·")),
        float(short and is_byline(text)),
        float(chars <= 600 and bool(CONSENT.search(text))),
        math.log1p(block.links),
        float(_is_share_block(block)),
    ]


TEXT_FEATURES = ("log_chars", "log_words", "link_density", "punct_per_word", "commas_per_word",
                 "ends_sentence", "starts_upper", "digit_ratio", "upper_ratio", "word_length",
                 "line_breaks", "chrome_phrase", "related_heading", "date_line", "copyright",
                 "by_line", "ends_colon", "separators", "byline", "consent", "links", "share_block")
NEIGHBOUR_FEATURES = ("log_chars", "link_density", "is_p", "same_group")
FEATURE_NAMES: tuple[str, ...] = (
    TEXT_FEATURES
    + tuple(f"tag_{t}" for t in OWNER_TAGS)
    + tuple(f"class_{c}" for c in CATEGORIES)
    + tuple(f"in_{m}" for m in LANDMARKS)
    + ("depth", "position", "chars_before", "in_densest", "in_best", "group_score",
       "is_title", "after_title", "since_title", "title_kinship",
       "group_share", "group_link_density", "group_blocks", "group_p_share",
       "grand_share", "grand_link_density",
       "description", "json_ld", "duplicates", "page_blocks", "page_chars", "has_json_ld")
    + tuple(f"prev_{n}" for n in NEIGHBOUR_FEATURES)
    + tuple(f"next_{n}" for n in NEIGHBOUR_FEATURES)
    + ANCESTOR_FEATURES
)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def page_blocks(root: LexborNode, context: PageContext) -> list[Block]:
    """The blocks of the page under `root`, each with its `features` (see FEATURE_NAMES)."""
    blocks, in_main, elements = _cut(root, context)
    if not blocks:
        return blocks
    n_blocks = len(blocks)
    total = sum(b.chars for b in blocks) or 1
    # Per element (by serial): text, link text, blocks and paragraph text in its subtree.
    size = max(max(b.path) for b in blocks) + 1
    chars_by = [0] * size
    links_by = [0] * size
    count_by = [0] * size
    p_by = [0] * size
    score_by: defaultdict[int, float] = defaultdict(float)  # readability-style, per container
    for b in blocks:
        chars, link_chars, is_p = b.chars, b.link_chars, b.tag == "p"
        for serial in b.path:
            chars_by[serial] += chars
            links_by[serial] += link_chars
            count_by[serial] += 1
            if is_p:
                p_by[serial] += chars
        if b.tag in {"p", "pre", "td", "div", "blockquote"} and b.chars >= 25:
            score = 1 + b.text.count(",") + min(b.chars / 100, 3)
            for step, share in ((1, 1.0), (2, 0.5), (3, 0.25)):
                if b.owner >= step:
                    score_by[b.path[b.owner - step]] += score * share
    best, top_score = max(score_by.items(), key=lambda kv: kv[1]) if score_by else (-1, 0.0)
    best_score = float(top_score) or 1.0

    title_key = squash(context.title).lower()
    title_at = next((i for i, b in enumerate(blocks) if title_key and b.tag == "h1"
                     and b.text.lower() == title_key), None)
    if title_at is None and title_key:
        title_at = next((i for i, b in enumerate(blocks) if b.text.lower() == title_key), None)
    title_path = blocks[title_at].path if title_at is not None else ()
    description = squash(context.description)
    body_grams = _grams(_WORD.findall(context.article_body)) if context.article_body else set()
    repeats = Counter(b.text for b in blocks)
    main_serial = min(in_main) if in_main else -1

    rows: list[list[float]] = []
    before = 0
    for i, b in enumerate(blocks):
        row = _text_features(b)
        owner = [0.0] * len(OWNER_TAGS)
        owner[OWNER_INDEX.get(b.tag, OWNER_INDEX["other"])] = 1.0
        row += owner
        row += [float(b.depth - d) if d >= 0 else FAR for d in b.nearest]
        group = b.path[b.owner - 1] if b.owner >= 1 else b.path[b.owner]
        grand = b.path[b.owner - 2] if b.owner >= 2 else group
        if title_at is None:
            title_row = [0.0, 0.0, -1.0, 0.0]
        else:
            kin = _common_prefix(b.path, title_path) / max(len(b.path), 1)
            title_row = [float(i == title_at), float(i > title_at),
                         float(min(i - title_at, 50)) if i > title_at else -1.0, kin]
        described = bool(description) and b.chars >= 30 and (
            b.text == description or description.startswith(b.text.rstrip(".…"))
            or b.text.startswith(description.rstrip(".…")))
        row += [
            float(b.depth),
            i / n_blocks,
            before / total,
            float(main_serial in b.path),
            float(best in b.path),
            max(score_by.get(s, 0.0) for s in b.path[max(0, b.owner - 3): b.owner + 1])
            / best_score,
            *title_row,
            chars_by[group] / total,
            links_by[group] / chars_by[group] if chars_by[group] else 0.0,
            math.log1p(count_by[group]),
            p_by[group] / chars_by[group] if chars_by[group] else 0.0,
            chars_by[grand] / total,
            links_by[grand] / chars_by[grand] if chars_by[grand] else 0.0,
            float(described),
            _coverage(_WORD.findall(b.text), body_grams) if body_grams
            else -1.0,
            float(repeats[b.text] - 1),
            math.log1p(n_blocks),
            math.log1p(total),
            float(bool(body_grams)),
        ]
        before += b.chars
        rows.append(row)
        b.features = row
    for i, b in enumerate(blocks):
        group = b.path[b.owner - 1] if b.owner >= 1 else -1
        for j in (i - 1, i + 1):
            if 0 <= j < n_blocks:
                o = blocks[j]
                o_group = o.path[o.owner - 1] if o.owner >= 1 else -2
                b.features += [math.log1p(o.chars), o.link_chars / o.chars if o.chars else 0.0,
                               float(o.tag == "p"), float(o_group == group)]
            else:
                b.features += [-1.0, -1.0, -1.0, -1.0]
    lineages = [(b.path, b.owner) for b in blocks]
    for b, row in zip(blocks, ancestor_features(lineages, elements, chars_by, links_by,
                                                count_by, total)):
        b.features += row
    return blocks


def is_boilerplate(block: Block) -> bool:
    """Blocks never kept whatever the classifier says: a byline, a bare date line, a short
    block whose whole text is a boilerplate phrase ("Share this story", "Advertisement") or
    that is a cookie notice, a line of share links."""
    text = block.text
    return _is_share_block(block) or len(text) <= 140 and (
        is_byline(text) or is_date_text(text) or bool(CHROME_PHRASE.fullmatch(text))
        or bool(CONSENT.search(text)))
