"""The archive on real SQLite files: migrations, upserts, versions, related links, FTS."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from archiver import store
from archiver.errors import StoreError
from archiver.models import Article, Fetched, FetchFailure, FetchResult, RelatedLink


def page(url: str, body: bytes = b"<html><body><p>x</p></body></html>") -> Fetched:
    return Fetched(
        url=url,
        final_url=url,
        status=200,
        headers=(("Content-Type", "text/html; charset=utf-8"), ("ETag", '"abc"')),
        content=body,
        fetched_at="2026-01-01T00:00:00Z",
        elapsed=0.1,
    )


ARTICLE = Article(
    url="https://news.example/a?utm_source=x",
    canonical_url="https://news.example/a",
    title="Café société: a title with accents",
    body="First paragraph about the harbour.\n\nSecond paragraph.",
    authors=("Ana Pérez",),
    related=(
        RelatedLink("Other story", "https://news.example/b", "Excerpt of b"),
        RelatedLink("Third story", "https://news.example/c", None),
    ),
    extractor="generic",
    extractor_version="1",
)


def result(article: Article | None = ARTICLE, fetched: Fetched | None = None, failure=None) -> FetchResult:
    fetched = fetched if fetched is not None or failure else page(article.url if article else "x")
    return FetchResult(
        url=(article.url if article else failure.url),
        started_at="2026-01-01T00:00:00Z",
        duration=0.2,
        fetched=fetched,
        article=article,
        failure=failure,
    )


@pytest.fixture()
def db(tmp_path):
    return store.open_archive(tmp_path / "sub" / "archive.db")


def test_open_creates_schema_in_wal_mode(db, tmp_path):
    assert (tmp_path / "sub" / "archive.db").exists()
    assert {"pages", "articles", "article_versions", "related_links", "fetches", "crawl_runs",
            "sites", "articles_fts"} <= set(db.table_names())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.applied_migrations(db) == [name for name, _ in store.MIGRATIONS]


def test_migrating_twice_is_a_no_op(db, tmp_path):
    assert store.migrate(db) == []
    again = store.open_archive(tmp_path / "sub" / "archive.db")
    assert store.applied_migrations(again) == [name for name, _ in store.MIGRATIONS]


def test_a_new_migration_upgrades_an_older_archive_in_place(db, tmp_path, monkeypatch):
    store.store_result(db, result())
    extra = ("9999_test_column", "ALTER TABLE articles ADD COLUMN test_note TEXT;")
    monkeypatch.setattr(store.schema, "MIGRATIONS", [*store.MIGRATIONS, extra])
    upgraded = store.open_archive(tmp_path / "sub" / "archive.db")
    assert store.applied_migrations(upgraded)[-1] == "9999_test_column"
    assert upgraded.execute("SELECT title, test_note FROM articles").fetchone() == (ARTICLE.title, None)


def test_a_failing_migration_changes_nothing(db, tmp_path, monkeypatch):
    broken = ("9999_broken", "CREATE TABLE half_done (x); INSERT INTO no_such_table VALUES (1);")
    monkeypatch.setattr(store.schema, "MIGRATIONS", [*store.MIGRATIONS, broken])
    with pytest.raises(StoreError):
        store.open_archive(tmp_path / "sub" / "archive.db")
    assert "half_done" not in db.table_names()
    assert "9999_broken" not in store.applied_migrations(db)


def test_stores_article_page_related_and_fetch(db):
    outcome = store.store_result(db, result())
    assert outcome.outcome == "new" and outcome.version == 1
    row = db.execute("SELECT url, fetched_url, site, title, versions, word_count FROM articles").fetchone()
    assert row == ("https://news.example/a", "https://news.example/a?utm_source=x", "news.example",
                   ARTICLE.title, 1, 7)
    assert store.decompress(db.execute("SELECT body FROM pages").fetchone()[0]) == b"<html><body><p>x</p></body></html>"
    assert db.execute("SELECT etag, content_type, charset FROM pages").fetchone() == ('"abc"', "text/html", "utf-8")
    links = db.execute("SELECT position, title, url, summary FROM related_links ORDER BY position").fetchall()
    assert links == [(1, "Other story", "https://news.example/b", "Excerpt of b"),
                     (2, "Third story", "https://news.example/c", None)]
    assert db.execute("SELECT outcome, article_id, page_id FROM fetches").fetchone() == ("new", 1, 1)
    record = store.article_record(db, outcome.article_id)
    assert record["authors"] == ["Ana Pérez"]
    assert [r["url"] for r in record["related"]] == ["https://news.example/b", "https://news.example/c"]


def test_same_content_twice_leaves_one_article_one_version(db):
    store.store_result(db, result())
    second = store.store_result(db, result())
    assert second.outcome == "unchanged"
    assert db["articles"].count == 1
    assert db["article_versions"].count == 1
    assert db["fetches"].count == 2


def test_changed_content_makes_a_version_with_diff(db):
    store.store_result(db, result())
    changed = replace(ARTICLE, body="First paragraph about the harbour.\n\nSecond paragraph, corrected.")
    outcome = store.store_result(db, result(changed))
    assert (outcome.outcome, outcome.version) == ("changed", 2)
    versions = db.execute("SELECT version, diff FROM article_versions ORDER BY version").fetchall()
    assert [v for v, _ in versions] == [1, 2]
    assert versions[0][1] is None
    assert "-Second paragraph." in versions[1][1] and "+Second paragraph, corrected." in versions[1][1]
    assert db.execute("SELECT versions, body FROM articles").fetchone() == (2, changed.body)


def test_related_link_targets_resolve_when_target_is_archived(db):
    store.store_result(db, result())
    other = Article(url="https://news.example/b", title="Other story", body="Body of b.",
                    extractor="generic", extractor_version="1")
    b = store.store_result(db, result(other))
    assert db.execute("SELECT target_article_id FROM related_links WHERE url = ?",
                      ["https://news.example/b"]).fetchone()[0] == b.article_id


def test_full_text_search_ignores_accents(db):
    store.store_result(db, result())
    hits = db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'cafe societe'").fetchall()
    assert hits == [(1,)]
    changed = replace(ARTICLE, body="Entirely new words about lighthouses.")
    store.store_result(db, result(changed))
    assert db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'harbour'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'lighthouses'").fetchone()[0] == 1


def test_failure_is_recorded_and_nothing_else_changes(db):
    store.store_result(db, result())
    failure = FetchFailure("https://news.example/x", "http-status", "HTTP 404 Not Found", 404)
    outcome = store.store_result(db, FetchResult("https://news.example/x", "2026-01-01T00:00:00Z", 0.1,
                                                 failure=failure))
    assert outcome.outcome == "failed"
    assert db.execute("SELECT status, error_kind, error_message FROM fetches WHERE outcome='failed'").fetchone() == (
        404, "http-status", "HTTP 404 Not Found")
    assert db["articles"].count == 1


def test_a_failed_write_rolls_back_whole_result(db, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store.archive, "_save_article", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.store_result(db, result())
    assert db["pages"].count == 0 and db["fetches"].count == 0


def test_unopenable_path_is_a_clear_error(tmp_path):
    target = tmp_path / "not-a-db"
    target.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not-a-db"):
        store.open_archive(target)
    assert target.read_bytes() == b"this is not sqlite" * 100
