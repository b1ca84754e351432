"""The article list's facets at scale (`archiver.datasette.facets`): the counts kept at write time
agree with a count of the articles themselves, under every narrowing a reader clicks, and each
facet link opens a list of exactly that many articles."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from archiver.datasette.narrowing import kept_count, walks_date_index
from archiver.options import bench_module
from archiver.serve import make_datasette

pytestmark = pytest.mark.slow

UTC = "published_utc"
TRUTH = {  # facet name -> SQL of (article id, value)
    "site": "SELECT id, site FROM articles",
    "section": "SELECT id, section FROM articles",
    "language": "SELECT id, language FROM articles",
    "authors": "SELECT a.id, j.value FROM articles a, json_each(a.authors) j",
    "year": f"SELECT id, substr({UTC}, 1, 4) FROM articles",
    "month": f"SELECT id, substr({UTC}, 1, 7) FROM articles",
    "day": f"SELECT id, substr({UTC}, 1, 10) FROM articles",
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("facets") / "news.db"
    bench_module("newsarchive").build_archive(path, 400)
    return path


@pytest.fixture(scope="module")
def ds(archive: Path) -> Any:
    return make_datasette(archive)


def values(conn: sqlite3.Connection, facet: str) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for article_id, value in conn.execute(TRUTH[facet]):
        if value:
            found.setdefault(article_id, set()).add(value)
    return found


def expected(conn: sqlite3.Connection, facet: str, within: dict[str, str]) -> Counter[str]:
    """Articles per value of `facet` among those with every (facet, value) of `within`."""
    ids = {row[0] for row in conn.execute("SELECT id FROM articles")}
    for name, value in within.items():
        ids &= {i for i, vs in values(conn, name).items() if value in vs}
    return Counter(v for i, vs in values(conn, facet).items() if i in ids for v in vs)


def get(ds: Any, path: str) -> dict[str, Any]:
    response = asyncio.run(ds.client.get(path))
    assert response.status_code == 200, (path, response.text[:300])
    return response.json()


PARAMS = {"site": "site", "section": "section", "language": "language", "authors": "_author",
          "year": "_published", "month": "_published", "day": "_published"}


def test_facet_counts_agree_with_the_articles_under_each_narrowing(ds: Any, archive: Path) -> None:
    conn = sqlite3.connect(archive)
    top = get(ds, "/archive/articles.json?_size=1")["facet_results"]
    year = top["published_utc"]["results"][0]["value"]
    month = max(expected(conn, "month", {"year": year}).items(), key=lambda kv: kv[1])[0]
    day = max(expected(conn, "day", {}).items(), key=lambda kv: kv[1])[0]
    narrowings: list[dict[str, str]] = [{}]
    for name in ("site", "section", "language", "authors"):
        narrowings.append({name: top[name]["results"][0]["value"]})
    narrowings += [{"year": year}, {"month": month}, {"day": day},
                   {"site": top["site"]["results"][0]["value"], "year": year}]
    for within in narrowings:
        query = "&".join(f"{PARAMS[k]}={v}" for k, v in within.items())
        data = get(ds, f"/archive/articles.json?_size=1&{query}")
        assert set(data["facet_results"]) == set(top), within  # none timed out
        for name, facet in data["facet_results"].items():
            shown = facet["results"]
            if name == "published_utc":
                level = "day" if {"month", "day"} & set(within) else "month" if "year" in within else "year"
                shown = [r for r in shown if len(r["value"]) == {"year": 4, "month": 7, "day": 10}[level]]
            else:
                level = name
            truth = expected(conn, level, within)
            assert {r["value"]: r["count"] for r in shown} == {
                v: n for v, n in truth.items() if v in {r["value"] for r in shown}
            }, (within, name)
            # the biggest values are the ones shown (dates: all, newest first)
            if name != "published_utc" and not facet["truncated"]:
                assert len(shown) == len(truth), (within, name)
    conn.close()


def test_each_facet_link_opens_as_many_articles_as_it_counts(ds: Any) -> None:
    top = get(ds, "/archive/articles.json?_size=1")["facet_results"]
    for name, facet in top.items():
        first = facet["results"][0]
        link = urlsplit(first["toggle_url"])
        data = get(ds, f"{link.path}?{link.query}")
        assert data["filtered_table_rows_count"] == first["count"], name
        assert len(data["rows"]) == 1


def test_an_unreadable_period_is_a_clear_error(ds: Any) -> None:
    response = asyncio.run(ds.client.get("/archive/articles.json?_published=May"))
    assert response.status_code == 400
    assert "_published=May: not a year, month or day" in response.text


@pytest.fixture(scope="module")
def prolific(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive with one author on every fourth article (100 of 400): their list is read by
    walking the date index at 5 a page, and by reading their articles at 50 a page."""
    path = tmp_path_factory.mktemp("prolific") / "news.db"
    with sqlite3.connect(archive) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    with sqlite3.connect(path) as conn:  # the triggers keep the counts, whatever writes
        conn.execute("""UPDATE articles SET authors = json_array('Prolific Writer', json_extract(authors, '$[0]'))
                        WHERE id % 4 = 0 AND json_extract(authors, '$[0]') IS NOT NULL""")
        conn.execute("UPDATE articles SET authors = json_array('Prolific Writer') WHERE id % 4 = 0 AND authors = '[]'")
    return path


