"""The archive's search page, `/archive/-/search?q=...` (and `.json`): ranked, with snippets.

- Relevance order by default: FTS5 `bm25`, a headline match weighing most, then the standfirst,
  then the body; `sort=newest` or `sort=oldest` orders by publication time instead.
- FTS5's operators as typed: `rail OR ferry`, `council NOT election`, `harb*`, `"rail line"`,
  `NEAR(...)`, `title:storm` (`archiver.datasette.ftsquery` reads what readers type).
- Each result shows its headline and a snippet of its text around the match, matches marked.
- Narrowed like the article list: `site=`, `section=`, `language=`, `_author=`, `_published=`.

At a million articles a common word matches most of them, and counting and ranking them all
takes seconds; a prefix or a phrase costs tens of milliseconds each time the query is
evaluated. So a search is evaluated once, for its matches in archive order up to BOUND (more are
reported as "more than"): up to BOUND they are ranked (or sorted by date) all together; beyond
it the ranking is over the BOUND most recently archived matches, and date order sorts those (the
first archived, for oldest first); the page says so. Snippets are marked on the page's few
articles alone (`archiver.datasette.snippets`). Every query runs under Datasette's time limit.

The article list's own search box (`/archive/articles?_search=...`) leads here; the list's JSON
API keeps Datasette's `_search` (date-ordered, no snippets) for scripts written against it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.utils import sqlite_timelimit
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

from archiver.datasette import DB_NAME, snippets
from archiver.datasette.ftsquery import fts_query, literal_query
from archiver.datasette.narrowing import Narrowing, narrowings_of, period_facet

BOUND = 5_000  # matches counted and ranked exactly
FEW = 2_000  # matches few enough to sort by date after reading them all
PAGE_SIZE = 20
SNIPPET_TOKENS = 40
WEIGHTS = "10.0, 4.0, 1.0"  # bm25 weights of title, subtitle, body
SORTS = ("relevance", "newest", "oldest")
PATH = f"/{DB_NAME}/-/search"
# match markers FTS5 puts around a match: private-use characters, replaced after escaping
_OPEN, _CLOSE = "\ue000", "\ue001"
_OWN_ARGS = frozenset({"q", "sort", "page"})


def last_page() -> int:
    return max(1, BOUND // PAGE_SIZE)


@dataclass(frozen=True)
class SearchRequest:
    text: str
    query: str  # as FTS5 reads it
    sort: str
    page: int
    narrowings: list[Narrowing]
    args: list[tuple[str, str]]  # the request's narrowing arguments, to keep in links

    @classmethod
    def of(cls, pairs: list[tuple[str, str]]) -> SearchRequest:
        args = dict(pairs)
        text = args.get("q", "").strip()
        sort = args.get("sort", "relevance")
        if sort not in SORTS:
            raise ValueError(f"sort={sort}: use one of {', '.join(SORTS)}")
        page = args.get("page", "1")
        if not page.isdigit() or not 1 <= int(page) <= last_page():
            raise ValueError(f"page={page}: pages run from 1 to {last_page()}; narrow the search for more")
        kept = [(k, v) for k, v in pairs if k not in _OWN_ARGS]
        for key, value in kept:
            if key == "_published" and period_facet(value) is None:
                raise ValueError(f"_published={value}: write a year, month or day as 2024, 2024-05 or 2024-05-31")
        narrowings, _ = narrowings_of(kept)
        return cls(text, fts_query(text), sort, int(page), narrowings, kept)

    def link(self, **changes: Any) -> str:
        """This search's URL with `changes` (q, sort, page; None drops one)."""
        own = {"q": self.text, "sort": self.sort if self.sort != "relevance" else None, "page": None}
        own.update(changes)
        pairs = [(k, str(v)) for k, v in own.items() if v is not None] + self.args
        return f"{PATH}?{urlencode(pairs)}"


def _narrowed(search: SearchRequest) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    for number, narrowing in enumerate(search.narrowings):
        clause, values = narrowing.where("articles", key=f"narrow{number}")
        clauses.append(clause)
        params.update(values)
    return " AND ".join(clauses), params


