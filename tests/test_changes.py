"""Corrections are kept: a change of any extracted field on a later capture is a version (title,
body) or a row of the change log (every other field), never dropped. Store-level tests on real
SQLite files, and `archiver fetch` twice against a local site whose page changes its byline and
related links only."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

from archiver import store
from archiver.localserver import serve
from archiver.models import Article, Fetched, FetchResult, RelatedLink
from archiver.store.changes import METADATA_FIELDS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"

ARTICLE = Article(
    url="https://news.example/a",
    title="Harbour plan approved",
    body="The council approved the plan.\n\nWork starts in March.",
    authors=("Ana Pérez",),
    published_at="2026-01-01T09:00:00+01:00",
    section="Local",
    tags=("harbour",),
    related=(RelatedLink("Rail reopens", "https://news.example/b", "Trains are back."),),
    extractor="generic",
    extractor_version="1",
)


def capture(db: store.Archive, article: Article, at: str) -> store.StoreOutcome:
    fetched = Fetched(article.url, article.url, 200, (("Content-Type", "text/html"),),
                      f"<p>{at}</p>".encode(), at, 0.1)
    return db.store_result(FetchResult(article.url, at, 0.1, fetched=fetched, article=article))


def changes(db: store.Archive) -> list[tuple]:
    return db.execute(
        "SELECT version, field, old_value, new_value, page_id, changed_at, cause FROM article_changes ORDER BY id"
    ).fetchall()


def test_a_metadata_only_correction_is_recorded_field_by_field(tmp_path):
    db = store.Archive(tmp_path / "archive.db")
    first = capture(db, ARTICLE, "2026-01-01T10:00:00Z")
    assert (first.outcome, first.version, first.related) == ("new", 1, 1)
    corrected = replace(
        ARTICLE,
        authors=("Ana Pérez", "Bo Lind"),
        modified_at="2026-01-02T08:00:00+01:00",
        related=(*ARTICLE.related, RelatedLink("Ferry fares", "https://news.example/c", None)),
    )
    second = capture(db, corrected, "2026-01-02T10:00:00Z")
    assert second.outcome == "changed"
    assert second.changed == ("authors", "modified_at", "related")
    assert (second.version, second.related) == (1, 2)  # the text did not change: no new version
    assert changes(db) == [
        (1, "authors", '["Ana Pérez"]', '["Ana Pérez", "Bo Lind"]', 2, "2026-01-02T10:00:00Z", "fetch"),
        (1, "modified_at", None, "2026-01-02T08:00:00+01:00", 2, "2026-01-02T10:00:00Z", "fetch"),
        (1, "related",
         '[{"title": "Rail reopens", "url": "https://news.example/b", "summary": "Trains are back."}]',
         '[{"title": "Rail reopens", "url": "https://news.example/b", "summary": "Trains are back."}, '
         '{"title": "Ferry fares", "url": "https://news.example/c", "summary": null}]',
         2, "2026-01-02T10:00:00Z", "fetch"),
    ]
    row = db.execute(
        "SELECT authors, modified_at, versions, page_id, last_changed_at, last_fetched_at FROM articles"
    ).fetchone()
    assert row == ('["Ana Pérez", "Bo Lind"]', "2026-01-02T08:00:00+01:00", 1, 2,
                   "2026-01-02T10:00:00Z", "2026-01-02T10:00:00Z")
    assert db.execute("SELECT title, url FROM related_links ORDER BY position").fetchall() == [
        ("Rail reopens", "https://news.example/b"), ("Ferry fares", "https://news.example/c")]
    assert db["article_versions"].count == 1
    assert db.execute("SELECT outcome FROM fetches ORDER BY id").fetchall() == [("new",), ("changed",)]
    # the same again: nothing more is recorded
    third = capture(db, corrected, "2026-01-03T10:00:00Z")
    assert (third.outcome, third.changed, third.related) == ("unchanged", (), 2)
    assert len(changes(db)) == 3


def test_every_metadata_field_is_compared(tmp_path):
    db = store.Archive(tmp_path / "archive.db")
    capture(db, ARTICLE, "2026-01-01T10:00:00Z")
    values = {"subtitle": "A standfirst", "authors": ("Someone Else",), "published_at": "2026-01-01",
              "modified_at": "2026-01-05", "section": "World", "tags": ("port", "council"),
              "language": "en", "site_name": "News", "image": "https://news.example/i.jpg",
              "canonical_url": "https://news.example/a"}
    assert set(values) == set(METADATA_FIELDS)
    for n, (name, value) in enumerate(values.items(), start=2):
        outcome = capture(db, replace(ARTICLE, **{name: value}), f"2026-01-{n:02d}T10:00:00Z")
        assert (outcome.outcome, outcome.changed) == ("changed", (name,)), name
        capture(db, ARTICLE, f"2026-01-{n:02d}T11:00:00Z")  # and back
    fields = [row[1] for row in changes(db)]
    assert fields == [name for name in values for _ in (1, 2)]


def test_text_and_metadata_changed_together_make_one_version_and_its_changes(tmp_path):
    db = store.Archive(tmp_path / "archive.db")
    capture(db, ARTICLE, "2026-01-01T10:00:00Z")
    outcome = capture(db, replace(ARTICLE, title="Harbour plan approved at last", section="Politics"),
                      "2026-01-02T10:00:00Z")
    assert (outcome.outcome, outcome.version, outcome.changed) == ("changed", 2, ("title", "section"))
    assert [row[:4] for row in changes(db)] == [(2, "section", "Local", "Politics")]
    assert db.execute("SELECT versions, section FROM articles").fetchone() == (2, "Politics")


def test_json_spelled_differently_is_not_a_change(tmp_path):
    db = store.Archive(tmp_path / "archive.db")
    capture(db, ARTICLE, "2026-01-01T10:00:00Z")
    db.execute("UPDATE articles SET authors = ?", ['["Ana P\\u00e9rez"]'])  # an older archive's spelling
    assert capture(db, ARTICLE, "2026-01-02T10:00:00Z").outcome == "unchanged"
    assert changes(db) == []


BYLINE = ("By <a href=\"/staff/maria-lopez\">Maria Lopez</a> and "
          "<a href=\"/staff/james-whitfield\">James Whitfield</a>")
CORRECTED_BYLINE = ("By <a href=\"/staff/maria-lopez\">Maria Lopez</a>, "
                    "<a href=\"/staff/james-whitfield\">James Whitfield</a> and Ada Byrne")
DROPPED_RELATED = re.compile(r"<div>\n<a href=\"/news/business/regional-airport.*?</div>\n", re.S)


def test_fetching_a_page_whose_byline_and_related_links_changed_records_both(run_cli, tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    page = root / "rail.html"
    shutil.copy(FIXTURES / "other-plain.html", page)
    db = tmp_path / "archive.db"
    with serve(root) as site:
        url = f"{site.base_url}/rail.html"
        first = run_cli("fetch", "--allow-private", "--db", str(db), url)
        assert first.returncode == 0, first.stderr
        assert " new " in first.stdout and "4 related, version 1" in first.stdout
        html = page.read_text(encoding="utf-8")
        assert BYLINE in html and DROPPED_RELATED.search(html)
        html = DROPPED_RELATED.sub("", html.replace(BYLINE, CORRECTED_BYLINE))
        page.write_text(html.replace('content="Maria Lopez, James Whitfield"',
                                     'content="Maria Lopez, James Whitfield, Ada Byrne"'), encoding="utf-8")
        second = run_cli("fetch", "--allow-private", "--db", str(db), url)
    assert second.returncode == 0, second.stderr
    # the line says what the archive holds now, and what changed
    assert " changed " in second.stdout
    assert "3 related, version 1; changed: authors, related" in second.stdout
    with sqlite3.connect(db) as conn:
        article_id, authors, versions = conn.execute("SELECT id, authors, versions FROM articles").fetchone()
        assert versions == 1
        assert json.loads(authors) == ["Maria Lopez", "James Whitfield", "Ada Byrne"]
        assert conn.execute("SELECT count(*) FROM related_links WHERE article_id = ?",
                            [article_id]).fetchone() == (3,)
        history = conn.execute(
            "SELECT field, old_value, new_value, cause, page_id FROM article_changes ORDER BY id"
        ).fetchall()
        assert [(f, c, p) for f, _, _, c, p in history] == [("authors", "fetch", 2), ("related", "fetch", 2)]
        assert json.loads(history[0][1]) == ["Maria Lopez", "James Whitfield"]
        old_related, new_related = json.loads(history[1][1]), json.loads(history[1][2])
        assert len(old_related) == 4 and new_related == old_related[:3]
        assert conn.execute("SELECT outcome FROM fetches ORDER BY id").fetchall() == [("new",), ("changed",)]
