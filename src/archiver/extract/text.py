"""Small text helpers shared by the extraction layers: whitespace, URLs, date lines, languages."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit


_SPACE = re.compile(r"[\s\u00a0\u200b\u2009\u202f\ufeff]+")
_DATE_LINE = re.compile(
    r"(?:(?:published|updated|posted|last updated)[:\s]+)?"
    r"(?:\w+,?\s+)?(?:\d{1,2}(?:st|nd|rd|th)?\s+\w+\.?,?\s+\d{4}|\w+\.?\s+\d{1,2}(?:st|nd|rd|th)?,?"
    r"\s+\d{4}|\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4})"
    r"(?:,?\s+(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s+[A-Z]{2,4})?)?",
    re.IGNORECASE,
)


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


def same_page(a: str, b: str) -> bool:
    """Whether two absolute URLs name the same page (ignoring fragment, query and a final /)."""
    pa, pb = urlsplit(a), urlsplit(b)
    host_a = pa.netloc.lower().removeprefix("www.")
    host_b = pb.netloc.lower().removeprefix("www.")
    return host_a == host_b and pa.path.rstrip("/") == pb.path.rstrip("/")


def language_code(value: str | None) -> str | None:
    """The primary language subtag of a BCP-47 tag or locale (`en-US`, `en_GB` -> `en`)."""
    text = squash(value).replace("_", "-")
    if not text:
        return None
    primary = text.split("-", 1)[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None