def candidates_sql(narrow: str, direction: str, score: bool) -> str:
    """The matches in archive order (`direction` DESC: the most recently archived first), with
    their bm25 score if `score`, up to :cap: the only query that evaluates the search, so a
    costly one (a prefix merges the lists of every word it starts) is evaluated once."""
    join = " JOIN articles ON articles.id = articles_fts.rowid" if narrow else ""
    also = f" AND {narrow}" if narrow else ""
    scored = f", bm25(articles_fts, {WEIGHTS}) AS score" if score else ""
    return (
        f"SELECT articles_fts.rowid AS rowid{scored} FROM articles_fts{join} "
        f"WHERE articles_fts MATCH :q{also} ORDER BY articles_fts.rowid {direction} LIMIT :cap"
    )


def ranked_sql(narrow: str) -> str:
    """One page (:limit, :offset) of the matches by relevance, bm25 over the candidates, each
    row with the number of candidates (the count, from the same evaluation)."""
    return (
        f"WITH m AS MATERIALIZED ({candidates_sql(narrow, 'DESC', True)}) "
        "SELECT rowid, (SELECT count(*) FROM m) FROM (SELECT rowid, score FROM m ORDER BY rowid DESC LIMIT :bound) "
        "ORDER BY score, rowid DESC LIMIT :limit OFFSET :offset"
    )


def _count(conn: sqlite3.Connection, narrow: str, params: dict[str, Any]) -> int:
    """The number of candidates (up to :cap), for a page past the last."""
    return int(conn.execute(f"SELECT count(*) FROM ({candidates_sql(narrow, 'DESC', False)})", params).fetchone()[0])


def dated_sql(sort: str, walk: bool) -> str:
    """One page (:limit, :offset) of the articles :ids (a JSON array) in date order: looked up
    and sorted, or (`walk`, for many) found walking the date index in its own order."""
    order = "published_utc DESC, articles.id" if sort == "newest" else "published_utc, articles.id DESC"
    member = "articles.id IN (SELECT value FROM json_each(:ids))"
    if walk:
        return (
            f"SELECT articles.id FROM articles INDEXED BY idx_articles_published_desc WHERE {member} "
            f"ORDER BY articles.{order} LIMIT :limit OFFSET :offset"
        )
    return f"SELECT articles.id FROM articles WHERE {member} ORDER BY +articles.{order} LIMIT :limit OFFSET :offset"


ROW_COLUMNS = ("id", "title", "subtitle", "site", "section", "authors", "published_at", "url", "word_count", "body")


def _page_rows(conn: sqlite3.Connection, ids: list[int]) -> list[dict[str, Any]]:
    """The articles `ids`, in that order."""
    marks = ", ".join("?" * len(ids))
    found = {
        row[0]: dict(zip(ROW_COLUMNS, row, strict=True))
        for row in conn.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM articles WHERE id IN ({marks})", ids)
    }
    return [found[i] for i in ids if i in found]


