"""Search: what readers type as FTS5 queries (pure), and the search page over a real archive,
in process: relevance and date order, operators, snippets, narrowing, the bound on counting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from archiver.datasette import search
from archiver.datasette.ftsquery import fts_query, literal_query
from archiver.serve import make_datasette
from support.archives import article, build

FERRY = article("https://coast.example/ferry", "Ferry strike ends", "Crews are back at work.",
                published_at="2025-01-10T09:00:00+01:00", section="Transport")
BUDGET = article("https://city.example/budget", "Council budget", "The rail plan and the ferry plan.\n\nThe rail "
                 "line and the rail depot get most of it.", published_at="2025-03-01T09:00:00Z", section="Politics")
HARBOUR = article("https://city.example/harbour", "Harbour works begin", "The harbourside is closed. The council "
                  "election is next year.", published_at="2024-05-01T09:00:00Z")
HOSTILE = article("https://other.example/x", "Notes", 'A <script>alert(1)</script> ferry timetable & more.')
CAFE = article("https://other.example/cafe", "Café reopens", "Covid-19 closed it; U.S. visitors return.",
               published_at="2023-02-01T09:00:00Z")


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = build(tmp_path_factory.mktemp("search") / "a.db", [
        (FERRY, "coast"), (BUDGET, "city"), (HARBOUR, "city"), (HOSTILE, "other"), (CAFE, "other"),
    ])
    return make_datasette(path)


def found(ds: Any, query: str, status: int = 200) -> dict[str, Any]:
    response = asyncio.run(ds.client.get(f"/archive/-/search.json?{query}"))
    assert response.status_code == status, response.text[:300]
    return response.json()


def titles(ds: Any, query: str) -> list[str]:
    return [row["title"] for row in found(ds, query)["rows"]]


def test_typed_text_becomes_an_fts5_query() -> None:
    assert fts_query("rail OR ferry") == "rail OR ferry"
    assert fts_query("council NOT election") == "council NOT election"
    assert fts_query("rail -ferry") == "rail NOT ferry"
    assert fts_query("harb*") == "harb*"
    assert fts_query('"interest rates') == '"interest rates"'  # an open quote is closed
    assert fts_query("covid-19 U.S.") == '"covid-19" "U.S."'
    assert fts_query("title:storm") == "title: storm"
    assert fts_query("NEAR(rail ferry, 5)") == "NEAR( rail ferry, 5 )"
    assert fts_query("rail or ferry") == "rail or ferry"  # lower case: words
    assert fts_query("  ") == ""
    assert literal_query('rail OR (ferry') == '"rail" "ferry"'


def test_relevance_first_and_date_order_one_click_away(ds: Any) -> None:
    # the headline match outranks two mentions in a body; by date the newest comes first
    assert titles(ds, "q=ferry")[0] == FERRY.title
    assert titles(ds, "q=ferry&sort=newest") == [BUDGET.title, FERRY.title, HOSTILE.title]
    assert titles(ds, "q=ferry&sort=oldest") == [HOSTILE.title, FERRY.title, BUDGET.title]  # undated first
    assert titles(ds, "q=rail") == [BUDGET.title]
    html = asyncio.run(ds.client.get("/archive/-/search?q=ferry")).text
    assert 'href="/archive/-/search?q=ferry&amp;sort=newest"' in html


def test_operators_work_as_typed(ds: Any) -> None:
    assert sorted(titles(ds, "q=rail+OR+strike")) == sorted([FERRY.title, BUDGET.title])
    assert titles(ds, "q=council+NOT+election") == [BUDGET.title]
    assert titles(ds, "q=harb*") == [HARBOUR.title]
    assert titles(ds, "q=NEAR(rail+depot,+3)") == [BUDGET.title]
    assert titles(ds, "q=%22ferry+plan%22") == [BUDGET.title]
    assert titles(ds, "q=%22plan+ferry%22") == []
    assert titles(ds, "q=cafe") == [CAFE.title] == titles(ds, "q=covid-19")


def test_snippets_mark_the_match_and_escape_the_page_text(ds: Any) -> None:
    rows = {row["title"]: row for row in found(ds, "q=ferry")["rows"]}
    assert "<mark>ferry</mark> plan" in rows[BUDGET.title]["snippet_html"]
    assert rows[FERRY.title]["title_html"] == "<mark>Ferry</mark> strike ends"
    hostile = rows[HOSTILE.title]["snippet_html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>ferry</mark> timetable &amp; more" in hostile
    html = asyncio.run(ds.client.get("/archive/-/search?q=ferry")).text
    assert "<script>alert(1)" not in html and "<mark>ferry</mark>" in html


def test_narrowed_like_the_list(ds: Any) -> None:
    assert titles(ds, "q=ferry&site=coast") == [FERRY.title]
    assert titles(ds, "q=ferry+OR+harbour&_published=2025&sort=newest") == [BUDGET.title, FERRY.title]
    assert titles(ds, "q=ferry&section=Politics") == [BUDGET.title]
    assert found(ds, "q=ferry&_published=2025-13", status=400)["error"].startswith("_published=2025-13")


def test_a_query_fts5_cannot_read_is_explained_with_a_way_out(ds: Any) -> None:
    response = asyncio.run(ds.client.get("/archive/-/search?q=rail+OR"))
    assert response.status_code == 400
    assert "rail OR: not a search FTS5 can read" in response.text
    assert 'href="/archive/-/search?q=%22rail%22"' in response.text
    assert found(ds, "q=ferry&sort=best", status=400)["error"] == "sort=best: use one of relevance, newest, oldest"


def test_past_the_bound_counting_stops_and_ranking_takes_the_latest(ds: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "BOUND", 2)
    answer = found(ds, "q=ferry")
    assert (answer["matched"], answer["more_than"]) == (2, True)
    # ranked among the two most recently archived matches: FERRY (stored first, the best match
    # by its headline) is left out
    assert sorted(row["title"] for row in answer["rows"]) == sorted([BUDGET.title, HOSTILE.title])
    # past the bound, date order sorts the most recently archived (oldest first: the first archived)
    assert titles(ds, "q=ferry&sort=newest") == [BUDGET.title, HOSTILE.title]
    assert titles(ds, "q=ferry&sort=oldest") == [FERRY.title, BUDGET.title]
    monkeypatch.setattr(search, "BOUND", 10)
    assert titles(ds, "q=ferry&sort=newest") == [BUDGET.title, FERRY.title, HOSTILE.title]
    monkeypatch.setattr(search, "FEW", 0)  # many: found walking the date index
    assert titles(ds, "q=ferry&sort=newest") == [BUDGET.title, FERRY.title, HOSTILE.title]
    assert titles(ds, "q=ferry&sort=oldest") == [HOSTILE.title, FERRY.title, BUDGET.title]
    assert titles(ds, "q=ferry&sort=newest&site=city") == [BUDGET.title]
    monkeypatch.setattr(search, "BOUND", 2)
    assert "More than 2 articles match" in asyncio.run(ds.client.get("/archive/-/search?q=ferry")).text


def test_pages_of_results(ds: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "PAGE_SIZE", 2)
    first = found(ds, "q=ferry&sort=newest")
    assert [row["title"] for row in first["rows"]] == [BUDGET.title, FERRY.title]
    assert first["next"] == "/archive/-/search?q=ferry&sort=newest&page=2"
    assert titles(ds, "q=ferry&sort=newest&page=2") == [HOSTILE.title]


def test_the_lists_search_box_opens_the_search_page(ds: Any) -> None:
    response = asyncio.run(ds.client.get("/archive/articles?_search=ferry&site=coast&_sort=id"))
    assert response.status_code == 302
    assert response.headers["location"] == "/archive/-/search?q=ferry&site=coast"
    # the JSON API keeps Datasette's own _search for scripts
    data = asyncio.run(ds.client.get("/archive/articles.json?_search=ferry&_shape=objects")).json()
    assert len(data["rows"]) == 3


def test_snippets_mark_what_fts5_matches_on_the_pages_articles_alone() -> None:
    from archiver.datasette.snippets import mark

    rows = [(7, "Harbour vote", None, "The harbourside café closed. Ferry fares rose."),
            (8, "Other", "A ferry strike", "Nothing about boats here.")]
    assert mark(rows, "harb*", "[", "]", 10)[7] == ("[Harbour] vote", "The [harbourside] café closed. Ferry fares rose.")
    assert mark(rows, "cafe NOT election", "[", "]", 10)[7][1].startswith("The harbourside [café]")
    assert mark(rows, '"ferry fares"', "[", "]", 10)[7][1].endswith("[Ferry fares] rose.")
    assert mark(rows, "ferry", "[", "]", 10)[8] == ("Other", "A [ferry] strike")  # from the standfirst
    assert mark([], "ferry", "[", "]", 10) == {}
