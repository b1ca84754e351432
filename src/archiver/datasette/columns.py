"""The columns a grid shows by default: the ones a reader scans, not every URL and hash.

Datasette shows every column of a table, so three URL columns and a content hash squeeze an
article's text into a sliver. For the tables below, an HTML grid asked for without a choice of
columns (no `_col`, `_nocol` or `_columns`) is served as if asked with `_col=` for the default
columns and `_columns=default`: Datasette then selects only those (less read from disk, too) and
every link it builds (sort, facet, next page, hide a column) keeps the choice. `_columns=all`
shows every column; so does Datasette's own "Show all columns", which drops `_col` and `_nocol`
but leaves `_columns`. The JSON and CSV APIs are never changed: they give every column.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.utils import path_with_replaced_args

from archiver.datasette import DB_NAME

# table -> the columns its grid shows by default (the primary key is always shown; a column the
# archive does not have yet is left out). published_utc is the sort key of the publication time
# (as stated, published_at may carry any offset and so does not sort as text).
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "articles": ("title", "site", "section", "authors", "published_at", "published_utc", "word_count",
                 "versions", "last_changed_at"),
    "article_versions": ("article_id", "version", "title", "created_at", "diff"),
    "article_changes": ("article_id", "changed_at", "field", "old_value", "new_value", "cause"),
    "related_links": ("article_id", "position", "title", "target_article_id", "url"),
    "pages": ("url", "status", "content_type", "body_size", "fetched_at", "duration"),
    "fetches": ("started_at", "url", "outcome", "status", "error_kind", "error_message", "duration",
                "article_id"),
    "frontier": ("url", "kind", "state", "site", "published_at", "next_attempt_at", "attempts",
                 "last_error"),
}
CHOICE = "_columns"  # default (as injected), or all
LIST_VIEW_TABLES = ("articles",)  # their HTML is a list unless ?_view=table: only the grid changes

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def default_query(table: str, query: str, columns: list[str]) -> str | None:
    """The query string to serve an HTML grid of `table` with (`columns`: the table's), or None
    to serve it as asked."""
    if table not in DEFAULT_COLUMNS:
        return None
    args = parse_qsl(query, keep_blank_values=True)
    names = {name for name, _ in args}
    if names & {"_col", "_nocol", CHOICE}:
        return None
    if table in LIST_VIEW_TABLES and ("_view", "table") not in args:
        return None
    chosen = [("_col", name) for name in DEFAULT_COLUMNS[table] if name in columns]
    return urlencode([*args, *chosen, (CHOICE, "default")])


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable[[ASGIApp], ASGIApp]:
    prefix = f"/{DB_NAME}/"

    def wrap(app: ASGIApp) -> ASGIApp:
        async def with_default_columns(scope: dict[str, Any], receive: Any, send: Any) -> None:
            path = scope.get("path", "")
            if scope.get("type") == "http" and scope.get("method") == "GET" and path.startswith(prefix):
                table = path[len(prefix):]
                if table in DEFAULT_COLUMNS:  # the HTML grid: no extension, no row
                    db = datasette.get_database(DB_NAME)
                    query = scope.get("query_string", b"").decode("latin-1")
                    chosen = default_query(table, query, await db.table_columns(table))
                    if chosen is not None:
                        scope = {**scope, "query_string": chosen.encode("latin-1")}
            await app(scope, receive, send)

        return with_default_columns

    return wrap


def column_links(request: Any) -> dict[str, str] | None:
    """Links between the default and the full columns of a grid, and which it shows (default, all
    or chosen), for its template; None for a request that made no choice of columns."""
    choice = request.args.get(CHOICE)
    picked = "_col" in request.args or "_nocol" in request.args
    if choice is None and not picked:
        return None
    showing = "default" if choice == "default" and picked else "all" if not picked else "chosen"
    return {
        "showing": showing,
        "all": path_with_replaced_args(request, {"_col": None, "_nocol": None, CHOICE: "all"}),
        "default": path_with_replaced_args(request, {"_col": None, "_nocol": None, CHOICE: None}),
    }
