"""Small text helpers shared by the extraction layers: whitespace, URLs, date lines, languages."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from archiver.urls import same_page  # noqa: F401 - URL rules live in archiver.urls

_SPACE = re.compile(r"[\s\u00a0\u200b\u2009\u202f\ufeff]+")
_DATE_LINE = re.compile(
    r"(?:(?:published|updated|posted|last updated)[:\s]+)?"
    r"(?:\w+,?\s+)?(?:\d{1,2}(?:st|nd|rd|th)?\s+\w+\.?,?\s+\d{4}|\w+\.?\s+\d{1,2}(?:st|nd|rd|th)?,?"
    r"\s+\d{4}|\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4})"
    r"(?:,?\s+(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s+[A-Z]{2,4})?)?",
    re.IGNORECASE,
)


_BYLINE = re.compile(
    r"(?:by|von|par|por|door|di|av)\s+(?P<names>[^\W\d_][\w.'’-]*(?:\s+[\w.'’-]+){0,3}"
    r"(?:\s*(?:,|and|&|und|et|y)\s+[^\W\d_][\w.'’-]*(?:\s+[\w.'’-]+){0,3})*)"
    r"(?P<rest>\s*(?:[|·•,–—-]|\s).{0,80})?",
    re.IGNORECASE,
)
# Something in a byline's tail that makes it a dateline: a year, a time, a month's name.
DATE_HINT = re.compile(
    r"\d{4}|\d{1,2}:\d{2}|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b",
    re.IGNORECASE,
)


def byline_rest(text: str) -> str | None:
    """For "By Jane Roe and John Poe | July 10, 2025" (capitalised names after by, von, par
    ...), what follows the names ("" when nothing does); None when `text` is no byline."""
    match = _BYLINE.fullmatch(text)
    if not match:
        return None
    words = [w for w in re.split(r"\s+|,", match.group("names")) if w and w.lower() not in
             {"and", "&", "und", "et", "y"}]
    if not words or not all(w[0].isupper() for w in words):
        return None
    return match.group("rest") or ""


def is_date_text(text: str) -> bool:
    """Whether a short line is only a date (and time): "October 12, 2017", "Updated 3/4/25"."""
    return len(text) < 60 and bool(_DATE_LINE.fullmatch(text.strip()))


def squash(text: str | None) -> str:
    """Collapse runs of whitespace (including non-breaking and zero-width) to one space."""
    if not text:
        return ""
    if "\u200b" in text or "\ufeff" in text:
        return _SPACE.sub(" ", text).strip()
    return " ".join(text.split())


def absolute_url(base: str, href: str | None) -> str | None:
    """`href` resolved against `base`, or None if it is empty or not http(s)."""
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith(("javascript:", "mailto:", "tel:", "data:", "#")):
        return None
    try:
        resolved = urljoin(base, href)
        parts = urlsplit(resolved)
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return resolved




def language_code(value: str | None) -> str | None:
    """The primary language subtag of a BCP-47 tag or locale (`en-US`, `en_GB` -> `en`)."""
    text = squash(value).replace("_", "-")
    if not text:
        return None
    primary = text.split("-", 1)[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None
