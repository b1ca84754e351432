"""The Datasette plugin behind `archiver serve` (registered by `archiver.serve`, not globally).

- every connection to the archive is `query_only`, on top of Datasette's `mode=ro`, so nothing
  served can write to it, not even a plugin asking for a write connection;
- the article and version pages get the data their templates show (related links, the history
  of versions and field changes, diff lines, dates in words, the captured page), with links built
  only from http(s) URLs; grids get the links between their default and full columns.

The other hooks live beside it: `cells` (how grid and query cells read), `captured` (the stored
page, inert), `columns` (default grid columns), `errors` (error pages without console dumps).

Scraped text always reaches the page as text: templates rely on Jinja's autoescaping (Datasette
turns it on) and never mark scraped text safe; the markup built here goes through
`Markup.format`, which escapes every argument.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from datasette import hookimpl
from datasette.utils import urlsafe_components

from archiver.datasette import DB_NAME
from archiver.datasette.captured import captured_href
from archiver.datasette.columns import column_links
from archiver.datasette.display import diff_lines, human_date, json_list, paragraphs, web_href
from archiver.datasette.history import article_history
from archiver.urls import url_host

DATE_FIELDS = ("published_at", "modified_at", "first_seen_at", "last_fetched_at", "last_changed_at", "created_at")


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str) -> None:
    if database == DB_NAME:
        conn.execute("PRAGMA query_only = 1")
        conn.create_function("url_host", 1, url_host, deterministic=True)  # as the archive has it


def _dates(row: Any) -> dict[str, str | None]:
    """`<field>_text`: each date of a row in words (as stored when it is not a date)."""
    fields = dict(row)
    return {f"{name}_text": human_date(fields[name]) or fields[name] for name in DATE_FIELDS if name in fields}


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
    versions = await db.execute(
        "SELECT id, version, title, created_at, page_id, diff FROM article_versions WHERE article_id = ?",
        [article_id],
    )
    changes = await db.execute(
        "SELECT version, field, old_value, new_value, page_id, changed_at, cause FROM article_changes "
        "WHERE article_id = ? ORDER BY id",
        [article_id],
    )
    history = article_history(
        versions, changes,
        version_href=lambda id_: str(datasette.urls.row(DB_NAME, "article_versions", str(id_))),
        page_href=lambda id_: captured_href(datasette, id_),
    )
    return {
        "archiver_article": {
            **dict(article),
            **_dates(article),
            "authors": json_list(article["authors"]),
            "tags": json_list(article["tags"]),
            "paragraphs": paragraphs(article["body"]),
            "href": web_href(article["url"]),
            "image_href": web_href(article["image"]),
            "related": related,
            "history": history,
            "changes": sum(1 for entry in history if entry["kind"] == "changes"),
            "captured_href": captured_href(datasette, article["page_id"]) if article["page_id"] else None,
            "source_href": captured_href(datasette, article["page_id"], "source") if article["page_id"] else None,
            "history_href": datasette.urls.table(DB_NAME, "article_versions")
            + f"?article_id={article['id']}&_sort_desc=version",
            "changes_href": datasette.urls.table(DB_NAME, "article_changes")
            + f"?article_id={article['id']}&_sort_desc=changed_at",
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
            **_dates(version),
            "paragraphs": paragraphs(version["body"]),
            "diff_lines": diff_lines(version["diff"]) if version["diff"] else [],
            "article_href": datasette.urls.row(DB_NAME, "articles", str(version["article_id"])),
            "captured_href": captured_href(datasette, version["page_id"]) if version["page_id"] else None,
            "previous_href": version_href(version["version"] - 1),
            "next_href": version_href(version["version"] + 1),
        }
    }


@hookimpl
def extra_template_vars(
    template: str, database: str | None, table: str | None, view_name: str, request: Any, datasette: Any
) -> Any:
    if database != DB_NAME or request is None:
        return {}
    if view_name == "table":
        return {"archiver_columns": column_links(request)}
    pks = request.url_vars.get("pks")
    if view_name != "row" or not pks:
        return {}
    key = urlsafe_components(pks)[0]
    if table == "articles":
        return _article_vars(datasette, key)
    if table == "article_versions":
        return _version_vars(datasette, key)
    return {}
