"""The archive on real SQLite files: migrations, upserts, versions, related links, FTS."""

from __future__ import annotations

import gzip
import sqlite3
from dataclasses import replace
from pathlib import Path

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
        duration=0.1,
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
    return store.Archive(tmp_path / "archive.db")


def test_open_creates_schema_in_wal_mode(db, tmp_path):
    assert (tmp_path / "archive.db").exists()
    assert {"pages", "articles", "article_versions", "related_links", "fetches", "crawl_runs",
            "sites", "articles_fts"} <= set(db.table_names())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.applied_migrations(db) == [name for name, _ in store.MIGRATIONS]


def test_migrating_twice_is_a_no_op(db, tmp_path):
    assert store.migrate(db) == []
    again = store.Archive(tmp_path / "archive.db")
    assert store.applied_migrations(again) == [name for name, _ in store.MIGRATIONS]


def test_a_new_migration_upgrades_an_older_archive_in_place(db, tmp_path, monkeypatch):
    db.store_result(result())
    extra = ("9999_test_column", "ALTER TABLE articles ADD COLUMN test_note TEXT;")
    monkeypatch.setattr(store.schema, "MIGRATIONS", [*store.MIGRATIONS, extra])
    upgraded = store.Archive(tmp_path / "archive.db")
    assert store.applied_migrations(upgraded)[-1] == "9999_test_column"
    assert upgraded.execute("SELECT title, test_note FROM articles").fetchone() == (ARTICLE.title, None)


def test_a_failing_migration_changes_nothing(db, tmp_path, monkeypatch):
    broken = ("9999_broken", "CREATE TABLE half_done (x); INSERT INTO no_such_table VALUES (1);")
    monkeypatch.setattr(store.schema, "MIGRATIONS", [*store.MIGRATIONS, broken])
    with pytest.raises(StoreError):
        store.Archive(tmp_path / "archive.db")
    assert "half_done" not in db.table_names()
    assert "9999_broken" not in store.applied_migrations(db)


def test_stores_article_page_related_and_fetch(db):
    outcome = db.store_result(result())
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
    record = db.article_record(outcome.article_id)
    assert record["authors"] == ["Ana Pérez"]
    assert [r["url"] for r in record["related"]] == ["https://news.example/b", "https://news.example/c"]


def test_same_content_twice_leaves_one_article_one_version(db):
    db.store_result(result())
    second = db.store_result(result())
    assert second.outcome == "unchanged"
    assert db["articles"].count == 1
    assert db["article_versions"].count == 1
    assert db["fetches"].count == 2


def test_changed_content_makes_a_version_with_diff(db):
    db.store_result(result())
    changed = replace(ARTICLE, body="First paragraph about the harbour.\n\nSecond paragraph, corrected.")
    outcome = db.store_result(result(changed))
    assert (outcome.outcome, outcome.version) == ("changed", 2)
    versions = db.execute("SELECT version, diff FROM article_versions ORDER BY version").fetchall()
    assert [v for v, _ in versions] == [1, 2]
    assert versions[0][1] is None
    assert "-Second paragraph." in versions[1][1] and "+Second paragraph, corrected." in versions[1][1]
    assert db.execute("SELECT versions, body FROM articles").fetchone() == (2, changed.body)


def test_related_link_targets_resolve_when_target_is_archived(db):
    db.store_result(result())
    other = Article(url="https://news.example/b", title="Other story", body="Body of b.",
                    extractor="generic", extractor_version="1")
    b = db.store_result(result(other))
    assert db.execute("SELECT target_article_id FROM related_links WHERE url = ?",
                      ["https://news.example/b"]).fetchone()[0] == b.article_id


def test_full_text_search_ignores_accents(db):
    db.store_result(result())
    hits = db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'cafe societe'").fetchall()
    assert hits == [(1,)]
    changed = replace(ARTICLE, body="Entirely new words about lighthouses.")
    db.store_result(result(changed))
    assert db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'harbour'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'lighthouses'").fetchone()[0] == 1


def test_failure_is_recorded_and_nothing_else_changes(db):
    db.store_result(result())
    failure = FetchFailure("https://news.example/x", "http-status", "HTTP 404 Not Found", 404)
    outcome = db.store_result(FetchResult("https://news.example/x", "2026-01-01T00:00:00Z", 0.1,
                                                 failure=failure))
    assert outcome.outcome == "failed"
    assert db.execute("SELECT status, error_kind, error_message FROM fetches WHERE outcome='failed'").fetchone() == (
        404, "http-status", "HTTP 404 Not Found")
    assert db["articles"].count == 1


