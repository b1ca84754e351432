"""Who wrote the article: structured data, meta tags, the byline a reader sees, author markup.

    authors = read_authors(tree, nearby, meta)  # ("Jane Doe", "John Roe")

Evidence, in order: people named as the author in JSON-LD; author meta tags; the visible
byline near the headline ("By Jane Doe and John Roe", "Written by: Jane Doe", a name in an
element marked as the author's); author markup anywhere (itemprop="author", rel="author");
organisations named as the author last. Names are cleaned one by one: no "By", no dates, no
job titles, no URLs or e-mail addresses, each name once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from archiver.extract.metadata import PageMeta
from archiver.extract.nearby import Nearby
from archiver.extract.patterns import AUTHOR_PREFIX
from archiver.extract.text import squash

_DATEISH = re.compile(
    r"\b(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}|"
    r"\d{1,2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*|"
    r"(?:updated|published|posted|last updated|on)\s+(?:\w+\s+)?\d.*|"
    r"on\s+(?:mon|tues|wednes|thurs|fri|satur|sun)day\b.*)",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"\s*(?:,|;|\||•|·|/|&|\band\b|\bund\b|\bet\b|\by\b|\be\b|\ben\b|\bog\b|\boch\b)\s*",
                    re.IGNORECASE)
# "Author: ", "Written by", "By": a byline's label (the name follows it).
_LABEL = re.compile(
    r"^(?:(?:written|posted|reported|published|words|text|story|article|compiled|created)\s+)?"
    r"(?:by|von|par|por|door|di|av|przez|от)\b\s*:?\s*|"
    r"^(?:authors?|autor(?:in|es)?|auteur|autore|writer|byline|verfasser)\b\s*:?\s*",
    re.IGNORECASE,
)
# Names after these are not the article's authors.
_OTHER_ROLE = re.compile(
    r"(?:review(?:ed)?|fact[- ]?check(?:ed)?|photo(?:s|graph(?:s|y|ed)?)?|illustrat\w*|image|"
    r"video|edit(?:ed)?|translat\w*|sponsored|presented|powered|designed|developed)\s*(?:by)?\s*:?$",
    re.IGNORECASE,
)
_ROLE_WORDS = frozenset("""
    editor editors reporter reporters writer writers correspondent contributor contributors
    columnist journalist producer director founder co-founder cofounder ceo cto cfo coo cmo
    president manager coordinator strategist specialist analyst consultant expert officer head
    intern photographer senior staff chief contributing managing associate deputy executive lead
    freelance guest editorial author professor lecturer researcher fellow partner attorney
    lawyer dietitian nutritionist physician doctor nurse engineer developer designer marketer
    reviewer former
""".split())
_NOT_NAMES = frozenset("""
    share tweet email print comments comment menu home search subscribe login sign read more
    follow view all posts articles profile admin administrator guest anonymous unknown staff
    team by the and name undefined null none webmaster author nama nom nombre naam navn
""".split()) | {"sign in", "log in", "table of contents", "read more", "view all", "meet our",
                "about the author", "more from", "contact us"}
# News agencies credited beside the writers of a story: a credit, not an author, when people are
# named too.
_AGENCIES = frozenset(name.strip() for name in """
    associated press|the associated press|ap|reuters|thomson reuters|afp|agence france-presse|
    dpa|deutsche presse-agentur|upi|united press international|pa|pa media|press association|
    ansa|efe|xinhua|kyodo|kyodo news|cnn wire|bloomberg news|tass|anadolu agency
