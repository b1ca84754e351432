"""Dates as pages write them: ISO stamps in markup, and the datelines people read.

    machine_date("2025-07-10T09:15:00+0300") -> "2025-07-10T09:15:00+03:00"
    find_dates("Updated: 14. August 2025, 10:32") -> [TextDate(date(2025, 8, 14), ...)]

Machine dates keep the time and offset the page states (ISO 8601); a date read from visible
text is a calendar day. Month names are read in the languages most news is written in; a
numeric date whose day and month could be swapped (03/04/2025) is returned with both readings.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from archiver.extract.text import squash

EARLIEST_YEAR = 1990  # older "dates" on news pages are nearly always something else
LATEST_YEAR = 2100

_MONTH_NAMES = {
    1: "january jan januar janvier janv enero ene gennaio genn gen janeiro januari janvier "
       "stycznia styczeń leden ocak",
    2: "february feb febr februar février févr fevrier fevr febrero febbraio fevereiro fev "
       "februari lutego luty únor şubat",
    3: "march mar märz maerz mars marzo março marco maart marca marzec březen mart",
    4: "april apr avril avr abril abr aprile aprill kwietnia kwiecień duben nisan",
    5: "may mai mayo maggio mag maio mei maj maja květen mayıs",
    6: "june jun juni juin junio giugno giu junho czerwca czerwiec červen haziran",
    7: "july jul juli juillet juil julio luglio lug julho lipca lipiec červenec temmuz",
    8: "august aug août aout agosto ago augustus augusti sierpnia sierpień srpen ağustos",
    9: "september sep sept septembre septiembre setiembre settembre set setembro "
       "september september września wrzesień září eylül",
    10: "october oct oktober octobre octubre ottobre ott outubro out okt października "
        "październik říjen ekim",
    11: "november nov novembre noviembre novembro listopada listopad kasım",
    12: "december dec dezember dez décembre déc decembre diciembre dic dicembre dezembro "
        "desember grudnia grudzień prosinec aralık",
}
MONTHS: dict[str, int] = {name: number for number, names in _MONTH_NAMES.items()
                          for name in names.split()}
_MONTH = "(?P<month>" + "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|er|º|°)?\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_OF = r"(?:\s+(?:de|of|del)\s+|\s*,?\s*)"

# Each pattern names day, month and year; `(?<![\w])` and `(?![\w])` keep them off longer tokens.
_TEXT_PATTERNS = [
    # 2025-08-14, 2025/08/14, 2025.08.14 (with a time after a T or a space, perhaps)
    re.compile(r"(?<![\w.\-/])(?P<year>(?:19|20)\d\d)(?P<sep>[-/.])(?P<month>[01]?\d)(?P=sep)"
               r"(?P<day>[0-3]?\d)(?![\d])"),
    # 14 August 2025, 14. August 2025, 14 de agosto de 2025, 14th of August, 2025
    re.compile(r"(?<![\w])" + _DAY + _OF + _MONTH + _OF + _YEAR + r"(?!\d)", re.IGNORECASE),
    # August 14, 2025, Aug. 14th 2025
    re.compile(r"(?<![\w])" + _MONTH + r"\s*" + _DAY + r"\s*,?\s*" + _YEAR + r"(?!\d)",
               re.IGNORECASE),
    # 2025年8月14日, 2025년 8월 14일
    re.compile(r"(?P<year>(?:19|20)\d\d)\s*[年년]\s*(?P<month>[01]?\d)\s*[月월]\s*"
               r"(?P<day>[0-3]?\d)\s*[日일]?"),
    # 14.08.2025, 08/14/2025, 14-08-25 (order decided later)
    re.compile(r"(?<![\w.\-/])(?P<a>[0-3]?\d)(?P<sep>[./\-])(?P<b>[0-3]?\d)(?P=sep)"
               r"(?P<year>(?:19|20)?\d\d)(?![\w/]|\.\d)"),
]


@dataclass(frozen=True)
class TextDate:
    """A calendar day read from text; `other` is the day with day and month swapped, when the
    text cannot tell them apart (03/04/2025)."""

    day: date
    start: int
    end: int
    other: date | None = None


def _make(year: int, month: int, day: int) -> date | None:
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


_NUMERIC_PATTERNS = (_TEXT_PATTERNS[0], _TEXT_PATTERNS[3], _TEXT_PATTERNS[4])
_WORDY_PATTERNS = (_TEXT_PATTERNS[1], _TEXT_PATTERNS[2])
_A_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_WORDY_SPAN = 48  # characters a written-out day and month take before their year, at most


def _matches(text: str) -> Iterator[re.Match[str]]:
    """Every date-shaped match in `text`. Written-out dates are looked for only just before a
    four-digit year: scanning the whole text with the month names costs ten times more."""
    for pattern in _NUMERIC_PATTERNS:
        yield from pattern.finditer(text)
    done = 0
    for year in _A_YEAR.finditer(text):
        start = max(done, year.start() - _WORDY_SPAN)
        for pattern in _WORDY_PATTERNS:
            yield from pattern.finditer(text, start, year.end())
        done = year.end()


def find_dates(text: str, limit: int = 8) -> list[TextDate]:
    """Calendar days written in `text`, in the order they appear (at most `limit`)."""
    found: list[TextDate] = []
    taken: list[tuple[int, int]] = []
    for match in _matches(text):
        start, end = match.span()
        if any(s < end and start < e for s, e in taken):
            continue
        parts = match.groupdict()
        year = int(parts["year"])
        if year < 100:
            year += 2000
        other = None
        if parts.get("a") is not None:
            a, b = int(parts["a"]), int(parts["b"])
            # A slash date is month first (08/14/2025) unless its first number cannot be a
            # month; dotted and dashed ones are day first (14.08.2025).
            month_first = parts["sep"] == "/" and a <= 12
            day = _make(year, a, b) if month_first else _make(year, b, a)
            swapped = _make(year, b, a) if month_first else _make(year, a, b)
            if day is None:
                day, swapped = swapped, None
            other = swapped if swapped != day else None
        else:
            token = parts["month"].lower().rstrip(".")
            month = int(token) if token.isdigit() else MONTHS.get(token, 0)
            day = _make(year, month, int(parts["day"]))
        if day is None:
            continue
        taken.append((start, end))
        found.append(TextDate(day, start, end, other))
    found.sort(key=lambda d: d.start)
    return found[:limit]


_ISO_SPACE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d)")
_OFFSET = re.compile(r"([+-]\d{2}):?(\d{2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?)?$")


def machine_date(value: str | None) -> str | None:
    """An ISO-8601 date or datetime for a machine-readable date (meta tags, JSON-LD, datetime
    attributes, RFC 822), keeping the offset the page states; None when it is not one."""
    text = squash(value)
    if not text or len(text) > 64:
        return None
    candidate = text[:-1] + "+00:00" if text[-1:] in "Zz" else text
    candidate = _ISO_SPACE.sub(r"\1T\2", candidate)
    candidate = _OFFSET.sub(r"\1:\2", candidate) if "T" in candidate else candidate
    compact = _COMPACT.match(candidate)
    if compact:
        y, m, d, hh, mm, ss = compact.groups()
        candidate = f"{y}-{m}-{d}" + (f"T{hh}:{mm}:{ss or '00'}" if hh else "")
    parsed: datetime | date | None = None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", candidate):
            parsed = date.fromisoformat(candidate)
        else:
            parsed = datetime.fromisoformat(candidate)
    except ValueError:
        parsed = _parse_loose(text)
    if parsed is None or not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        return None
    if isinstance(parsed, datetime) and parsed.microsecond:
        parsed = parsed.replace(microsecond=0)
    return parsed.isoformat()


def _parse_loose(text: str) -> datetime | date | None:
    """RFC 822 and other English machine formats ("Tue, 10 Jul 2025 09:15:00 GMT"), or a
    date written out in words; None when `text` holds no date."""
    from dateutil import parser as date_parser

    if re.search(r"\d{1,2}:\d{2}", text):
        try:
            with warnings.catch_warnings():
                # "EST"-style zone names: dateutil warns and returns a naive time; naive is right.
                warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
                return date_parser.parse(text, fuzzy=False)
        except (ValueError, OverflowError, TypeError):
            pass
    found = find_dates(text, limit=1)
    return found[0].day if found else None
