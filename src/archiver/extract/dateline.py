"""When an article was published and last modified, from every place a page says so.

    published, modified = read_dates(tree, heading, meta, url)

Evidence, strongest first: the dateline a reader sees next to the headline (read in the text
around it, "Updated August 14, 2025"); `<time datetime>` elements there; what the page states in
structured data and meta tags (JSON-LD datePublished, article:published_time, ...); a date in the
URL path (/2025/08/14/, /2023/october/03/); a date labelled or marked as one elsewhere on the page;
a "Last updated" date when nothing else dates the page. A visible dateline gives the day; the
time and offset come from a structured date of the same day when there is one. Dates are ISO
8601 with the page's offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from selectolax.lexbor import LexborHTMLParser

from archiver.extract.dates import MONTHS, TextDate, find_dates, machine_date
from archiver.extract.metadata import PageMeta
from archiver.extract.nearby import Nearby
from archiver.extract.text import squash

_UPDATED = re.compile(
    r"(?:updated|modified|edited|revised|refreshed|reviewed|aktualisiert|geändert|actualizado|"
    r"actualisé|mis à jour|mise à jour|aggiornato|atualizado|bijgewerkt|uppdaterad|opdateret|"
    r"oppdatert|zaktualizowano)\b[^\d]{0,25}$",
    re.IGNORECASE,
)
_PUBLISHED = re.compile(
    r"(?:published|posted|written|created|veröffentlicht|publicado|publié|pubblicato|"
    r"gepubliceerd|publicerad|publiceret|publisert|opublikowano)\b[^\d]{0,25}$",
    re.IGNORECASE,
)
_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-]?([01]\d)[/-]?([0-3]\d)(?:/|[-_]|$)")
_URL_WORDY_DATE = re.compile(  # /2023/october/03/
    r"/((?:19|20)\d\d)/(" + "|".join(sorted(MONTHS, key=len, reverse=True)) +
    r")/([0-3]?\d)(?:/|[-_]|$)", re.IGNORECASE)
_DATE_MARKUP = ('[class*="date" i], [class*="publish" i], [class*="posted" i], [id*="date" i], '
                '[itemprop*="date" i], [class*="byline" i], [class*="meta" i]')
_LABELLED = re.compile(r"\b(?:posted|published|written|created)(?:\s+on)?\b\s*:?\s*", re.IGNORECASE)
_LABELLED_UPDATE = re.compile(r"\b(?:last\s+)?(?:updated|modified)(?:\s+on)?\b\s*:?\s*",
                              re.IGNORECASE)
_DATA_KEYS = ('"datePublished', '"publishDate', '"publishedDate', '"published_at', '"publishedAt',
              '"date_published', '"publicationDate', '"publication_date')
_DATA_VALUE = re.compile(r'\\?"\s*:\s*\\?"([0-9][0-9T:.+\-Z ]{7,34})\\?"')
MAX_LABELLED_TEXT = 200_000  # characters of a page's text searched for a labelled date
PROSE = 200  # a text node longer than this is running text, not a dateline
DATELINE_LINE = 80  # characters a labelled dateline's text node takes, at most
DATELINE_BEFORE = 200  # characters before / after the headline where a dateline may sit
DATELINE_AFTER = 500


@dataclass
class SeenDate:
    """A date read near the headline: the day, its label, and how far from the headline."""

    day: date
    label: str  # "published", "updated" or ""
    distance: int  # characters between the headline and the date (negative: before it)
    other: date | None = None


@dataclass
class DateEvidence:
    """Everything a page says about its dates."""

    seen: list[SeenDate] = field(default_factory=list)
    times: list[tuple[int, str]] = field(default_factory=list)  # (distance, ISO) of <time>
    published: str | None = None  # structured data and meta tags
    modified: str | None = None
    url_day: date | None = None
    page_day: date | None = None  # a date marked or labelled as one elsewhere on the page


def _label(text: str) -> str:
    if _UPDATED.search(text):
        return "updated"
    if _PUBLISHED.search(text):
        return "published"
    return ""


def _distance(nearby: Nearby, offset: int) -> int:
    if offset < nearby.heading_start:
        return offset - nearby.heading_start
    return max(0, offset - nearby.heading_end)


def _seen_dates(nearby: Nearby) -> list[SeenDate]:
    out: list[SeenDate] = []
    for found in find_dates(nearby.text, limit=12):
        chunk = nearby.chunk_at(found.start)
        if chunk is None or len(chunk.text) > PROSE:
            continue
        distance = _distance(nearby, found.start)
        if not -DATELINE_BEFORE <= distance <= DATELINE_AFTER:
            continue
        label = _label(nearby.text[max(0, found.start - 40): found.start])
        out.append(SeenDate(found.day, label, distance, found.other))
    return out


def _url_day(url: str) -> date | None:
    match = _URL_DATE.search(url) or _URL_WORDY_DATE.search(url)
    if not match:
        return None
    year, month, day = match.groups()
    try:
        return date(int(year), int(month) if month.isdigit() else MONTHS[month.lower()],
                    int(day))
    except ValueError:
        return None


def collect_dates(tree: LexborHTMLParser, nearby: Nearby | None, meta: PageMeta,
                  url: str, page: str) -> DateEvidence:
    """What the page (`tree`, parsed from `page`) says about its dates: `nearby` its headline,
    in data, in its URL; elsewhere on the page only when none of these does."""
    evidence = DateEvidence(published=meta.published_at, modified=meta.modified_at,
                            url_day=_url_day(url))
    if nearby is not None:
        evidence.seen = _seen_dates(nearby)
        for offset, node in nearby.times:
            stamp = machine_date(node.attributes.get("datetime"))
            if stamp:
                evidence.times.append((_distance(nearby, offset), stamp))
    if not evidence.published:
        for node in tree.css('[itemprop="datePublished"], time[datetime]'):
            attrs = node.attributes
            stamp = machine_date(attrs.get("datetime") or attrs.get("content"))
            if stamp:
                evidence.published = stamp
                break
    if not (evidence.published or evidence.seen or evidence.times or evidence.url_day):
        text = tree.body.text(deep=True, separator="\n") if tree.body is not None else ""
        evidence.page_day = _labelled_day(text, _LABELLED) or _marked_day(tree) or \
            _data_day(page) or _labelled_day(text, _LABELLED_UPDATE)
    return evidence


def _marked_day(tree: LexborHTMLParser) -> date | None:
    """The first date written in a short element whose class or id says it holds one."""
    for node in tree.css(_DATE_MARKUP)[:40]:
        if node.tag in {"meta", "script", "style", "body", "html"}:
            continue
        raw = node.text(deep=True)
        if len(raw) > 2 * PROSE:
            continue
        found = find_dates(squash(raw), limit=1)
        if found and len(squash(raw)) <= PROSE // 2:
            return found[0].day
    return None


def _labelled_day(text: str, labels: re.Pattern[str]) -> date | None:
    """The first date the page's `text` (one text node a line) gives after one of `labels`
    ("Posted on April 13, 2023"), wherever it is: a label standing on its own line (a dateline)
    before one in running text ("this post was first published on ...")."""
    in_prose = None
    for label in labels.finditer(text, 0, MAX_LABELLED_TEXT):
        found = find_dates(text[label.end(): label.end() + 40], limit=1)
        if not found or found[0].start >= 12:
            continue
        start = text.rfind("\n", 0, label.start()) + 1
        end = text.find("\n", label.start())
        if (end if end >= 0 else len(text)) - start <= DATELINE_LINE:
            return found[0].day
        in_prose = in_prose or found[0].day
    return in_prose


def _data_day(page: str) -> date | None:
    """A publication date in data the page's scripts carry ("publishDate":"2025-05-27")."""
    for key in _DATA_KEYS:
        at = page.find(key)  # a plain search first: the pattern alone would try every quote
        if at < 0:
            continue
        match = _DATA_VALUE.match(page, at + len(key))
        stamp = machine_date(match.group(1)) if match else None
        if stamp:
            return date.fromisoformat(stamp[:10])
    return None


