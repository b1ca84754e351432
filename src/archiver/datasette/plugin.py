"""The Datasette plugin behind `archiver serve` (registered by `archiver.serve`, not globally).

- every connection to the archive is `query_only`, on top of Datasette's `mode=ro`, so nothing
  served can write to it, not even a plugin asking for a write connection;
- the article and version pages get the data their templates show (related links, versions,
  diff lines), with links built only from http(s) URLs;
- cells: titles link to the reading view, bodies show as a short excerpt, authors as names,
  diffs as coloured lines.

Scraped text always reaches the page as text: templates rely on Jinja's autoescaping (Datasette
turns it on) and never mark scraped text safe; the markup built here goes through
`Markup.format`, which escapes every argument.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any
from urllib.parse import urlsplit

from datasette import hookimpl
from datasette.utils import urlsafe_components
from markupsafe import Markup

from archiver.datasette import DB_NAME
from archiver.store.archive import url_host

EXCERPT_CHARS = 240


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


def _row_get(row: Any, key: str) -> Any:
    try:
        return row.get(key, None)
    except (AttributeError, IndexError, sqlite3.Error):
        return None


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str) -> None:
    if database == DB_NAME:
        conn.execute("PRAGMA query_only = 1")
        conn.create_function("url_host", 1, url_host, deterministic=True)  # as the archive has it


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    if database != DB_NAME or not isinstance(value, str):
        return None
    if column == "diff":
        return diff_markup(value)
    if column == "authors" and table in ("articles", None):
        return ", ".join(json_list(value)) if value.startswith("[") else None
    if column == "tags" and table == "articles":
        return ", ".join(json_list(value))
    if column == "body" and table in ("articles", "article_versions"):
        text = " ".join(value.split())
        return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"
    if column in ("title", "target_title"):
        if table == "articles":
            target = _row_get(row, "id")
        elif table is None:
            target = _row_get(row, "article_id" if column == "title" else "target_article_id")
        else:
            target = None
        if isinstance(target, int):
            href = datasette.urls.row(DB_NAME, "articles", str(target))
            return Markup('<a href="{}">{}</a>').format(href, value)
    return None


async def _article_vars(datasette: Any, article_id: str) -> dict[str, Any]:
    db = datasette.get_database(DB_NAME)
    article = (await db.execute("SELECT * FROM articles WHERE id = ?", [article_id])).first()
    if article is None:
        return {}
    related = []
    for link in await db.execute(
        """SELECT r.position, r.title, r.url, r.summary, r.target_article_id, t.title AS target_title
           FROM related_links r LEFT JOIN articles t ON t.id = r.target_article_id
           WHERE r.article_id = ? ORDER BY r.position""",
        [article_id],
    ):
        target = link["target_article_id"]
        related.append(
            {
                "title": link["title"],
                "summary": link["summary"],
                "url": link["url"],
                "href": web_href(link["url"]),
                "archived_href": datasette.urls.row(DB_NAME, "articles", str(target)) if target else None,
            }
        )
    versions = []
    for version in await db.execute(
        "SELECT id, version, created_at, page_id, diff FROM article_versions "
        "WHERE article_id = ? ORDER BY version DESC",
        [article_id],
    ):
        added, removed = diff_counts(version["diff"])
        versions.append(
            {
                "version": version["version"],
                "created_at": version["created_at"],
                "href": datasette.urls.row(DB_NAME, "article_versions", str(version["id"])),
                "added": added,
                "removed": removed,
                "first": version["diff"] is None,
            }
        )
    return {
        "archiver_article": {
            **dict(article),
            "authors": json_list(article["authors"]),
            "tags": json_list(article["tags"]),
            "paragraphs": paragraphs(article["body"]),
            "href": web_href(article["url"]),
            "image_href": web_href(article["image"]),
            "related": related,
            "history": versions,
            "history_href": datasette.urls.table(DB_NAME, "article_versions")
            + f"?article_id={article['id']}&_sort_desc=version",
        }
    }


async def _version_vars(datasette: Any, version_id: str) -> dict[str, Any]:
    db = datasette.get_database(DB_NAME)
    version = (
        await db.execute(
            """SELECT v.*, a.title AS article_title, a.versions AS article_versions
               FROM article_versions v JOIN articles a ON a.id = v.article_id WHERE v.id = ?""",
            [version_id],
        )
    ).first()
    if version is None:
        return {}
    siblings = {
        row["version"]: row["id"]
        for row in await db.execute(
            "SELECT id, version FROM article_versions WHERE article_id = ? AND version IN (?, ?)",
            [version["article_id"], version["version"] - 1, version["version"] + 1],
        )
    }

    def version_href(number: int) -> str | None:
        if number not in siblings:
            return None
        return str(datasette.urls.row(DB_NAME, "article_versions", str(siblings[number])))

    return {
        "archiver_version": {
            **dict(version),
            "paragraphs": paragraphs(version["body"]),
            "diff_lines": diff_lines(version["diff"]) if version["diff"] else [],
            "article_href": datasette.urls.row(DB_NAME, "articles", str(version["article_id"])),
            "previous_href": version_href(version["version"] - 1),
            "next_href": version_href(version["version"] + 1),
        }
    }


@hookimpl
def extra_template_vars(
    template: str, database: str | None, table: str | None, view_name: str, request: Any, datasette: Any
) -> Any:
    if database != DB_NAME or view_name != "row" or request is None:
        return {}
    pks = request.url_vars.get("pks")
    if not pks:
        return {}
    key = urlsafe_components(pks)[0]
    if table == "articles":
        return _article_vars(datasette, key)
    if table == "article_versions":
        return _version_vars(datasette, key)
    return {}
