"""Why the publication date is wrong where it is: each miss counted by its cause.

    python benchmarks/datemisses.py ../shared/wcxb-dev [--list]

Scores the extractor's publication date (same calendar day, as `bench extract` does) on the two
halves of the set split by a hash of each page's registered domain (a rule is kept only if it
holds on both), then sorts every miss by the first cause that fits:

- `not a day`: the truth names only a month, which no extracted date can equal;
- `time zone`: the truth is the day of a stamp the page states, read in another time zone;
- `nowhere`: the true day is not written anywhere in the page's markup in any form
  `find_dates` reads (ISO, numeric either way round, month names, in attributes, scripts and
  URLs too), nor as a Unix timestamp (seconds or milliseconds) that falls on it in any zone;
- `timestamp only`: the true day is there only as a Unix timestamp (asset version stamps);
- `update shown`: the page shows "Updated X" by the headline beside an older publication date
  in its data and does not show that date there; the truth is X;
- `modification shown`: the page shows an unlabelled date by the headline that its data calls
  the modification date, and the truth is the data's older publication date;
- `modification in data`: nothing dated is shown and the truth is the data's modification date;
- `other`: the true day is in the page but the extractor chose another.

For the two shapes that pages share whether the extractor is right or wrong (`update shown`,
`modification shown`), it also counts which date the truth took over all pages of that shape:
when the truth takes either date about as often, no rule over these signals can win both.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import unquote

from benchextract import BenchPage, load_pages
from extractdata import registered_domain
from selectolax.lexbor import LexborHTMLParser

from archiver.encoding import decode_html
from archiver.extract.dateline import DateEvidence, collect_dates, read_dates
from archiver.extract.dates import find_dates
from archiver.extract.guard import bounded
from archiver.extract.headline import choose_title
from archiver.extract.metadata import read_metadata
from archiver.extract.nearby import read_nearby

CAUSES = ("not a day", "time zone", "nowhere", "timestamp only", "update shown",
          "modification shown", "modification in data", "other")
_STAMP = re.compile(r"(?<![\d.])(1[0-9]\d{8})(\d{3})?(?!\d)")  # Unix seconds (or ms), 2001-2033
_ZONES = (-12, 14)  # hours either side of UTC where some place's calendar day may differ


@dataclass(frozen=True)
class DatePage:
    """One scored page: the truth, what was extracted, and what the page says about dates."""

    id: str
    half: int
    truth: str
    found: str | None
    evidence: DateEvidence | None
    markup: str  # the page's markup, entities and %-escapes decoded

    @property
    def right(self) -> bool:
        return bool(self.found) and (self.found or "")[:10] == self.truth[:10]


def half_of(url: str) -> int:
    """0 or 1, by a hash of the page's registered domain (all of a domain's pages together)."""
    return hashlib.sha1(registered_domain(url).encode()).digest()[0] % 2


def read_page(page: BenchPage) -> DatePage | None:
    """The page's date evidence and extracted publication date; None if its truth has no date."""
    truth = page.meta.date if page.meta is not None else None
    if not truth:
        return None
    text = bounded(decode_html(page.content))
    tree = LexborHTMLParser(text)
    evidence, found = None, None
    if tree.body is not None:
        meta = read_metadata(tree, page.url)
        _, heading = choose_title(tree, meta)
        nearby = read_nearby(heading) if heading is not None else None
        evidence = collect_dates(tree, nearby, meta, page.url, text)
        found, _ = read_dates(tree, nearby, meta, page.url, text)
    markup = unquote(html.unescape(text)).replace("\\/", "/")
    return DatePage(page.id, half_of(page.url), truth, found, evidence, markup)


def _written(markup: str) -> set[date]:
    days: set[date] = set()
    for found in find_dates(markup, limit=len(markup)):
        days.add(found.day)
        if found.other is not None:
            days.add(found.other)
    return days


def _stamped(markup: str, day: date) -> bool:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=_ZONES[1])
    end = start + timedelta(hours=24 + _ZONES[1] - _ZONES[0])
    return any(start.timestamp() <= int(m.group(1)) < end.timestamp()
               for m in _STAMP.finditer(markup))