def marked(text: str | None) -> Markup:
    """Scraped text escaped, with FTS5's match markers as <mark>."""
    clean = str(escape(text or ""))
    return Markup(clean.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>"))


class SearchTimedOut(Exception):
    pass


@dataclass
class Results:
    matched: int  # up to BOUND + 1
    rows: list[dict[str, Any]]

    @property
    def more_than_bound(self) -> bool:
        return self.matched > BOUND


def search_archive(conn: sqlite3.Connection, search: SearchRequest, time_limit_ms: int) -> Results:
    """One page of results for `search` (PAGE_SIZE + 1 rows: one more says there is a next page)."""
    narrow, params = _narrowed(search)
    params.update({"q": search.query, "cap": BOUND + 1})
    try:
        with sqlite_timelimit(conn, time_limit_ms):
            offset = (search.page - 1) * PAGE_SIZE
            page: dict[str, Any] = {"limit": PAGE_SIZE + 1, "offset": offset, "bound": BOUND}
            if search.sort == "relevance":  # bm25 over the matches, or the most recently archived
                ranked = conn.execute(ranked_sql(narrow), {**params, **page}).fetchall()
                ids = [row[0] for row in ranked]
                matched = ranked[0][1] if ranked else _count(conn, narrow, params)
            else:  # past BOUND: the BOUND most recently (first, for oldest) archived, by date
                direction = "ASC" if search.sort == "oldest" else "DESC"
                found = [row[0] for row in conn.execute(candidates_sql(narrow, direction, False), params)]
                matched = len(found)
                page["ids"] = json.dumps(found[:BOUND])
                ids = [row[0] for row in conn.execute(dated_sql(search.sort, walk=FEW < matched and not narrow), page)]
            rows = _page_rows(conn, ids)
        texts = [(row["id"], row["title"], row["subtitle"], row.pop("body")) for row in rows]
        marks = snippets.mark(texts, search.query, _OPEN, _CLOSE, SNIPPET_TOKENS)
        for row in rows:
            row["marked_title"], row["snippet"] = marks.get(row["id"], (row["title"], ""))
    except sqlite3.OperationalError as exc:
        if exc.args == ("interrupted",):
            raise SearchTimedOut() from exc
        raise
    return Results(matched, rows)


def row_record(datasette: Any, row: dict[str, Any]) -> dict[str, Any]:
    plain = {k: v for k, v in row.items() if k not in ("marked_title", "snippet")}
    return {
        **plain,
        "href": datasette.urls.row(DB_NAME, "articles", str(row["id"])),
        "title_html": str(marked(row["marked_title"])),
        "snippet_html": str(marked(row["snippet"])),
    }


def _pairs(request: Any) -> list[tuple[str, str]]:
    return parse_qsl(request.query_string, keep_blank_values=False)


async def search_view(datasette: Any, request: Any) -> Response:
    as_json = request.url_vars.get("format") == "json"
    context: dict[str, Any] = {"search_path": PATH, "sorts": SORTS, "bound": BOUND}
    try:
        search = SearchRequest.of(_pairs(request))
    except ValueError as exc:
        if as_json:
            return Response.json({"ok": False, "error": str(exc)}, status=400)
        context.update({"error": str(exc), "search": None})
        return Response.html(await datasette.render_template("archiver-search.html", context, request=request), status=400)
    context["search"] = search
    status = 200
    results: Results | None = None
    if search.query:
        try:
            limit = datasette.setting("sql_time_limit_ms")
            results = await datasette.get_database(DB_NAME).execute_fn(
                lambda conn: search_archive(conn, search, limit)
            )
        except sqlite3.OperationalError as exc:
            status = 400
            context["error"] = f"{search.text}: not a search FTS5 can read ({exc})"
            literal = literal_query(search.text)
            context["literal_href"] = search.link(q=literal) if literal else None
        except SearchTimedOut:
            status = 400
            context["error"] = f"{search.text}: the search took too long; add a word, or narrow it by site or year"
    rows = [row_record(datasette, row) for row in (results.rows if results else [])]
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_href = search.link(page=search.page + 1) if more and search.page < last_page() else None
    if as_json:
        body: dict[str, Any] = {
            "ok": status == 200, "q": search.text, "query": search.query, "sort": search.sort,
            "page": search.page, "rows": rows, "next": next_href,
        }
        if results is not None:
            body.update({"matched": min(results.matched, BOUND), "more_than": results.more_than_bound})
        if status != 200:
            body["error"] = context["error"]
        return Response.json(body, status=status)
    context.update({
        "results": results,
        "rows": [{**row, "title_html": Markup(row["title_html"]), "snippet_html": Markup(row["snippet_html"])} for row in rows],
        "next_href": next_href,
        "previous_href": search.link(page=search.page - 1 if search.page > 2 else None) if search.page > 1 else None,
        "sort_links": {sort: search.link(sort=None if sort == "relevance" else sort) for sort in SORTS},
        "described": [n.description for n in search.narrowings],
        "unnarrowed_href": f"{PATH}?{urlencode([('q', search.text)] + ([('sort', search.sort)] if search.sort != 'relevance' else []))}",
        "table_href": datasette.urls.table(DB_NAME, "articles"),
    })
    return Response.html(await datasette.render_template("archiver-search.html", context, request=request), status=status)


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [(rf"^/{DB_NAME}/-/search(\.(?P<format>json))?$", search_view)]


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    """The article list's search box (`/archive/articles?_search=...`) opens the search page."""
    table_path = f"/{DB_NAME}/articles"

    def wrap(app: Any) -> Any:
        async def redirect_search(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("type") == "http" and scope.get("path") == table_path:
                pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=False)
                text = next((v for k, v in pairs if k == "_search"), None)
                if text:
                    keep = [(k, v) for k, v in pairs if not k.startswith("_") or k in ("_author", "_published")]
                    location = f"{PATH}?{urlencode([('q', text), *keep])}"
                    await send({"type": "http.response.start", "status": 302,
                                "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")]})
                    await send({"type": "http.response.body", "body": b""})
                    return
            await app(scope, receive, send)

        return redirect_search

    return wrap
