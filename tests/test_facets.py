"""The article list's facets at scale (`archiver.datasette.facets`): the counts kept at write time
agree with a count of the articles themselves, under every narrowing a reader clicks, and each
facet link opens a list of exactly that many articles."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

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