def _zone_days(stamp: str) -> set[str]:
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return set()
    if len(stamp) <= 10 or when.tzinfo is None:
        return set()
    utc = when.astimezone(UTC)
    return {(utc + timedelta(hours=h)).date().isoformat() for h in range(_ZONES[0], _ZONES[1] + 1)}


def shape(page: DatePage) -> tuple[str, str, str] | None:
    """("update shown" | "modification shown", the shown day, the data's publication day) for a
    page of one of the two contested shapes, else None."""
    ev = page.evidence
    if ev is None or not ev.published:
        return None
    published = ev.published[:10]
    shown_updates = [s for s in ev.seen if s.label == "updated"]
    plain = [s for s in ev.seen if not s.label]
    if any(s.day.isoformat() == published for s in ev.seen):
        return None
    if shown_updates:
        return "update shown", shown_updates[0].day.isoformat(), published
    if plain and ev.modified and plain[0].day.isoformat() == ev.modified[:10]:
        return "modification shown", plain[0].day.isoformat(), published
    return None


def cause(page: DatePage) -> str:
    """The first cause in CAUSES that explains a miss."""
    if len(page.truth) != 10:
        return "not a day"
    ev = page.evidence
    stamps = [s for s in (ev.published, ev.modified) if s] if ev else []
    stamps += [s for _, s in ev.times] if ev else []
    if any(s[:10] != page.truth and page.truth in _zone_days(s) for s in stamps):
        return "time zone"
    day = date.fromisoformat(page.truth)
    if day not in _written(page.markup):
        return "timestamp only" if _stamped(page.markup, day) else "nowhere"
    contested = shape(page)
    if contested is not None:
        name, shown, published = contested
        if name == "update shown" and page.truth == shown:
            return name
        if name == "modification shown" and page.truth == published:
            return name
    if ev is not None and ev.modified and ev.modified[:10] == page.truth and not ev.seen:
        return "modification in data"
    return "other"


@dataclass
class Report:
    right: list[list[int]]  # [half] -> [right, scored]
    causes: Counter[str]
    pages: dict[str, list[str]]
    contested: dict[str, Counter[str]]  # shape -> which date the truth took, over all its pages


def diagnose(pages: Sequence[DatePage]) -> Report:
    report = Report([[0, 0], [0, 0]], Counter(), {}, {})
    for page in pages:
        report.right[page.half][0] += page.right
        report.right[page.half][1] += 1
        if len(page.truth) == 10:
            contested = shape(page)
            if contested is not None:
                name, shown, published = contested
                took = "shown" if page.truth == shown else \
                    "publication" if page.truth == published else "neither"
                report.contested.setdefault(name, Counter())[took] += 1
        if not page.right:
            why = cause(page)
            report.causes[why] += 1
            report.pages.setdefault(why, []).append(page.id)
    return report


def format_report(report: Report, listed: bool = False) -> str:
    (r0, n0), (r1, n1) = report.right
    halves = (f"half 0 {r0}/{n0} = {r0 / max(n0, 1):.4f}  "
              f"half 1 {r1}/{n1} = {r1 / max(n1, 1):.4f}")
    lines = [f"date accuracy  all {r0 + r1}/{n0 + n1} = {(r0 + r1) / max(n0 + n1, 1):.4f}  {halves}",
             f"misses by cause ({sum(report.causes.values())}):"]
    for name in CAUSES:
        if report.causes[name]:
            ids = " " + " ".join(report.pages[name]) if listed else ""
            lines.append(f"  {name:22} {report.causes[name]:4}{ids}")
    for name, took in sorted(report.contested.items()):
        lines.append(f"pages where {name}: the truth took the shown date on {took['shown']}, "
                     f"the data's publication date on {took['publication']}, "
                     f"neither on {took['neither']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="a set laid out as html/<id>.html[.gz] + ground-truth.json")
    parser.add_argument("--list", action="store_true", help="list the page ids of each cause")
    args = parser.parse_args(argv)
    pages = [p for p in map(read_page, load_pages(args.directory)) if p is not None]
    print(format_report(diagnose(pages), args.list))
    return 0


if __name__ == "__main__":
    sys.exit(main())
