"""How archive values read in the browser: dates, text, links and diffs (pure functions).

Dates are shown as people write them, with the offset the page stated kept ("3 Mar 2025, 14:05
UTC+1"): the time the reader of that site saw. Sorting never uses this text, only the UTC sort
keys the archive keeps beside each stated date.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from markupsafe import Markup

EXCERPT_CHARS = 240
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ISO_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?", re.I)


def _offset(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def human_date(stamp: str | None) -> str | None:
    """An ISO-8601 date or time as a reader writes it, in the offset it states: "3 Mar 2025",
    "3 Mar 2025, 14:05 UTC+1", "3 Mar 2025, 14:05" (no offset stated). None when `stamp` is not
    such a date (it is then shown as it is)."""
    if not stamp or not ISO_LIKE.fullmatch(stamp.strip()):
        return None
    text = stamp.strip()
    try:
        when = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    except ValueError:
        return None
    day = f"{when.day} {MONTHS[when.month - 1]} {when.year}"
    if len(text) == 10:  # a date alone
        return day
    zone = when.utcoffset()
    return f"{day}, {when:%H:%M}" + ("" if zone is None else f" {_offset(zone)}")


def date_markup(stamp: str | None) -> Markup | None:
    """A `<time>` element for a date cell: human text, the stamp as stored in `datetime` and
    as its tooltip; None when `stamp` is not a date."""
    text = human_date(stamp)
    if text is None:
        return None
    return Markup('<time datetime="{0}" title="{0}">{1}</time>').format(stamp, text)


def web_href(url: str | None) -> str | None:
    """`url` when it is an http(s) URL that is safe to put in an href; else None."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def paragraphs(body: str | None) -> list[str]:
    return [p.strip() for p in (body or "").split("\n\n") if p.strip()]


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` on one line, cut at a word before `limit` characters (with an ellipsis)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " …"


def json_list(value: str | None) -> list[str]:
    try:
        items = json.loads(value or "[]")
    except ValueError:
        return [value] if value else []
    return [str(item) for item in items] if isinstance(items, list) else [str(items)]


def diff_lines(diff: str | None) -> list[tuple[str, str]]:
    """A unified diff as (kind, text) lines: kind is add, del, hunk, file or same."""
    lines: list[tuple[str, str]] = []
    for line in (diff or "").split("\n"):
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        lines.append((kind, line))
    return lines


def diff_counts(diff: str | None) -> tuple[int, int]:
    """Paragraphs added and removed by a diff."""
    kinds = [kind for kind, _ in diff_lines(diff)]
    return kinds.count("add"), kinds.count("del")


def diff_markup(diff: str) -> Markup:
    out = Markup('<pre class="archiver-diff">')
    for kind, line in diff_lines(diff):
        out += Markup('<span class="diff-{}">{}</span>\n').format(kind, line)
    return out + Markup("</pre>")