def _days_of(stamp: str) -> set[str]:
    """The calendar days a stamp can be written as: its own, and, for a time with an offset,
    each day it falls on somewhere in the world (a page shows local time, its data UTC)."""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return {stamp[:10]}
    if len(stamp) <= 10 or when.tzinfo is None:
        return {stamp[:10]}
    utc = when.astimezone(UTC)
    return {stamp[:10]} | {(utc + timedelta(hours=h)).date().isoformat() for h in (-12, 0, 14)}


def _same_day(stamp: str | None, day: date) -> bool:
    return bool(stamp) and day.isoformat() in _days_of(stamp or "")


def _with_time(day: date, *stamps: str | None) -> str:
    """The first stamp of `day` (it has the time and offset), else the day alone."""
    for stamp in stamps:
        if _same_day(stamp, day):
            return stamp or day.isoformat()
    return day.isoformat()


def _shown(seen: list[SeenDate], published: str | None) -> SeenDate:
    """The dateline that dates the article: one labelled as the publication, else an unlabelled
    one that the structured publication date confirms, else the unlabelled one nearest the
    headline (dates above it are often other stories'), else the first."""
    labelled = next((s for s in seen if s.label == "published"), None)
    if labelled is not None:
        return labelled
    plain = [s for s in seen if not s.label]
    if not plain:
        return seen[0]
    confirmed = next((s for s in plain if _same_day(published, s.day)), None)
    return confirmed or min(plain, key=lambda s: abs(s.distance))


