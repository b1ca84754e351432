"""Cells of the grids and canned queries, as a reader wants them (Datasette's `render_cell`).

- every article a row names links to its archived page (`/archive/articles/<id>`): titles by
  the `article_id` / `target_article_id` beside them, those ids themselves in canned queries,
  a related link without an archived target to the live page (http(s) only);
- a version links to its page, a stored page's URL to its captured view, a site to its articles,
  the counts of `failures_by_host` and `extraction_health` to the rows they count;
- dates (columns named `*_at`, and the UTC sort keys `*_utc`) read as people write them, with
  the stated offset kept;
- long text is cut: bodies to an excerpt, diffs to their first changed lines, authors and tags
  as names, related-link lists as titles.

Markup is built with `Markup.format`, which escapes every argument: scraped text stays text.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import urlencode

from datasette import hookimpl
from markupsafe import Markup

from archiver.datasette import DB_NAME
from archiver.datasette.captured import captured_href
from archiver.datasette.display import date_markup, diff_lines, excerpt, json_list, web_href
from archiver.datasette.history import describe_change

DIFF_LINES = 6  # changed lines a diff cell shows
VALUE_CHARS = 160
# extraction_health's columns -> the articles they count, as table filters
SITE_FILTERS: dict[str, dict[str, Any]] = {
    "articles": {},
    "missing_date_pct": {"published_at__isnull": 1},
    "missing_author_pct": {"authors": "[]"},
}


def row_value(row: Any, key: str) -> Any:
    """`row[key]`, or None when the row (a sqlite3.Row or a dict) has no such column."""
    try:
        return row[key]
    except (KeyError, IndexError, TypeError, sqlite3.Error):
        return None


def link(href: str | None, text: Any) -> Markup | None:
    return Markup('<a href="{}">{}</a>').format(href, text) if href else None


def diff_cell(diff: str) -> Markup:
    """A diff's first changed lines, each cut short, and how many more there are."""
    changed = [(kind, line) for kind, line in diff_lines(diff) if kind in ("add", "del")]
    out = Markup('<pre class="archiver-diff">')
    for kind, line in changed[:DIFF_LINES]:
        out += Markup('<span class="diff-{}">{}</span>\n').format(kind, excerpt(line, VALUE_CHARS))
    if len(changed) > DIFF_LINES:
        out += Markup("… {} more changed paragraphs\n").format(len(changed) - DIFF_LINES)
    return out + Markup("</pre>")


def change_value(field: Any, value: str) -> str:
    """An `article_changes` value in words (names, dates, link titles), cut short."""
    if field == "related":
        change = describe_change("related", "[]", value)
        return excerpt(f"{change['new']}: " + " · ".join(change["added"]), VALUE_CHARS)
    change = describe_change(str(field), None, value)
    return excerpt(str(change["new"] or ""), VALUE_CHARS)


def _article(datasette: Any, article_id: Any) -> str | None:
    return datasette.urls.row(DB_NAME, "articles", str(article_id)) if isinstance(article_id, int) else None


def _filtered(datasette: Any, table: str, **filters: Any) -> str:
    return f"{datasette.urls.table(DB_NAME, table)}?{urlencode(filters)}"


def _query_link(row: Any, value: Any, column: str, datasette: Any) -> Markup | None:
    """Links in canned query results (they have no table: the columns beside say what a value is)."""
    if column in ("article_id", "target_article_id"):
        return link(_article(datasette, value), value)
    if column == "version" and isinstance(row_value(row, "version_id"), int):
        return link(datasette.urls.row(DB_NAME, "article_versions", str(row_value(row, "version_id"))), value)
    if column == "link_title":
        return link(_article(datasette, row_value(row, "target_article_id")) or web_href(row_value(row, "link_url")), value)
    if column == "last_url":
        return link(_article(datasette, row_value(row, "last_article_id")), value)
    host, kind = row_value(row, "host"), row_value(row, "error_kind")
    if column == "failures" and host:
        return link(_filtered(datasette, "fetches", outcome="failed", error_kind=kind or "",
                              host=host), value)
    site = row_value(row, "site")
    if site and column in ("articles", "missing_date_pct", "missing_author_pct") and value:
        return link(_filtered(datasette, "articles", site=site, _view="table", **SITE_FILTERS[column]), value)
    return None


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    if database != DB_NAME or value is None:
        return None
    if table is None:  # a canned query
        shown = _query_link(row, value, column, datasette)
        if shown is not None:
            return shown
    if not isinstance(value, str):
        return None
    if column.endswith(("_at", "_utc")):
        return date_markup(value)
    if column == "diff":
        return diff_cell(value)
    if column in ("authors", "tags") and value.startswith("["):
        return ", ".join(json_list(value))
    if column == "body" and table in ("articles", "article_versions"):
        return excerpt(value)
    if table == "article_changes" and column in ("old_value", "new_value"):
        return change_value(row_value(row, "field"), value)
    if column == "site" and table in ("articles", None):
        return link(_filtered(datasette, "articles", site=value), value)
    if table == "pages" and column == "url" and isinstance(row_value(row, "id"), int):
        return link(captured_href(datasette, row_value(row, "id")), value)
    if column in ("title", "target_title"):
        if table == "articles":
            return link(_article(datasette, row_value(row, "id")), value)
        if table == "article_versions":
            return link(datasette.urls.row(DB_NAME, "article_versions", str(row_value(row, "id"))), value)
        if table == "related_links":
            return link(_article(datasette, row_value(row, "target_article_id")) or web_href(row_value(row, "url")), value)
        if table is None:
            return link(_article(datasette, row_value(row, "article_id" if column == "title" else "target_article_id")), value)
    return None
