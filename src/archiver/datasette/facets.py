"""The article list's facets from the counts the archive keeps (`archiver.store.counts`).

Datasette's own facets count with a GROUP BY over every row the list holds: at a million
articles each takes seconds and times out. The `counted` facet type reads the same exact counts
from `facet_counts` when the list is narrowed by nothing or by one value the archive counts
within (a site, a section, a language, an author, a year, a month); any other narrowing (a
day, two at once, a search, a filter of Datasette's) holds fewer articles, which it counts when
asked through `article_facets`, within Datasette's facet time limit.

`filters_from_request` also decides how a list narrowed by one author is read (see
`archiver.datasette.narrowing.walks_date_index`).

    {"counted": "site"} | "section" | "language"   column values (the link narrows: ?site=X)
    {"counted": "authors"}                          each author (?_author=NAME)
    {"counted": "published_utc"}                    years, the months of a chosen year, the
                                                    days of a chosen month (?_published=2024)

The log tables' facets (fetches, pages, versions: `LOG_FACETS`) read `column_counts` the same
way when nothing narrows the table, and count the rows of a narrowed table when asked.

`filters_from_request` turns `_author` and `_published` (`archiver.datasette.narrowing`) into SQL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils.asgi import BadRequest

from archiver.datasette import DB_NAME
from archiver.datasette.narrowing import (
    COLUMNS,
    Narrowing,
    kept,
    narrowings_of,
    period_facet,
    period_label,
    request_pairs,
    walks_date_index,
)
from archiver.store.counts import AUTHOR_PAIRS, FACET_PAIRS, LOG_FACETS, TABLE_ROWS

TABLE = "articles"
PERIODS = ("year", "month", "day")
_PAIRS = frozenset(FACET_PAIRS + AUTHOR_PAIRS)


def facet_kind(name: str, narrowings: list[Narrowing]) -> str:
    """The article_facets facet a configured facet shows now: the date facet drills down from
    years to the months of a chosen year to the days of a chosen month."""
    if name == "authors":
        return "author"
    if name != "published_utc":
        return name
    chosen = {n.facet for n in narrowings}
    return "day" if chosen & {"month", "day"} else "month" if "year" in chosen else "year"


def param_of(kind: str) -> str:
    return kind if kind in COLUMNS else "_author" if kind == "author" else "_published"


def counted_within(kind: str, narrowings: list[Narrowing], other: bool) -> tuple[bool, Narrowing | None]:
    """Whether the counts of `kind` are kept for the list as narrowed, and the one narrowing they
    are kept within (None: over all articles). Not kept: count the list's articles."""
    if other or len(narrowings) > 1:
        return False, None
    if not narrowings:
        return True, None
    only = narrowings[0]
    if only.facet == kind or (only.facet, kind) in _PAIRS:
        return True, only
    return False, None


