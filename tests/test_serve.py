"""The Datasette site of `archiver serve`, in process: configuration, canned queries, read-only,
escaping; and the `serve` command's errors. (`test_browser.py` drives the real server.)"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from archiver import store
from archiver.datasette import DB_NAME, QUERIES, load_metadata
from archiver.datasette.display import diff_lines, web_href
from archiver.models import Article, FetchFailure, FetchResult, RelatedLink
from archiver.serve import make_datasette
from archiver.store import discovery
from support.servearchive import captured, response, store_article

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> Breakwater vote'


HARBOUR = Article(
    url="https://news.example/harbour",
    title="Café owners welcome the harbour plan",
    subtitle="A new quay by spring",
    body="The council approved the harbour plan on Monday.\n\nWork starts in March.",
    authors=("Ana Pérez", "Bo Lind"),
    published_at="2025-09-01T08:00:00Z",
    language="fr",
    section="Local",
    tags=("harbour", "council"),
    related=(
        RelatedLink("Rail line reopens", "https://news.example/rail", "Trains are back."),
        RelatedLink("Click me", "javascript:alert(3)", None),
    ),
    extractor="generic",
    extractor_version="1",
)
RAIL = Article(
    url="https://news.example/rail",
    title="Rail line reopens",
    body="Trains returned to the coast line.",
    authors=("Bo Lind",),
    published_at="2025-09-03T08:00:00Z",
    language="en",
    section="Transport",
    extractor="generic",
    extractor_version="1",
)
HOSTILE_ARTICLE = Article(
    url="https://other.example/x",
    title=HOSTILE,
    body='Text with <b onmouseover="alert(4)">markup</b> in it.',
    extractor="generic",
    extractor_version="1",
)


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "news.db"
    db = store.Archive(path)
    store_article(db, HARBOUR, "2026-01-01T10:00:00Z", site="news")
    store_article(db, RAIL, "2026-01-01T10:01:00Z", site="news")
    store_article(db, replace(HARBOUR, body=HARBOUR.body + "\n\nThe mayor called it historic."),
           "2026-01-02T09:00:00Z", site="news")
    store_article(db, HOSTILE_ARTICLE, "2026-01-02T10:00:00Z")
    for i, kind in enumerate(["http-status", "http-status", "transport"]):
        url = f"https://broken.example/{i}"
        db.store_result(FetchResult(url, "2026-01-03T00:00:00Z", 0.1,
                                           failure=FetchFailure(url, kind, f"failed {i}", 503)))
    url = "https://other.example/empty"
    db.store_result(FetchResult(url, "2026-01-03T00:00:00Z", 0.1,
                                       fetched=captured(url, "2026-01-03T00:00:00Z"),
                                       failure=FetchFailure(url, "extract", "empty body")))
    # discovery of a site that finds no articles on its section pages, and of one that finds some
    discovery.count_links(db, "lost.example", "lost.example", articles=0, rejected=40, now="2026-01-03T00:00:00Z")
    discovery.count_links(db, "news.example", "news", articles=30, rejected=10, now="2026-01-03T00:00:00Z")
    db.close()
    return path


@pytest.fixture(scope="module")
def ds(archive_path: Path):  # type: ignore[no-untyped-def]
    return make_datasette(archive_path)


def get(ds, path: str) -> Any:  # type: ignore[no-untyped-def]
    got = response(ds, path)
    return got.json() if ".json" in path else got.text


def rows(ds, path: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    sep = "&" if "?" in path else "?"
    return get(ds, f"{path}{sep}_shape=objects")["rows"]


# --- configuration --------------------------------------------------------------------------------


def test_every_table_and_articles_column_is_described(archive_path):
    metadata = load_metadata()["databases"][DB_NAME]
    db = store.Archive(archive_path)
    tables = {t for t in db.table_names() if not t.startswith("articles_fts")} - {"migrations"}
    assert tables <= set(metadata["tables"])
    for name in tables:
        assert metadata["tables"][name].get("description"), name
    for name in ("articles", "article_versions", "article_changes", "related_links", "pages", "fetches"):
        assert set(db[name].columns_dict) == set(metadata["tables"][name]["columns"]), name
    assert metadata["tables"]["migrations"]["hidden"] is True
    db.close()


def test_canned_queries_have_titles_and_sql_files():
    queries = load_metadata()["databases"][DB_NAME]["queries"]
    assert set(queries) == {p.stem for p in QUERIES.glob("*.sql")} == {
        "latest_articles", "changed_articles", "related_graph", "failures_by_host", "extraction_health",
    }
    for query in queries.values():
        assert query["title"] and query["description"] and query["sql"].strip()


def test_articles_newest_first_with_facets(ds):
    data = get(ds, "/archive/articles.json?_shape=objects")
    assert [r["title"] for r in data["rows"]] == [RAIL.title, HARBOUR.title, HOSTILE]
    facets = data["facet_results"]
    assert set(facets) == {"site", "section", "language", "authors", "published_utc"}
    authors = {item["value"]: item["count"] for item in facets["authors"]["results"]}
    assert authors == {"Bo Lind": 2, "Ana Pérez": 1}
    assert {item["value"] for item in facets["site"]["results"]} == {"news", "other.example"}
    assert [(item["value"], item["count"]) for item in facets["published_utc"]["results"]] == [("2025", 2)]
    # the facets' links narrow the list, and the facets drill down from the year to its months
    narrowed = get(ds, "/archive/articles.json?_published=2025&_author=Bo+Lind&_shape=objects")
    assert [r["title"] for r in narrowed["rows"]] == [RAIL.title, HARBOUR.title]
    months = narrowed["facet_results"]["published_utc"]["results"]
    assert [(m["value"], m["count"], m["selected"]) for m in months] == [("2025", 2, True), ("2025-09", 2, False)]


def test_log_tables_facet_from_kept_counts(ds):
    facets = get(ds, "/archive/fetches.json")["facet_results"]
    outcomes = {item["value"]: item["count"] for item in facets["outcome"]["results"]}
    assert outcomes == {"new": 3, "changed": 1, "failed": 4}
    assert {item["value"]: item["count"] for item in facets["started_at"]["results"]} == {
        "2026-01-01": 2, "2026-01-02": 2, "2026-01-03": 4,
    }
    failed = next(item for item in facets["outcome"]["results"] if item["value"] == "failed")
    narrowed = get(ds, failed["toggle_url"].replace("http://localhost", ""))
    assert narrowed["filtered_table_rows_count"] == 4
    # narrowed, the facets count the rows in the list
    assert {i["value"]: i["count"] for i in narrowed["facet_results"]["error_kind"]["results"]} == {
        "http-status": 2, "transport": 1, "extract": 1,
    }
    day = get(ds, "/archive/fetches.json?started_at__date=2026-01-03")
    assert day["filtered_table_rows_count"] == 4
    assert [i["value"] for i in get(ds, "/archive/article_versions.json")["facet_results"]["version"]["results"]] == [1, 2]


def test_full_text_search_with_and_without_accents(ds):
    assert [r["title"] for r in rows(ds, "/archive/articles.json?_search=cafe")] == [HARBOUR.title]
    assert [r["title"] for r in rows(ds, "/archive/articles.json?_search=Café")] == [HARBOUR.title]
    assert [r["title"] for r in rows(ds, "/archive/articles.json?_search=%22mayor+called%22")] == [
        HARBOUR.title
    ]
    assert rows(ds, "/archive/articles.json?_search=%22called+mayor%22") == []


# --- canned queries -----------------------------------------------------------------------------


def test_latest_articles(ds):
    titles = [r["title"] for r in rows(ds, "/archive/latest_articles.json")]
    # by publication time, else first seen (2026-01-02 is later than any 2025 publication)
    assert titles == [HOSTILE, RAIL.title, HARBOUR.title]
    assert [r["title"] for r in rows(ds, "/archive/latest_articles.json?site=news")] == [
        RAIL.title, HARBOUR.title,
    ]


def test_changed_articles_with_their_diffs(ds):
    [change] = rows(ds, "/archive/changed_articles.json")
    assert (change["title"], change["version"], change["versions_now"]) == (HARBOUR.title, 2, 2)
    assert "+The mayor called it historic." in change["diff"]
    html = get(ds, "/archive/changed_articles")
    assert '<span class="diff-add">+The mayor called it historic.</span>' in html


def test_related_link_graph_resolves_archived_targets(ds):
    graph = rows(ds, "/archive/related_graph.json")
    assert [(r["title"], r["position"], r["link_url"], r["target_title"]) for r in graph] == [
        (HARBOUR.title, 1, "https://news.example/rail", RAIL.title),
        (HARBOUR.title, 2, "javascript:alert(3)", None),
    ]


def test_the_archive_page_counts_each_table_as_its_rows_say(ds, archive_path):
    """Tables whose counts the archive keeps are read from them, the others counted; hidden
    tables are listed uncounted."""
    counts = asyncio.run(ds.get_database(DB_NAME).table_counts())
    hidden = set(asyncio.run(ds.get_database(DB_NAME).hidden_table_names()))
    conn = sqlite3.connect(archive_path)
    for table, count in counts.items():
        truth = None if table in hidden else conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]
        assert count == truth, table
    assert {"articles", "fetches", "pages", "article_versions", "related_links"} <= {
        table for table, count in counts.items() if count}
    conn.close()


def test_failures_by_host(ds):
    result = rows(ds, "/archive/failures_by_host.json")
    assert [(r["host"], r["error_kind"], r["failures"], r["urls"]) for r in result] == [
        ("broken.example", "http-status", 2, 2),
        ("broken.example", "transport", 1, 1),
        ("other.example", "extract", 1, 1),
    ]


def test_extraction_health_per_site(ds):
    health = {r["site"]: r for r in rows(ds, "/archive/extraction_health.json")}
    assert set(health) == {"news", "other.example", "lost.example"}
    # a site whose section pages gave no article among 40 links: visible as such
    lost = health["lost.example"]
    assert (lost["articles"], lost["section_links_articles"], lost["section_links_rejected"],
            lost["section_links_article_pct"]) == (0, 0, 40, 0.0)
    assert (health["news"]["section_links_articles"], health["news"]["section_links_article_pct"]) == (30, 75.0)
    assert health["news"]["articles"] == 2
    assert (health["news"]["no_body_pct"], health["news"]["missing_date_pct"],
            health["news"]["missing_author_pct"]) == (0.0, 0.0, 0.0)
    other = health["other.example"]
    # one article (no date, no author) and one page whose extraction failed
    assert (other["articles"], other["extract_failures"], other["no_body_pct"],
            other["missing_date_pct"], other["missing_author_pct"]) == (1, 1, 50.0, 100.0, 100.0)


# --- reading view -------------------------------------------------------------------------------


def test_article_page_reads_like_an_article(ds):
    html = get(ds, "/archive/articles/1")
    assert '<h1 class="archiver-title">Café owners welcome the harbour plan</h1>' in html
    for paragraph in ("The council approved the harbour plan on Monday.", "Work starts in March.",
                      "The mayor called it historic."):
        assert f"<p>{paragraph}</p>" in html
    assert 'href="/archive/articles/2">Rail line reopens</a>' in html  # archived target
    assert 'href="https://news.example/rail"' in html
    assert "Click me <small>javascript:alert(3)</small>" in html  # shown, not linked
    assert 'href="javascript:' not in html
    assert html.count('href="/archive/article_versions/') == 2
    version = get(ds, "/archive/article_versions/3")
    assert '<span class="diff-add">+The mayor called it historic.</span>' in version
    assert 'previous version' in version and "Version 2 of 2" in version


def test_scraped_markup_is_escaped_everywhere(ds):
    pages = [
        "/archive/articles",
        "/archive/articles?_view=table",
        "/archive/articles/3",
        "/archive/latest_articles",
        "/archive/-/search?q=markup",
        "/archive/article_versions",
    ]
    for path in pages:
        html = get(ds, path)
        assert "<script>alert(1)" not in html, path
        assert "onerror=" not in html.replace("onerror=&#34;", "").replace("onerror=&quot;", ""), path
        assert "<b onmouseover" not in html, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in get(ds, "/archive/articles/3")


def test_web_href_keeps_only_http_urls():
    assert web_href("https://a.example/x") == "https://a.example/x"
    assert web_href(" http://a.example/ ") == "http://a.example/"
    for bad in ("javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "/relative", "", None):
        assert web_href(bad) is None


def test_diff_lines_classifies_lines():
    assert [k for k, _ in diff_lines("--- v1\n+++ v2\n@@ -1 +1 @@\n-a\n+b\n c")] == [
        "file", "file", "hunk", "del", "add", "same",
    ]


# --- read-only ----------------------------------------------------------------------------------


def test_nothing_served_can_write_the_archive(ds, archive_path):
    before = archive_path.read_bytes()
    response = asyncio.run(ds.client.get("/archive.json?sql=DELETE+FROM+articles"))
    assert response.status_code >= 400
    database = ds.get_database(DB_NAME)
    with pytest.raises(sqlite3.OperationalError, match="readonly|query_only|read-only"):
        asyncio.run(database.execute_write("DELETE FROM articles"))
    assert archive_path.read_bytes() == before
    assert len(rows(ds, "/archive/articles.json")) == 3


# --- the command --------------------------------------------------------------------------------


def test_serve_without_an_archive_is_a_clear_error(run_cli, tmp_path):
    result = run_cli("serve", "--db", "missing.db", "--port", "0")
    assert result.returncode == 2
    assert "missing.db: no archive there" in result.stderr and "archiver demo" in result.stderr
    assert not (tmp_path / "missing.db").exists()


def test_serve_on_a_busy_port_is_a_clear_error(run_cli, archive_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = run_cli("serve", "--db", str(archive_path), "--port", str(port), timeout=60)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


def test_serve_prints_the_archive_url_and_no_traceback_for_expected_errors(archive_path):
    proc = subprocess.Popen([sys.executable, "-m", "archiver", "serve", "--db", str(archive_path), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" at ", 1)[1].split()[0]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/archive", url), line  # as the README says
        with urllib.request.urlopen(url) as response:
            assert response.status == 200 and "Articles" in response.read().decode()
        for path in ("/articles/999", "/articles/999.json", "/no_such_table", "/-/captured/999"):
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(url + path)
            assert error.value.code == 404, path
        with urllib.request.urlopen(url.rsplit("/", 1)[0] + "/.json") as response:
            assert list(json.load(response)) == [DB_NAME]  # no empty _memory database
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert "Traceback" not in out + err and "locals" not in out + err
    assert out.strip() == "" and err.strip() == "", (out, err)  # the one line read above, nothing more


def test_a_server_error_is_one_log_line_with_its_traceback(ds, caplog):
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug in a view")

    from datasette.app import Datasette

    original = Datasette.metadata
    try:
        Datasette.metadata = broken  # type: ignore[method-assign]
        with caplog.at_level("ERROR", logger="archiver.serve"):
            response = asyncio.run(ds.client.get("/archive/articles.json"))
    finally:
        Datasette.metadata = original  # type: ignore[method-assign]
    assert response.status_code == 500 and response.json()["error"] == "a bug in a view"
    [record] = caplog.records
    assert record.getMessage() == "GET /archive/articles.json: a bug in a view" and record.exc_info


def test_serve_upgrades_an_older_archive_first(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    monkeypatch.setattr(store.schema, "MIGRATIONS", store.schema.MIGRATIONS[:1])
    store.Archive(path).close()
    monkeypatch.undo()
    assert store.upgrade_archive(path) == [name for name, _ in store.MIGRATIONS[1:]]
    assert store.upgrade_archive(path) == []
    data = get(make_datasette(path), "/archive/pages.json?_shape=objects")
    assert "headers" in data["columns"]


def test_articles_written_while_serving_show_up(tmp_path):
    path = tmp_path / "live.db"
    writer = store.Archive(path)
    store_article(writer, RAIL, "2026-01-01T10:00:00Z")
    ds = make_datasette(path)
    assert len(rows(ds, "/archive/articles.json")) == 1
    store_article(writer, HARBOUR, "2026-01-01T11:00:00Z")  # a crawl writing while Datasette reads
    assert [r["title"] for r in rows(ds, "/archive/articles.json?_search=harbour")] == [HARBOUR.title]
    assert len(rows(ds, "/archive/articles.json")) == 2
    writer.close()
