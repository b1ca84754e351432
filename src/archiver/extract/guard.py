"""Cheap checks on raw markup before it reaches an HTML parser.

A page is read up to its first MAX_TAGS tags (`bounded`): what an HTML extractor does grows with
the page, and some of what it relies on grows faster (libxml2's `//p//text()`, which trafilatura
uses, is quadratic in paragraphs), so a page of a million tags must not be worked through whole.
The article comes first; what a cut loses is the end of a page far larger than any article page.

Deeply nested markup makes HTML tree construction quadratic (a 100,000-deep page takes minutes
in lexbor and lxml alike), so it is refused before parsing. The check follows what the parser
will build, not the raw tags: an end tag closes an element only when one of its name is open
(`'<div></x>' * 200000` nests 200,000 deep: the stray `</x>` closes nothing), void and
implicitly closed elements never nest, and comments and script or style text hold no elements.
Only pages with more tags than the limit (none of the benchmark pages) pay for the scan, which
is linear in the page's length.
"""

from __future__ import annotations

import re
from itertools import islice

MAX_TAGS = 40_000  # four times the tags of the largest of 974 real article pages (9,770)
MAX_DEPTH = 4000  # parsing cost grows with depth squared: ~0.1 s at 4,000, minutes at 100,000
# Elements that never hold others (void), or that the parser closes when the next one opens.
_FLAT = frozenset(
    "area base br col embed hr img input link meta param source track wbr keygen frame "
    "p li dt dd option optgroup tr td th rb rt rtc rp".split()
)
# Elements of which only one is open at a time: a second one closes the first.
_ONE_AT_A_TIME = frozenset("a nobr button form h1 h2 h3 h4 h5 h6".split())
_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
# Formatting elements: their end tag removes them alone and leaves the blocks opened inside them
# open (the adoption agency: '<b><div></b>' * n nests n divs).
_FORMATTING = frozenset("a b big code em font i nobr s small strike strong tt u".split())
# Elements an unrelated end tag cannot close past ('<span><div></span>' leaves both open).
_SPECIAL = frozenset("""
    address applet article aside blockquote body button caption center colgroup details dir div
    dl fieldset figcaption figure footer form frameset h1 h2 h3 h4 h5 h6 head header hgroup html
    listing main marquee menu nav object ol pre search section select summary table tbody
    template tfoot thead ul
""".split())
# Elements whose content is text up to their end tag (or the end of the page).
_RAW_TEXT = ("script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
             "plaintext")
_RAW_END = {name: re.compile(rf"</{name}\b", re.IGNORECASE) for name in _RAW_TEXT}
_TAG = re.compile(r"<(?:(!--)|(/?)([a-zA-Z][a-zA-Z0-9:-]*)([^<>]*))")
_REACH = 64  # open elements an end tag is matched against; beyond, it is taken to close nothing


def _find(names: list[str], wanted: frozenset[str], stop: frozenset[str]) -> int:
    """The index of the nearest open element named in `wanted`, looking down from the top no
    further than `_REACH` elements and not past one named in `stop`; -1 if none."""
    last = len(names) - 1
    for index in range(last, max(-1, last - _REACH), -1):
        name = names[index]
        if name in wanted:
            return index
        if name in stop:
            return -1
    return -1


_NOTHING: frozenset[str] = frozenset()
_ONE = {name: frozenset((name,)) for name in _FORMATTING | _ONE_AT_A_TIME}


def nesting_depth(text: str, stop_at: int = MAX_DEPTH) -> int:
    """The deepest nesting of elements the parser will build, counted up to `stop_at`."""
    names: list[str] = []  # the open elements, bottom first
    count: dict[str, int] = {}  # how many of each name are open
    deepest = 0
    skip = 0  # text before this offset is a comment or raw text: its tags are no elements
    for match in _TAG.finditer(text):
        if match.start() < skip:
            continue
        comment, closing, name, rest = match.groups()
        if comment:  # a comment runs to "-->", or to the end of the page
            close = text.find("-->", match.end())
            if close < 0:
                break
            skip = close + 3
            continue
        name = name.lower()
        if closing:
            if not count.get(name):
                continue  # a stray end tag closes nothing
            if name in _FORMATTING:  # it goes alone; what opened inside it stays open
                index = _find(names, _ONE[name], _NOTHING)
                if index >= 0:
                    count[name] -= 1
                    del names[index]
                continue
            index = _find(names, _ONE.get(name) or frozenset((name,)), _SPECIAL)
        elif name in _RAW_END:
            end = _RAW_END[name].search(text, match.end())
            if end is None:
                break
            skip = end.start()
            continue
        elif name in _FLAT or rest.rstrip().endswith("/"):
            continue
        elif name in _ONE_AT_A_TIME and (count.get(name) or (
                name in _HEADINGS and any(count.get(h) for h in _HEADINGS))):
            index = _find(names, _HEADINGS if name in _HEADINGS else _ONE[name], _NOTHING)
        else:
            index = -1
        if index >= 0:  # pop down to the element closed (by its end tag or a new sibling)
            for popped in names[index:]:
                count[popped] -= 1
            del names[index:]
        if closing:
            continue
        names.append(name)
        count[name] = count.get(name, 0) + 1
        if len(names) > deepest:
            deepest = len(names)
            if deepest >= stop_at:
                break
    return deepest


# Start tags of elements that can nest in themselves: only these can make a page deep (one `a`,
# `button`, `form` or heading is open at a time, so those add a handful of levels at most).
_NESTABLE = re.compile(
    r"<(?!(?:%s)[\s/>])[a-zA-Z]" % "|".join(sorted(_FLAT | _ONE_AT_A_TIME, key=len, reverse=True)),
    re.IGNORECASE,
)


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when the markup nests elements `limit` or more levels deep."""
    if text.count("<") < limit:  # fewer tags than that cannot nest that deep (most pages)
        return False
    if len(_NESTABLE.findall(text)) + len(_ONE_AT_A_TIME) < limit:
        return False  # nor can fewer elements that nest in themselves (nearly all others)
    return nesting_depth(text, limit) >= limit


def bounded(text: str, limit: int = MAX_TAGS) -> str:
    """`text` up to its `limit`-th tag: the rest of a page that long is cut off."""
    if text.count("<") <= limit:
        return text
    cut = next(islice(_OPEN.finditer(text), limit, None))
    return text[: cut.start()]


_OPEN = re.compile("<")