def test_a_failed_write_rolls_back_whole_result(db, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store.articles, "_save_article", broken)
    with pytest.raises(StoreError, match="disk I/O error"):
        db.store_result(result())
    assert db["pages"].count == 0 and db["fetches"].count == 0


def test_unopenable_path_is_a_clear_error(tmp_path):
    target = tmp_path / "not-a-db"
    target.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not-a-db"):
        store.Archive(target)
    assert target.read_bytes() == b"this is not sqlite" * 100


# --- the schema the archive promises (issue 4) ------------------------------------------------------

PROMISED_COLUMNS = {
    "pages": {"url", "final_url", "status", "content_type", "charset", "etag", "last_modified",
              "content_length", "body", "sha256", "fetched_at", "duration", "headers"},
    "articles": {"id", "url", "canonical_url", "site", "title", "subtitle", "authors",
                 "published_at", "modified_at", "language", "section", "tags", "image", "body",
                 "word_count", "content_hash", "extractor", "extractor_version", "first_seen_at",
                 "last_fetched_at", "last_changed_at", "versions", "published_utc", "modified_utc"},
    "article_versions": {"article_id", "version", "content_hash", "title", "body", "page_id",
                         "created_at", "diff"},
    "related_links": {"article_id", "position", "title", "url", "summary", "target_article_id"},
    "fetches": {"url", "started_at", "status", "error_kind", "error_message", "attempts",
                "duration", "outcome"},
}  # fmt: skip


def test_schema_has_the_promised_columns_and_indexes(db):
    for table, columns in PROMISED_COLUMNS.items():
        assert columns <= set(db[table].columns_dict), table
    indexed = {(t, tuple(i.columns)) for t in PROMISED_COLUMNS for i in db[t].indexes}
    for wanted in [("articles", ("site", "published_utc")), ("articles", ("published_utc",)),
                   ("articles", ("first_seen_at",)), ("article_versions", ("article_id", "version")),
                   ("related_links", ("target_article_id",)), ("fetches", ("outcome",)),
                   ("fetches", ("article_id",)), ("pages", ("url",))]:  # fmt: skip
        assert wanted in indexed, wanted
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == store.BUSY_TIMEOUT_MS