""".split("|"))
# A name never ends in a preposition ("Reviewed by", "Updated on") nor holds one of these.
_DANGLING = frozenset("by on at in of for from with to via".split())
# A template's placeholder left in the page ("page.head.extra.author", "{{ author }}").
_IDENTIFIER = re.compile(r"^[\w-]+(?:\.[\w-]+){3,}$|\{\{|\$\{")
# Post-nominal letters: degrees and credentials written after a name.
_CREDENTIAL = re.compile(r"[A-Z]{2,5}|Ph\.?\s?D|M\.?D|Dr|Jr|Sr|I{2,3}|[A-Z]\.(?:[A-Z]\.)+|[A-Z]+-[A-Z]+(?: \d+)?")
# "Doe, Jane": one family name, a comma, given names (citation style), written back in order.
_FAMILY_FIRST = re.compile(r"^([^\W\d_][\w'’-]*[a-z][\w'’-]*),\s+"
                           r"([^\W\d_][\w.'’-]*[a-z][\w.'’-]*(?:\s+[^\W\d_][\w.'’-]*){0,2})$")
_AUTHOR_MARKUP = re.compile(r"author|byline|writer|contributor|creator", re.IGNORECASE)
_AUTHOR_HREF = re.compile(r"/(?:authors?|writers?|people|staff|profiles?|contributors?|team|"
                          r"journalists?|reporters?|columnists?|autor(?:en)?|auteurs?)/",
                          re.IGNORECASE)
_MARKUP_SELECTOR = ('[itemprop~="author"], a[rel~="author"], [class*="byline" i], '
                    '[class*="author" i], [rel="author"]')
BYLINE_AFTER = 450  # characters after the headline where a byline may sit
BYLINE_BEFORE = 200
MAX_NAMES = 12


def clean_author(name: str) -> str | None:
    """One author name without "By ", dates, job titles, e-mail addresses or URLs; None if
    nothing name-like is left."""
    text = squash(name)
    if not text or "://" in text or text.startswith("www.") or "@" in text.strip("@ "):
        return None
    text = _LABEL.sub("", AUTHOR_PREFIX.sub("", text))
    match = _DATEISH.search(text)
    if match:
        text = text[: match.start()]
    text = re.sub(r"\s*\((?:[^)]*\b(?:" + "|".join(sorted(_ROLE_WORDS)) + r")\b[^)]*)\)", "",
                  text, flags=re.IGNORECASE)
    words = text.split()
    for i, word in enumerate(words):
        if i >= 2 and word.lower().strip(",.") in _ROLE_WORDS:
            words = words[:i]
            break
    text = " ".join(words).strip(" ,;|:-–—·•")
    if not text or len(text) > 80 or not re.search(r"[^\W\d_]", text) or ":" in text:
        return None
    lowered = [w.lower() for w in text.split()]
    if lowered[-1] in _DANGLING or lowered[0] in _DANGLING or "by" in lowered or \
            all(w in _ROLE_WORDS for w in lowered) or _IDENTIFIER.match(text):
        return None
    if sum(ch.isdigit() for ch in text) > 2 or text.lower() in _NOT_NAMES:
        return None
    return text


def clean_authors(values: Iterable[str]) -> tuple[str, ...]:
    """Author names from raw strings: labels dropped, lists split, duplicates removed."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        value = _LABEL.sub("", AUTHOR_PREFIX.sub("", squash(value)))
        if "://" in value or value.startswith("www."):
            continue
        family_first = _FAMILY_FIRST.match(value)
        if family_first and not {family_first.group(1).lower(),
                                 family_first.group(2).split()[-1].lower()} & _ROLE_WORDS:
            value = f"{family_first.group(2)} {family_first.group(1)}"
        named = False
        for part in _SPLIT.split(value):
            if named and part.split() and all(_CREDENTIAL.fullmatch(token.strip(".,"))
                                              for token in part.split()):
                continue  # "Jane Roe, MS, RDN": letters after a name are not more names
            name = clean_author(part)
            if name and name.casefold() not in seen:
                seen.add(name.casefold())
                out.append(name)
                named = " " in name  # a person's name: what follows may be their letters
    return tuple(out[:MAX_NAMES])


# Lower-case words inside family names ("Marna van der Merwe", "Ana de la Cruz").
_PARTICLES = frozenset({"van", "der", "den", "de", "del", "della", "la", "le", "du", "da", "das",
                        "dos", "di", "von", "zu", "bin", "al", "ter", "ten"})
# A title before a name, left out when two lists of names are compared.
_HONORIFIC = re.compile(r"^(?:dr|prof|professor|mr|mrs|ms|mx|sir|dame|rev)\.?\s+", re.IGNORECASE)


def _name_like(text: str) -> bool:
    """Whether a short text reads as one or more personal names ("Jane Doe", "J. R. Roe")."""
    if not text or len(text) > 80 or any(ch.isdigit() for ch in text):
        return False
    words = [w for w in re.split(r"[\s,&]+", text) if w and w.lower() not in {"and", "und", "et"}]
    if not 1 <= len(words) <= 10 or text.rstrip()[-1:] in "!?:":
        return False
    capitalised = sum(1 for w in words if w[:1].isupper() or w in _PARTICLES)
    return capitalised >= max(1, len(words) - 1) and text.lower() not in _NOT_NAMES


def _marked_as_author(node: LexborNode) -> bool:
    """Whether a text node sits in an element marked as the author's (class, itemprop, rel,
    or a link to an author page), within a few levels."""
    element = node.parent
    for _ in range(4):
        if element is None or element.tag in {"body", "html", "article", "main"}:
            return False
        attrs = element.attributes
        marks = " ".join(filter(None, (attrs.get("class"), attrs.get("id"), attrs.get("itemprop"),
                                       attrs.get("rel"))))
        if _AUTHOR_MARKUP.search(marks):
            return True
        if element.tag == "a" and _AUTHOR_HREF.search(attrs.get("href") or ""):
            return True
        element = element.parent
    return False