def listed(ds: Any, query: str, pages: int) -> tuple[int, list[int]]:
    """The list's count and the ids of its first `pages` pages, following its next links."""
    data = get(ds, f"/archive/articles.json?_nofacet=1&_shape=objects&{query}")
    count, ids = data["filtered_table_rows_count"], [row["id"] for row in data["rows"]]
    for _ in range(pages - 1):
        if not data["next_url"]:
            break
        link = urlsplit(data["next_url"])
        data = get(ds, f"{link.path}?{link.query}")
        ids += [row["id"] for row in data["rows"]]
    return count, ids


def test_each_narrowed_list_counts_and_orders_its_articles_as_the_articles_say(prolific: Path) -> None:
    """Counts come from the kept counts and an author's list may walk the date index: the count
    and the rows, page after page, are those of the articles themselves."""
    ds = make_datasette(prolific)
    conn = sqlite3.connect(prolific)
    total = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    authored = conn.execute("SELECT count(*) FROM articles WHERE authors LIKE '%Prolific Writer%'").fetchone()[0]
    rare = conn.execute("SELECT value FROM facet_counts WHERE within_facet = '' AND facet = 'author' "
                        "AND articles = 2 ORDER BY value LIMIT 1").fetchone()[0]
    site, section, language = conn.execute("SELECT site, section, language FROM articles LIMIT 1").fetchone()
    # the prolific author's list is walked at 5 a page, read first at 50: both ways are tried
    assert walks_date_index(authored, total, 5) and not walks_date_index(authored, total, 50)
    order = "ORDER BY published_utc DESC, id DESC"
    by_author = "id IN (SELECT a.id FROM articles a, json_each(a.authors) j WHERE j.value = ?)"
    cases = [
        ("", "1", ()),
        (f"site={quote(site)}", "site = ?", (site,)),
        (f"section={quote(section)}", "section = ?", (section,)),
        (f"language={quote(language)}", "language = ?", (language,)),
        ("_author=Prolific+Writer", by_author, ("Prolific Writer",)),
        (f"_author={quote(rare)}", by_author, (rare,)),
        (f"_author=Prolific+Writer&site={quote(site)}", f"{by_author} AND site = ?", ("Prolific Writer", site)),
        ("_author=Nobody+At+All", by_author, ("Nobody At All",)),
    ]
    for query, where, params in cases:
        truth = [row[0] for row in conn.execute(f"SELECT id FROM articles WHERE {where} {order}", params)]
        for size in (5, 50):
            count, ids = listed(ds, f"{query}&_size={size}", pages=3)
            assert count == len(truth), (query, size)
            assert ids == truth[: 3 * size], (query, size)
    conn.close()


@pytest.mark.parametrize(("sql", "kept"), [
    ("select count(*) from articles ", "facet = 'site'"),
    ('select count(*) from articles where "language" = :p0 ', "facet = 'language' AND value = :p0"),
    ('select count(*) from articles where "site" = :p0 ', "facet = 'site' AND value = :p0"),
    (("select count(*) from articles where +articles.id IN (SELECT article_id FROM article_facets "
      "WHERE facet = 'author' AND value = :narrow0) "), "facet = 'author' AND value = :narrow0"),
])
def test_the_lists_count_is_read_from_the_kept_counts(sql: str, kept: str) -> None:
    assert "facet_counts" in kept_count(sql) and kept in kept_count(sql)


def test_other_statements_are_left_as_they_are_but_a_walked_count_reads_the_author_first() -> None:
    walked = ("select count(*) from articles where +articles.id IN (SELECT article_id FROM article_facets "
              "WHERE facet = 'author' AND value = :narrow0) and \"site\" = :p0 ")
    assert kept_count(walked) == walked.replace("+articles.id", "articles.id")
    for sql in ('select count(*) from articles where "language" = :p0 and "site" = :p1 ',
                ("select id from articles where +articles.id IN (SELECT article_id FROM article_facets "
                 "WHERE facet = 'author' AND value = :narrow0) order by published_utc desc"),
                'select count(*) from articles_fts where "language" = :p0 ',
                "select count(*) from article_versions "):
        assert kept_count(sql) == sql
