"""Times as the archive keeps them: ISO-8601 UTC text to the second, ending in `Z`.

Every `*_at` column, every record's time and every time read from a feed, a sitemap, a WARC
record or the command line goes through these functions, so they all sort and compare as text.
A time without a zone is taken as UTC.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime


def iso(when: datetime) -> str:
    """`when` as the archive writes it: `2026-01-31T12:00:00Z`."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_now() -> str:
    """Now, as the archive writes it."""
    return iso(datetime.now(UTC))


def parse_iso(value: str) -> datetime:
    """An ISO-8601 time (as the archive writes it, or any other zone) as an aware datetime;
    ValueError when it is not one."""
    when = datetime.fromisoformat(value.strip())
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def iso_utc(value: str) -> str:
    """An ISO-8601 date or time in the archive's form; ValueError when it is not one."""
    return iso(parse_iso(value))


def parse_date(value: str | None) -> str | None:
    """An RFC 822 (feeds, HTTP) or ISO-8601/W3C (Atom, sitemaps) date in the archive's form;
    None when absent or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return iso_utc(text.replace("z", "Z"))
    except ValueError:
        pass
    try:
        return iso(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None
