"""How the article list is narrowed, read from a request: the narrowings the archive counts ahead.

    site=X, section=X, language=X (or col__exact=X)   Datasette's own column filters
    _author=NAME                                      articles NAME wrote (or co-wrote)
    _published=2024 | 2024-05 | 2024-05-31            published in that year, month or day (UTC)

`_author` and `_published` are archiver's (`filters_from_request` in `archiver.datasette.facets`
turns them into SQL): Datasette's `authors__arraycontains` and `published_utc__date` read every
row's JSON or date to answer, where these use an index. The facets (`archiver.datasette.facets`)
answer from the archive's counts when the list is narrowed by nothing or by one of these; the
search page (`archiver.datasette.search`) takes the same parameters.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from archiver.store.counts import TABLE_ROWS

COLUMNS = ("site", "section", "language")
PERIOD = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
# request arguments that narrow the list besides those read here (Datasette's column filters are
# the arguments without a leading _ or with a __ in them)
_FILTERS = ("_where", "_search", "_filter", "_through")


# How an author narrows the list: the ids of the articles they wrote (or co-wrote).
AUTHOR_SET = ".id IN (SELECT article_id FROM article_facets WHERE facet = 'author' AND value = :"
# A unary + before the column makes SQLite use the author's ids as a check on each row, not as
# the rows to read: see walks_date_index.
WALKED = "+"


def walks_date_index(articles: int, total: int, page_size: int) -> bool:
    """Whether an author's list in date order is best read by walking the date index and keeping
    their articles, rather than by reading all their articles and sorting them.

    SQLite takes the second way whenever it can (it has no idea how many articles an author
    has): for an author with 15,000 articles in a million, that is 15,000 rows read and sorted
    (about 250 ms), where the walk fills a page of 50 after about 50 x 1,000,000 / 15,000 =
    3,300 index entries (under 10 ms). The walk costs about page_size x total / articles entries
    and the sort about `articles` rows: walk when the first is the smaller."""
    return articles > 0 and page_size * total < articles * articles


_COUNT = "select count(*) from articles"  # how Datasette's count of the list begins


def kept(facet: str, param: str) -> str:
    """SQL of the kept count of the articles with the value `:param` of `facet` (0 for none)."""
    return (
        "SELECT coalesce((SELECT articles FROM facet_counts WHERE within_facet = '' AND within_value = '' "
        f"AND facet = '{facet}' AND value = :{param}), 0)"
    )


def kept_count(sql: str) -> str:
    """Datasette's count of the article list, as the archive's kept counts answer it where they
    hold it: the whole list, the list narrowed by one site, section or language (Datasette's
    `"column" = :p0`) and the list narrowed by one author alone (the only one walked: see
    `archiver.datasette.facets`). Counting is otherwise a walk over up to a million index entries
    on every page load (40-80 ms). Any other count of a walked list reads the author's index
    entries first again: a count has no order to keep. Every other statement is left as it is."""
    if not sql.startswith(_COUNT):
        return sql
    where = sql[len(_COUNT):].strip()
    if not where:
        return TABLE_ROWS["articles"]
    for column in COLUMNS:
        if where == f'where "{column}" = :p0':
            return kept(column, "p0")
    walked, _ = Narrowing("author", "", "_author").where("articles", key="narrow0", walk=True)
    if where == f"where {walked}":
        return kept("author", "narrow0")
    return sql.replace(f"{WALKED}articles{AUTHOR_SET}", f"articles{AUTHOR_SET}")


@dataclass(frozen=True)
class Narrowing:
    """One narrowing of the article list."""

    facet: str  # site, section, language, author, year, month, day (as article_facets has them)
    value: str
    param: str  # the request argument that set it

    def where(self, table: str = "articles", key: str = "narrow", walk: bool = False) -> tuple[str, dict[str, str]]:
        """SQL (a condition on `table`) and its parameters (named `key` and `key`_...). `walk`: an
        author's articles are kept while the list is read in another index's order (see
        `walks_date_index`), rather than read first."""
        if self.facet in COLUMNS:
            return f"{table}.[{self.facet}] = :{key}", {key: self.value}
        if self.facet == "author":
            return f"{WALKED if walk else ''}{table}{AUTHOR_SET}{key})", {key: self.value}
        start, end = period_bounds(self.value)
        return (
            f"{table}.published_utc >= :{key}_from AND {table}.published_utc < :{key}_to",
            {f"{key}_from": start, f"{key}_to": end},
        )

    @property
    def description(self) -> str:
        if self.facet in COLUMNS:
            return f"{self.facet} is {self.value}"
        if self.facet == "author":
            return f"by {self.value}"
        return f"published in {period_label(self.value)} (UTC)"


def period_facet(value: str) -> str | None:
    """year, month or day for a `_published` value; None when it is not one."""
    found = PERIOD.fullmatch(value.strip())
    if not found:
        return None
    try:
        date(int(found.group(1)), int(found.group(2) or 1), int(found.group(3) or 1))
    except ValueError:
        return None
    return "day" if found.group(3) else "month" if found.group(2) else "year"


def period_bounds(value: str) -> tuple[str, str]:
    """The published_utc range [start, end) of a year, month or day (its text sorts in time order)."""
    kind = period_facet(value)
    year, month, day = (int(part) for part in (value.split("-") + ["1", "1"])[:3])
    if kind == "year":
        return f"{year:04d}", f"{year + 1:04d}"
    if kind == "month":
        following = date(year, month, 28) + timedelta(days=4)
        return f"{year:04d}-{month:02d}", f"{following:%Y-%m}"
    following = date(year, month, day) + timedelta(days=1)
    return f"{year:04d}-{month:02d}-{day:02d}", following.isoformat()


def period_label(value: str) -> str:
    """2024, May 2024, 31 May 2024."""
    parts = value.split("-")
    if len(parts) == 1:
        return value
    month = calendar.month_name[int(parts[1])]
    return f"{month} {parts[0]}" if len(parts) == 2 else f"{int(parts[2])} {month} {parts[0]}"


def narrowings_of(args: Iterable[tuple[str, str]]) -> tuple[list[Narrowing], bool]:
    """The narrowings in request arguments (key, value) pairs, and whether anything else narrows
    the list too (another column filter, `_where`, a search ...)."""
    found: list[Narrowing] = []
    other = False
    for key, value in args:
        column = key.removesuffix("__exact")
        if column in COLUMNS:
            found.append(Narrowing(column, value, key))
        elif key == "_author" and value:
            found.append(Narrowing("author", value, key))
        elif key == "_published" and value:
            kind = period_facet(value)
            if kind is None:
                other = True  # an unreadable period: the filter hook reports it
            else:
                found.append(Narrowing(kind, value.strip(), key))
        elif not key.startswith("_") or "__" in key or key.startswith(_FILTERS):
            other = True
        # anything else says how to show the list (_sort, _size, _next, _col, _view ...)
    return found, other


def request_pairs(request: Any) -> list[tuple[str, str]]:
    """A Datasette request's arguments as (key, value) pairs, repeated keys included."""
    return [(key, value) for key in request.args for value in request.args.getlist(key)]