def choose_dates(evidence: DateEvidence) -> tuple[str | None, str | None]:
    """(published, modified) from the evidence, ISO 8601.

    The dateline shown next to the headline wins over structured data (sites leave stale or
    template dates in their markup), except where it is labelled as an update: then it is the
    modification date, and a stated publication date stays."""
    published, modified = evidence.published, evidence.modified
    stamps = [published, modified, *(s for _, s in evidence.times)]
    latest = modified[:10] if modified else None
    # A date after the page's own last change is something else (an event, an expiry).
    seen = [s for s in evidence.seen if latest is None or s.label or s.day.isoformat() <= latest]
    # The page's data and its URL agreeing on the day outweigh a date shown without a label.
    confirmed = published is not None and evidence.url_day is not None and \
        _same_day(published, evidence.url_day)
    if seen:
        shown = _shown(seen, published)
        day = shown.day
        if shown.other is not None and (any(_same_day(s, shown.other) for s in stamps) or
                                        shown.other == evidence.url_day):
            day = shown.other
        if shown.label == "updated" and published and not _same_day(published, day):
            modified = _with_time(day, modified, *stamps)
        elif shown.label == "published" or not confirmed:
            published = _with_time(day, *stamps)
        updated = next((s for s in seen if s.label == "updated"), None)
        if updated is not None and updated is not shown:
            modified = _with_time(updated.day, modified, *stamps)
    elif evidence.times and not any(_same_day(published, date.fromisoformat(s[:10]))
                                    for _, s in evidence.times):
        published = evidence.times[0][1]
    fallback = evidence.url_day or evidence.page_day
    if not published and fallback is not None:
        published = fallback.isoformat()
    return published, modified


def _htmldate(page: str, url: str) -> str | None:
    """htmldate's reading of the page (its quick search, original date first), for pages that
    say nothing this module can read; it parses the page again, so it runs last."""
    from htmldate import find_date

    try:
        found = find_date(page, extensive_search=False, original_date=True, url=url or None)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None
    return machine_date(found)


def read_dates(tree: LexborHTMLParser, nearby: Nearby | None, meta: PageMeta, url: str,
               page: str) -> tuple[str | None, str | None]:
    """(published, modified) of the page, ISO 8601 (with offset where the page states one);
    `page` is its markup, for htmldate when nothing else dates it."""
    published, modified = choose_dates(collect_dates(tree, nearby, meta, url, page))
    return published or _htmldate(page, url), modified


__all__ = ["DateEvidence", "SeenDate", "TextDate", "choose_dates", "collect_dates", "read_dates"]