def test_an_archive_from_before_page_headers_upgrades_without_loss(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    monkeypatch.setattr(store.schema, "MIGRATIONS", store.MIGRATIONS[:1])
    old = store.Archive(path)
    old.execute(
        """INSERT INTO pages (url, final_url, status, content_type, charset, etag, body, body_size,
               sha256, fetched_at, elapsed) VALUES ('u', 'u', 200, 'text/html', 'utf-8', '"e"', ?, 3, 'x', 't', 1.5)""",
        [gzip.compress(b"abc")],  # bodies were gzip before archive_0003_body_codec
    )
    old.close()
    monkeypatch.undo()
    assert store.upgrade_archive(path) == [name for name, _ in store.MIGRATIONS[1:]]
    db = store.Archive(path)
    assert db.execute("SELECT url, headers, body_codec, duration FROM pages").fetchone() == ("u", None, "gzip", 1.5)
    assert "elapsed" not in db["pages"].columns_dict  # one name for one idea: fetches.duration too
    schema_sql = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'pages'").fetchone()[0]
    assert "gzip of the body" not in schema_sql and "zstd (gzip before archive_0003)" in schema_sql
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    page = db.load_page(1)
    assert (page.content, page.duration) == (b"abc", 1.5)
    assert page.headers == (("Content-Type", "text/html; charset=utf-8"), ("ETag", '"e"'))


def test_dates_keep_their_offset_and_sort_by_their_utc_form(db):
    dated = [("https://news.example/tokyo", "2025-07-10T08:00:00+09:00", None),  # 23:00 UTC on the 9th
             ("https://news.example/london", "2025-07-09T23:30:00+01:00", "2025-07-10"),  # 22:30 UTC
             ("https://news.example/lima", "2025-07-09T19:00:00-05:00", None),  # 00:00 UTC on the 10th
             ("https://news.example/undated", None, None)]
    for url, published, modified in dated:
        article = replace(ARTICLE, url=url, canonical_url=None, title=url, published_at=published,
                          modified_at=modified, related=())
        db.store_result(result(article))
    rows = db.execute("SELECT url, published_at, published_utc, modified_utc FROM articles "
                      "ORDER BY published_utc DESC NULLS LAST").fetchall()
    assert rows == [
        ("https://news.example/lima", "2025-07-09T19:00:00-05:00", "2025-07-10T00:00:00Z", None),
        ("https://news.example/tokyo", "2025-07-10T08:00:00+09:00", "2025-07-09T23:00:00Z", None),
        ("https://news.example/london", "2025-07-09T23:30:00+01:00", "2025-07-09T22:30:00Z",
         "2025-07-10T00:00:00Z"),
        ("https://news.example/undated", None, None, None),
    ]
    # As text, the latest stated date is Tokyo's, though Lima's moment is the newest.
    assert max(r[1] for r in rows if r[1]) == "2025-07-10T08:00:00+09:00"


def test_an_archive_from_before_utc_dates_gets_them_on_upgrade(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    # an archive written before archive_0005_utc_dates: no UTC columns
    names = [name for name, _ in store.MIGRATIONS]
    monkeypatch.setattr(store.schema, "MIGRATIONS", store.MIGRATIONS[: names.index("archive_0005_utc_dates")])
    old = store.Archive(path)
    old.execute(
        """INSERT INTO articles (url, fetched_url, site, title, body, word_count, content_hash, extractor,
               extractor_version, first_seen_at, last_fetched_at, last_changed_at, published_at, modified_at)
           VALUES ('u', 'u', 's', 't', 'b', 1, 'h', 'e', '1', 'x', 'x', 'x', '2025-07-10T09:15:00+03:00', '2025-07-11')"""
    )
    old.conn.commit()
    old.close()
    monkeypatch.undo()
    assert store.upgrade_archive(path) == names[names.index("archive_0005_utc_dates"):]
    db = store.Archive(path)
    assert db.execute("SELECT published_utc, modified_utc FROM articles").fetchone() == (
        "2025-07-10T06:15:00Z", "2025-07-11T00:00:00Z")
    # and the later migrations count it under its UTC year
    assert db.execute("SELECT value FROM article_facets WHERE facet = 'year'").fetchone() == ("2025",)


def test_upgrading_an_up_to_date_archive_writes_nothing(db, tmp_path):
    db.close()
    path = tmp_path / "archive.db"
    before = (path.stat().st_mtime_ns, path.read_bytes())
    assert store.upgrade_archive(path) == []
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before
    with pytest.raises(StoreError, match="no archive there"):
        store.upgrade_archive(tmp_path / "nothing.db")


def test_pages_keep_every_response_header(db):
    db.store_result(result())
    assert db.load_page(1).headers == page(ARTICLE.url).headers


def test_unchanged_content_only_moves_last_fetched_at(db):
    db.store_result(result())
    later = replace(page(ARTICLE.url), fetched_at="2026-02-01T00:00:00Z")
    db.store_result(result(fetched=later))
    assert db.execute(
        "SELECT first_seen_at, last_fetched_at, last_changed_at, versions FROM articles"
    ).fetchone() == ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", 1)


def test_each_version_diffs_against_the_one_before(db):
    db.store_result(result())
    second = replace(ARTICLE, body="First paragraph about the harbour.\n\nSecond paragraph, v2.")
    third = replace(ARTICLE, body="First paragraph about the harbour.\n\nSecond paragraph, v3.")
    db.store_result(result(second, fetched=replace(page(ARTICLE.url), fetched_at="2026-01-02T00:00:00Z")))
    db.store_result(result(third, fetched=replace(page(ARTICLE.url), fetched_at="2026-01-03T00:00:00Z")))
    rows = db.execute("SELECT version, page_id, created_at, diff FROM article_versions ORDER BY version").fetchall()
    assert [(v, p, c) for v, p, c, _ in rows] == [
        (1, 1, "2026-01-01T00:00:00Z"), (2, 2, "2026-01-02T00:00:00Z"), (3, 3, "2026-01-03T00:00:00Z")]
    assert "-Second paragraph, v2." in rows[2][3] and "+Second paragraph, v3." in rows[2][3]
    assert "Second paragraph." not in rows[2][3]
    assert db.execute("SELECT versions, last_changed_at FROM articles").fetchone() == (3, "2026-01-03T00:00:00Z")


def test_search_matches_with_or_without_accents(db):
    plain = replace(ARTICLE, url="https://news.example/p", canonical_url=None,
                    title="Cafe societe", body="Resume of the debacle.")
    db.store_result(result())
    db.store_result(result(plain))
    def hits(query: str) -> list[int]:
        return [r[0] for r in db.execute(
            "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? ORDER BY rowid", [query])]
    assert hits("café") == hits("cafe") == [1, 2]
    assert hits("résumé") == [2] and hits("débâcle") == [2]
    assert hits('"harbour"') == [1]


def test_refetching_a_changed_fixture_page_makes_a_second_version(tmp_path, settings):
    from archiver.localserver import serve
    from archiver.pipeline import archive_urls

    site = tmp_path / "site"
    site.mkdir()
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "pages" / "other-plain.html"
    (site / "a.html").write_bytes(fixture.read_bytes())
    db = store.Archive(tmp_path / "archive.db")
    with serve(site) as srv:
        url = f"{srv.base_url}/a.html"
        assert archive_urls(db, [url], settings)[0][1].outcome == "new"
        unchanged = archive_urls(db, [url], settings)[0][1]
        assert (unchanged.outcome, unchanged.version) == ("unchanged", 1)
        assert db["article_versions"].count == 1
        text = (site / "a.html").read_text(encoding="utf-8")
        (site / "a.html").write_text(
            text.replace("about 140 passengers", "about 160 passengers"), encoding="utf-8")
        changed = archive_urls(db, [url], settings)[0][1]
    assert (changed.outcome, changed.version) == ("changed", 2)
    diff = db.execute("SELECT diff FROM article_versions WHERE version = 2").fetchone()[0]
    assert "about 140 passengers" in diff and "about 160 passengers" in diff
    assert [line[:2] for line in diff.split("\n") if "passengers on board" in line] == ["-T", "+T"]
    assert db.execute("SELECT versions FROM articles").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM pages").fetchone()[0] == 3
    assert [r[0] for r in db.execute("SELECT outcome FROM fetches ORDER BY id")] == ["new", "unchanged", "changed"]


def test_path_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="file.txt"):
        store.Archive(blocker / "archive.db")


def test_full_disk_is_a_clear_error_and_loses_nothing(tiny_disk):
    db = store.Archive(tiny_disk / "archive.db")
    db.store_result(result())
    import random

    rng = random.Random(7)
    body = " ".join(f"w{rng.getrandbits(40):x}" for _ in range(30_000))  # ~400 KB of text
    with pytest.raises(StoreError, match="full.*free disk space"):
        for i in range(100):
            big = replace(ARTICLE, url=f"https://news.example/big{i}", canonical_url=None,
                          body=f"{i} {body}")
            db.store_result(result(big, fetched=page(big.url, body.encode() + bytes([i]))))
    assert db.execute("SELECT title FROM articles WHERE url = ?", [ARTICLE.key_url]).fetchone() == (ARTICLE.title,)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert stored == db.execute("SELECT count(*) FROM article_versions").fetchone()[0]
    assert stored == db.execute("SELECT count(DISTINCT article_id) FROM fetches WHERE article_id IS NOT NULL").fetchone()[0]
    db.conn.close()


def test_nested_transactions_commit_together_or_not_at_all(db):
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.store_result(result())
            db.conn.execute("INSERT INTO sites (name) VALUES ('outer-write')")
            raise RuntimeError("killed between the two writes")
    assert db["articles"].count == 0 and db["pages"].count == 0 and db["sites"].count == 0
    with db.transaction():
        db.store_result(result())
        db.conn.execute("INSERT INTO sites (name) VALUES ('outer-write')")
    assert db["articles"].count == 1 and db["sites"].count == 1


def test_a_failing_inner_write_rolls_back_only_itself(db):
    with db.transaction():
        db.conn.execute("INSERT INTO sites (name) VALUES ('kept')")
        with pytest.raises(StoreError):
            with db.transaction():
                db.conn.execute("INSERT INTO sites (name) VALUES ('dropped')")
                raise StoreError("inner failure")
    assert [r[0] for r in db.execute("SELECT name FROM sites")] == ["kept"]


def test_new_pages_are_zstd_and_damaged_bodies_are_a_clear_error(db):
    db.store_result(result())
    blob, codec, size = db.execute("SELECT body, body_codec, body_size FROM pages").fetchone()
    assert codec == "zstd" and blob[:4] == b"\x28\xb5\x2f\xfd"
    assert store.decompress(blob) == page(ARTICLE.url).content and size == len(page(ARTICLE.url).content)
    with pytest.raises(StoreError, match="neither zstd nor gzip"):
        store.decompress(b"plain bytes")


def _titles(path: Path) -> list[str]:
    """The article titles another connection sees (what is committed)."""
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT title FROM articles ORDER BY id")]
    finally:
        conn.close()


def article_n(n: int) -> Article:
    return replace(ARTICLE, url=f"https://news.example/{n}", canonical_url=None, title=f"Story {n}")


def test_group_commit_commits_items_together_by_count_and_by_time(tmp_path):
    path = tmp_path / "archive.db"
    db = store.Archive(path)
    now = [0.0]
    group = store.GroupCommit(db, max_items=3, max_seconds=10.0, clock=lambda: now[0])
    for n in (1, 2):
        with group.item():
            db.store_result(result(article_n(n)))
    assert _titles(path) == []  # open: nothing visible to readers yet
    with group.item():
        db.store_result(result(article_n(3)))
    assert _titles(path) == ["Story 1", "Story 2", "Story 3"] and group.commits == 1
    with group.item():
        db.store_result(result(article_n(4)))
    group.commit_if_due()
    assert len(_titles(path)) == 3  # neither full nor old enough
    now[0] = 10.0
    group.commit_if_due()
    assert len(_titles(path)) == 4 and group.commits == 2 and not group.open


def test_a_failed_item_rolls_back_its_open_group_and_nothing_committed(tmp_path):
    """As a crash would: the open group goes (its URLs stay due), committed groups stay, and the
    next item opens a new group."""
    path = tmp_path / "archive.db"
    db = store.Archive(path)
    group = store.GroupCommit(db, max_items=2)
    for n in (1, 2):  # a full group: committed
        with group.item():
            db.store_result(result(article_n(n)))
    with group.item():
        db.store_result(result(article_n(3)))
    with pytest.raises(RuntimeError), group.item():
        db.store_result(result(article_n(4)))
        raise RuntimeError("extraction bug after the article was written")
    assert not group.open and group.dropped == 1
    with group.item():
        db.store_result(result(article_n(5)))
    group.commit()
    assert _titles(path) == ["Story 1", "Story 2", "Story 5"]
    assert db.execute("SELECT count(*) FROM fetches").fetchone()[0] == 3
    assert db.execute("SELECT count(*) FROM pages").fetchone()[0] == 3
    assert fts_rows(db) == {1, 2, 3}  # ids: 3 and 4 were rolled back, 5 reused id 3
    assert_index_consistent(db)


def fts_rows(db) -> set[int]:  # type: ignore[no-untyped-def]
    return {row[0] for row in db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'harbour'")}


def assert_index_consistent(db) -> None:  # type: ignore[no-untyped-def]
    """FTS5's own check that the index holds exactly what the articles table does."""
    db.conn.execute("INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)")


def test_articles_of_a_group_are_searchable_once_it_commits_even_when_changed_within_it(tmp_path):
    path = tmp_path / "archive.db"
    db = store.Archive(path)
    group = store.GroupCommit(db, max_items=10)
    with group.item():
        db.store_result(result(article_n(1)))
    with group.item():  # the same article again, changed, before the group commits
        db.store_result(result(replace(article_n(1), body="Now about lighthouses.")))
    with group.item():
        db.store_result(result(article_n(2)))
    group.commit()
    assert fts_rows(db) == {2}
    assert [r[0] for r in db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'lighthouses'")] == [1]
    assert_index_consistent(db)


def test_an_article_rolled_back_with_its_savepoint_is_not_indexed(db):
    with db.transaction():
        db.store_result(result(article_n(1)))
        with pytest.raises(StoreError), db.transaction():
            db.store_result(result(article_n(2)))
            raise StoreError("inner failure")
    assert fts_rows(db) == {1}
    assert_index_consistent(db)


def index_segments_written(db) -> int:  # type: ignore[no-untyped-def]
    """How many segments the full-text index has ever written: the write counter of its
    structure record (row 10 of the %_data table: a 4-byte cookie, an optional 4-byte version
    marker, then varints for the number of levels, of segments, and the counter)."""
    block = db.execute("SELECT block FROM articles_fts_data WHERE id = 10").fetchone()[0]
    at = 8 if block[4:8] == b"\xff\x00\x00\x01" else 4

    def varint() -> int:  # SQLite's: 7 bits a byte, big-endian, the 9th byte whole
        nonlocal at
        value = 0
        for k in range(9):
            byte = block[at]
            at += 1
            if k == 8:
                return (value << 8) | byte
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        return value

    varint()  # levels
    varint()  # segments now
    return varint()


def test_new_articles_are_indexed_at_commit_not_by_a_trigger(db):
    """Indexing each article as it goes in (a trigger) gives each its own index segment; the
    store indexes a transaction's articles together at its end."""
    triggers = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert "articles_ai" not in triggers and {"articles_au", "articles_ad"} <= triggers
    db.store_result(result(article_n(100)))
    before = index_segments_written(db)
    group = store.GroupCommit(db, max_items=100)
    for n in range(1, 41):
        with group.item():
            db.store_result(result(article_n(n)))
    group.commit()
    assert index_segments_written(db) - before == 1  # not 40
    assert fts_rows(db) == set(range(1, 42))  # the first article, then the group's 40
    assert_index_consistent(db)


def test_a_process_killed_with_a_group_open_loses_only_that_group(tmp_path):
    """A child process commits one group, opens another and is killed with SIGKILL."""
    import signal
    import subprocess
    import sys

    path = tmp_path / "archive.db"
    code = f"""
import os, signal
from archiver import store
from archiver.models import Article, Fetched, FetchResult
db = store.Archive({str(path)!r})
group = store.GroupCommit(db, max_items=2)
for n in (1, 2, 3):
    url = f"https://news.example/{{n}}"
    page = Fetched(url, url, 200, (("Content-Type", "text/html"),), b"<p>x</p>", "2026-01-01T00:00:00Z", 0.1)
    article = Article(url=url, title=f"Story {{n}}", body="Text.")
    with group.item():
        db.store_result(FetchResult(url, "2026-01-01T00:00:00Z", 0.1, fetched=page, article=article))
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", code], check=False, cwd=Path(__file__).parent.parent)
    assert proc.returncode == -signal.SIGKILL
    db = store.Archive(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert _titles(path) == ["Story 1", "Story 2"]
    assert db.execute("SELECT count(*) FROM pages").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM fetches").fetchone()[0] == 2


def test_an_archive_from_a_newer_archiver_is_refused_and_left_untouched(tmp_path, run_cli):
    path = tmp_path / "archive.db"
    db = store.Archive(path)
    db.store_result(result())
    db.execute("INSERT INTO migrations (name, applied_at) VALUES ('archive_9999_from_the_future', 'x')")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA journal_mode = DELETE")  # as a newer version might leave it: no WAL to switch back on
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="written by a newer archiver .*archive_9999_from_the_future.*upgrade archiver"):
        store.Archive(path)
    with pytest.raises(StoreError, match="newer archiver"):
        store.upgrade_archive(path)  # what `archiver serve` runs
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.db"]  # not even a -wal file
    for args in (["fetch", "http://127.0.0.1:9/x"], ["stats"], ["crawl", "--start", "http://127.0.0.1:9/x"]):
        proc = run_cli(*args, "--db", str(path))
        assert proc.returncode == 2 and "newer archiver" in proc.stderr and "Traceback" not in proc.stderr, args
    assert path.read_bytes() == before


def test_no_folder_is_made_for_an_archive_but_the_default_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="no/such/dir does not exist; create it first"):
        store.Archive(tmp_path / "no" / "such" / "dir" / "x.db")
    assert not (tmp_path / "no").exists()
    db = store.Archive("data/archive.db")  # the default archive's folder is made
    assert (tmp_path / "data" / "archive.db").is_file()
    db.close()


def test_fetches_keep_their_host_and_an_older_archive_gets_it_on_upgrade(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    names = [name for name, _ in store.MIGRATIONS]
    # an archive written before archive_0010_fetch_hosts: fetches have no host
    monkeypatch.setattr(store.schema, "MIGRATIONS", store.MIGRATIONS[: names.index("archive_0010_fetch_hosts")])
    old = store.Archive(path)
    for url in ("https://News.Example/a", "http://news.example:8080/b", "https://bad.example:port/c"):
        old.execute("INSERT INTO fetches (url, started_at, outcome) VALUES (?, 'x', 'failed')", (url,))
    old.conn.commit()
    old.close()
    monkeypatch.undo()
    assert store.upgrade_archive(path) == ["archive_0010_fetch_hosts"]
    db = store.Archive(path)
    # the host as politeness keys it; a URL whose port is not a number has none
    assert db.execute("SELECT host FROM fetches ORDER BY id").fetchall() == [
        ("news.example",), ("news.example:8080",), (None,)]
    failure = FetchFailure("https://other.example:443/x", "transport", "connection refused")
    db.store_result(result(None, failure=failure))
    assert db.execute("SELECT host FROM fetches ORDER BY id DESC LIMIT 1").fetchone() == ("other.example",)
