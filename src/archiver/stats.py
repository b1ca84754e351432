"""`archiver stats`: what is in the archive, as text for a terminal or a JSON object.

    archive_stats(db, days=14) -> dict      (in archiver.store: the counting is SQL)
    format_stats(stats) -> str              (here: pure formatting)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def human_bytes(size: float) -> str:
    """1536 -> '1.5 KiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[str]:
    """Rows as left-aligned text columns under a header line."""
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return ["  " + line for line in lines]


def format_stats(stats: dict[str, Any]) -> str:
    """The stats as a few short text tables."""
    totals = stats["totals"]
    size = stats["size"]
    out = [
        (f"{totals['articles']} article(s) on {len(stats['by_site'])} site(s), "
        f"{totals['versions']} version(s) ({totals['changed_articles']} article(s) changed since "
        f"first seen), {totals['related_links']} related link(s)"),
        (f"{totals['pages']} stored page(s), {totals['fetches']} fetch(es), "
        f"{totals['failed_fetches']} failed, {totals['crawl_runs']} crawl run(s)"),
        f"database: {human_bytes(size.get('file_bytes', size['pages_bytes']))}"
        + (f" + {human_bytes(size['wal_bytes'])} WAL" if size.get("wal_bytes") else "")
        + f" ({human_bytes(size['free_bytes'])} free); page bodies "
        f"{human_bytes(size['raw_body_bytes'])} stored as {human_bytes(size['stored_body_bytes'])}"
        + (f"  [{size['path']}]" if size.get("path") else ""),
    ]
    if stats["by_site"]:
        out += ["", "by site:"]
        out += table(
            stats["by_site"],
            ["site", "articles", "versions", "empty_bodies", "missing_dates", "missing_authors",
             "last_fetched_at"],
        )  # fmt: skip
    if stats["by_day"]:
        out += ["", "fetches by day (newest first):"]
        out += table(stats["by_day"], ["day", "fetches", "new", "changed", "unchanged", "failed"])
    if stats["failures_by_kind"]:
        out += ["", "failures by kind:"]
        out += table(stats["failures_by_kind"], ["kind", "failures", "urls"])
        out += ["", "failures by host:"]
        out += table(stats["failures_by_host"], ["host", "failures", "urls", "last_failed_at"])
    return "\n".join(out)