class CountedFacet(Facet):
    type = "counted"

    async def suggest(self) -> list[dict[str, Any]]:
        return []

    def _link(self, pairs: list[tuple[str, str]]) -> str:
        query = urlencode(pairs)
        path = self.request.path + (f"?{query}" if query else "")
        return str(self.ds.absolute_url(self.request, self.ds.urls.path(path)))

    def _toggle(self, kind: str, value: str, selected: bool) -> str:
        """The link that adds a value to the list's narrowing (the date facet's replaces the
        period), or removes it when `selected`; a page token is dropped either way."""
        param = param_of(kind)
        pairs = [(k, v) for k, v in request_pairs(self.request) if k != "_next"]
        if selected:
            return self._link([(k, v) for k, v in pairs if not (k.removesuffix("__exact") == param and v == value)])
        if param == "_published":
            pairs = [(k, v) for k, v in pairs if k != param]
        return self._link([*pairs, (param, value)])

    async def _rows(self, kind: str, narrowings: list[Narrowing], other: bool, limit: int) -> list[tuple[str, int]]:
        order = "value DESC" if kind in PERIODS else "n DESC, value"
        kept, within = counted_within(kind, narrowings, other)
        if not kept:
            sql = (  # CROSS JOIN: from the list's articles to their values, not the other way
                f"SELECT f.value AS value, count(*) AS n FROM (SELECT id FROM ({self.sql})) AS a "
                f"CROSS JOIN article_facets AS f ON f.article_id = a.id AND f.facet = :facet_kind "
                f"GROUP BY f.value ORDER BY {order} LIMIT {limit}"
            )
            params = {**dict(self.params), "facet_kind": kind}
            time_limit = self.ds.setting("facet_time_limit_ms")
        else:
            if within is not None and within.facet == kind and kind != "author":
                where, params = "within_facet = '' AND facet = :kind AND value = :value", {"kind": kind, "value": within.value}
            elif within is not None and within.facet == kind:  # the author and their co-authors
                where = ("((within_facet = '' AND value = :value) OR (within_facet = 'author' AND within_value = :value)) "
                         "AND facet = :kind")
                params = {"kind": kind, "value": within.value}
            elif within is None:
                where, params = "within_facet = '' AND within_value = '' AND facet = :kind", {"kind": kind}
            else:
                where = "within_facet = :within AND within_value = :within_value AND facet = :kind"
                params = {"within": within.facet, "within_value": within.value, "kind": kind}
            sql = (
                f"SELECT value, articles AS n FROM facet_counts WHERE {where} AND articles > 0 "
                f"ORDER BY {order} LIMIT {limit}"
            )
            time_limit = None
        answer = await self.ds.execute(self.database, sql, params, truncate=False, custom_time_limit=time_limit)
        return [(row["value"], row["n"]) for row in answer.rows]

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        if self.table in LOG_FACETS:
            return await self._log_results()
        if self.table != TABLE:
            return results, timed_out
        narrowings, other = narrowings_of(request_pairs(self.request))
        size = self.get_facet_size()
        for source_and_config in self.get_configs():
            name = source_and_config["config"]["simple"]
            kind = facet_kind(name, narrowings)
            try:
                rows = await self._rows(kind, narrowings, other, size + 1)
            except QueryInterrupted:
                timed_out.append(name)
                continue
            chosen = {n.value for n in narrowings if n.facet == kind}
            values = []
            for value, count in rows[:size]:
                selected = value in chosen
                values.append({
                    "value": value,
                    "label": period_label(value) if kind in PERIODS else value,
                    "count": count,
                    "toggle_url": self._toggle(kind, value, selected),
                    "selected": selected,
                })
            above = [n for n in narrowings if n.facet in PERIODS and n.facet != kind]
            if name == "published_utc" and above:  # the chosen year or month, to widen again
                period = above[-1]
                total = await self.ds.execute(
                    self.database,
                    "SELECT articles FROM facet_counts WHERE within_facet = '' AND facet = :facet AND value = :value",
                    {"facet": period.facet, "value": period.value},
                )
                values.insert(0, {
                    "value": period.value, "label": period_label(period.value),
                    "count": total.rows[0][0] if total.rows else 0,
                    "toggle_url": self._toggle(period.facet, period.value, True), "selected": True,
                })
            results.append({
                "name": name,
                "type": "column",
                "hideable": source_and_config["source"] != "metadata",
                "toggle_url": self._link(
                    [(k, v) for k, v in request_pairs(self.request) if not (k.startswith("_facet") and v == name)]
                ),
                "results": values,
                "truncated": len(rows) > size,
            })
        return results, timed_out


    async def _log_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        """A log table's facets: kept counts, or a count of the narrowed rows."""
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        pairs = request_pairs(self.request)
        narrowed = narrowings_of(pairs)[1] or bool(narrowings_of(pairs)[0])
        size = self.get_facet_size()
        columns = LOG_FACETS[str(self.table)]
        for source_and_config in self.get_configs():
            column = source_and_config["config"]["simple"]
            if column not in columns:
                continue
            value_sql = columns[column].format(row="t")
            if narrowed:
                sql = (
                    f"SELECT {value_sql} AS value, count(*) AS n FROM ({self.sql}) AS t "
                    f"WHERE value IS NOT NULL GROUP BY value ORDER BY n DESC, value LIMIT {size + 1}"
                )
                params, limit = self.params, self.ds.setting("facet_time_limit_ms")
            else:
                sql = (
                    "SELECT value, rows AS n FROM column_counts WHERE table_name = :table AND column_name = :column "
                    f"AND rows > 0 ORDER BY n DESC, value LIMIT {size + 1}"
                )
                params, limit = {"table": self.table, "column": column}, None
            try:
                answer = await self.ds.execute(self.database, sql, params, truncate=False, custom_time_limit=limit)
            except QueryInterrupted:
                timed_out.append(column)
                continue
            param = f"{column}__date" if value_sql.startswith("date(") else column
            values = []
            for row in answer.rows[:size]:
                selected = (param, str(row["value"])) in pairs
                kept = [(k, v) for k, v in pairs if k != "_next" and not (k == param and v == str(row["value"]))]
                values.append({
                    "value": row["value"], "label": row["value"], "count": row["n"], "selected": selected,
                    "toggle_url": self._link(kept if selected else [*kept, (param, str(row["value"]))]),
                })
            results.append({
                "name": column, "type": "column", "hideable": source_and_config["source"] != "metadata",
                "toggle_url": self._link([(k, v) for k, v in pairs if not (k.startswith("_facet") and v == column)]),
                "results": values, "truncated": len(answer.rows) > size,
            })
        return results, timed_out


@hookimpl
def register_facet_classes() -> list[type]:
    return [CountedFacet]


@hookimpl
async def filters_from_request(request: Any, database: str, table: str, datasette: Any) -> FilterArguments | None:
    """`_author=NAME` and `_published=2024|2024-05|2024-05-31` on the article list."""
    if database != DB_NAME or table != TABLE:
        return None
    for key, value in request_pairs(request):
        if key == "_published" and value and period_facet(value) is None:
            raise BadRequest(
                f"_published={value}: not a year, month or day; write it as 2024, 2024-05 or 2024-05-31"
            )
    where: list[str] = []
    params: dict[str, str] = {}
    described: list[str] = []
    narrowings, other = narrowings_of(request_pairs(request))
    walk = await _walks(request, datasette, narrowings, other)
    for number, narrowing in enumerate(narrowings):
        if narrowing.facet in COLUMNS:
            continue  # Datasette's own column filter
        clause, values = narrowing.where(TABLE, key=f"narrow{number}", walk=walk)
        where.append(clause)
        params.update(values)
        described.append(narrowing.description)
    return FilterArguments(where, params=params, human_descriptions=described) if where else None


async def _walks(request: Any, datasette: Any, narrowings: list[Narrowing], other: bool) -> bool:
    """Whether the list narrowed to one author, in its default order (newest first), is read by
    walking the date index (`walks_date_index`): the author's and the archive's article counts
    are kept in facet_counts."""
    if other or len(narrowings) != 1 or narrowings[0].facet != "author":
        return False
    args = request.args
    if args.get("_sort") or args.get("_sort_desc", "published_utc") != "published_utc":
        return False
    counts = await datasette.execute(
        DB_NAME, f"SELECT ({kept('author', 'author')}), ({TABLE_ROWS['articles']})", {"author": narrowings[0].value}
    )
    articles, total = counts.rows[0]
    asked = str(args.get("_size") or "")
    size = int(asked) if asked.isdigit() else datasette.setting("max_returned_rows") if asked == "max" else 0
    return walks_date_index(articles, total, size or datasette.page_size)