def byline_names(nearby: Nearby) -> list[str]:
    """Names in the visible byline near the headline: after a label ("By", "Author:") or in an
    element marked as the author's."""
    chunks = [c for c in nearby.chunks
              if nearby.heading_start - BYLINE_BEFORE <= c.start <= nearby.heading_end + BYLINE_AFTER
              and c.node is not None and c.start != nearby.heading_start]
    for i, chunk in enumerate(chunks):
        label = _LABEL.match(chunk.text)
        if label is None or (i and _OTHER_ROLE.search(chunks[i - 1].text)):
            continue
        rest = chunk.text[label.end():].strip()
        if rest:
            names = clean_authors([rest])
            if names and _name_like(", ".join(names)):
                return list(names)
            continue
        # "By" alone: the names are the chunks that follow ("Jane Doe", "and", "John Roe"),
        # each after the first joined by a separator (what follows the last name with none,
        # a section or a photo credit in the same line, is not a name).
        found: list[str] = []
        joined = True
        for follow in chunks[i + 1: i + 6]:
            if follow.text.lower() in {"and", "&", ",", "und", "et", "y"}:
                joined = True
                continue
            if not joined or not _name_like(follow.text):
                break
            found.append(follow.text)
            joined = False
        if found:
            return list(clean_authors(found))
    marked: list[str] = []
    for i, chunk in enumerate(chunks):
        if i and _OTHER_ROLE.search(chunks[i - 1].text) or _OTHER_ROLE.search(chunk.text):
            if marked:
                break  # "Reviewed by ...": the names after it are not the authors
            continue
        if _marked_as_author(chunk.node) and _name_like(chunk.text) and \
                not _LABEL.fullmatch(chunk.text):
            marked.append(chunk.text)
    return list(clean_authors(marked[:3]))


def markup_names(tree: LexborHTMLParser) -> list[str]:
    """Names in author markup anywhere on the page (itemprop="author", rel="author", an
    element whose class says author or byline): the first name-like text in each."""
    found: list[str] = []
    for node in tree.css(_MARKUP_SELECTOR)[:30]:
        content = node.attributes.get("content")
        if node.tag == "meta" or content:
            if content and _name_like(squash(content)):
                found.append(squash(content))
            continue
        named = node.css_first('[itemprop="name"]')
        texts = [squash(named.text(deep=True))] if named is not None else \
            [squash(t) for t in node.text(deep=True, separator="\n").split("\n")]
        for text in texts:
            if not text or _LABEL.fullmatch(text):
                continue
            label = _LABEL.match(text)
            candidate = text[label.end():] if label else text
            if _name_like(candidate):
                found.append(candidate)
            break
        if found:
            break
    return list(clean_authors(found))


def _bare(name: str) -> str:
    return _HONORIFIC.sub("", name).casefold()


def _names_more(shown: tuple[str, ...], declared: tuple[str, ...]) -> bool:
    """Whether the visible byline names everyone the page declares and more ("By Jane Roe,
    John Poe and Max Moe" where the meta tag holds only the first name): then it is the
    fuller list of the same authors."""
    bare = {_bare(name) for name in shown}
    return len(shown) > len(declared) and all(_bare(name) in bare for name in declared)


def read_authors(tree: LexborHTMLParser, nearby: Nearby | None, meta: PageMeta) -> tuple[str, ...]:
    """The article's authors, cleaned, in the page's order."""
    # "Jane Roe, USA TODAY", "Tom Davies, Associated Press": the publication or agency beside
    # its writers is not one of them.
    credits = _AGENCIES | {n.casefold() for n in (meta.site_name, *meta.organization_authors) if n}
    found: tuple[str, ...] = ()
    for names in (meta.authors, meta.meta_authors):
        found = clean_authors(names)
        if found:
            break
    if nearby is not None:
        shown = tuple(byline_names(nearby))
        # The byline is taken where nothing is declared, where it names everyone declared
        # and more, and where the page declares only itself (its own name as the author)
        # while the byline names a writer.
        if not found or _names_more(shown, found) or (
                all(name.casefold() in credits for name in found)
                and any(name.casefold() not in credits for name in shown)):
            found = shown or found
    found = found or clean_authors(markup_names(tree)) or \
        clean_authors(meta.organization_authors)
    people = tuple(name for name in found if name.casefold() not in credits)
    return people or found
