"""The counts the archive keeps at write time (`archiver.store.counts`): exact after inserts,
corrections, re-extractions and deletes, whoever writes; filled in bulk for an older archive."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from archiver import store
from archiver.models import Article, Fetched, FetchResult
from archiver.store.counts import AUTHOR_PAIRS, FACET_PAIRS, LOG_FACETS

AUTHORS = ("Ana Pérez", "Bo Lind", "Chen Wu")


def article(number: int) -> Article:
    offset = ("+00:00", "+09:00", "-05:00")[number % 3]
    return Article(
        url=f"https://site{number % 3}.example/a/{number}",
        title=f"Story {number}",
        body=f"Body of story {number} about the harbour.",
        authors=tuple(AUTHORS[i] for i in range(number % 4) if i < 3),
        # 23:30 at -05:00 is the next day (and, on 31 December, the next year) in UTC
        published_at=None if number % 7 == 0 else f"{2020 + number % 3}-12-31T23:30:00{offset}",
        language=("en", "fr")[number % 2],
        section=("Local", "Sport", None)[number % 3],
        extractor="generic",
        extractor_version="1",
    )


def save(db: store.Archive, item: Article, at: str = "2026-01-01T00:00:00Z") -> None:
    fetched = Fetched(item.url, item.url, 200, (("Content-Type", "text/html"),), b"<p>x</p>", at, 0.1)
    db.store_result(FetchResult(item.url, at, 0.1, fetched=fetched, article=item), site=item.url.split("/")[2])


def truth(db: store.Archive) -> tuple[Counter[tuple[str, str, str, str]], dict[str, tuple[int, ...]]]:
    """The counts recomputed from the articles themselves, in Python."""
    facets: dict[int, set[tuple[str, str]]] = {}
    stats: dict[str, list[int]] = {}
    for row in db.execute(
        "SELECT id, site, section, language, authors, published_at, word_count, published_utc FROM articles"
    ).fetchall():
        id_, site, section, language, authors, published, words, utc = row
        values = {("site", site), ("section", section), ("language", language)}
        try:
            names = json.loads(authors)
        except ValueError:  # a user's own SQL may leave anything there: no author then
            names = []
        values |= {("author", name) for name in names}
        if utc:
            values |= {("year", utc[:4]), ("month", utc[:7]), ("day", utc[:10])}
        facets[id_] = {(f, v) for f, v in values if v}
        s = stats.setdefault(site, [0, 0, 0, 0, 0])
        for i, flag in enumerate((1, words == 0, not published, authors in ("[]", ""), words)):
            s[i] += int(flag)
    counts: Counter[tuple[str, str, str, str]] = Counter()
    pairs = set(FACET_PAIRS + AUTHOR_PAIRS)
    for values in facets.values():
        for facet, value in values:
            counts["", "", facet, value] += 1
            for within, within_value in values:
                if (within, facet) in pairs and (within, within_value) != (facet, value):
                    counts[within, within_value, facet, value] += 1
    return counts, {site: tuple(s) for site, s in stats.items()}


def log_counts(db: store.Archive) -> tuple[Counter[tuple[str, str, object]], Counter[tuple[str, str, object]]]:
    """The log tables' kept column counts, and the same recomputed with GROUP BY."""
    counted: Counter[tuple[str, str, object]] = Counter()
    for table, columns in LOG_FACETS.items():
        for column, value in columns.items():
            sql = f"SELECT {value.format(row=table)}, count(*) FROM {table} GROUP BY 1"
            counted.update({(table, column, v): n for v, n in db.execute(sql).fetchall() if v is not None})
    held = Counter({(t, c, v): n for t, c, v, n in db.execute("SELECT * FROM column_counts WHERE rows != 0")})
    return held, counted


def kept(db: store.Archive) -> tuple[Counter[tuple[str, str, str, str]], dict[str, tuple[int, ...]]]:
    counts = Counter({
        (w, wv, f, v): n
        for w, wv, f, v, n in db.execute("SELECT * FROM facet_counts WHERE articles != 0").fetchall()
    })
    stats = {
        row[0]: tuple(row[1:])
        for row in db.execute(
            "SELECT site, articles, empty_bodies, missing_dates, missing_authors, words FROM site_stats WHERE articles > 0"
        ).fetchall()
    }
    return counts, stats


def test_counts_stay_exact_through_writes_corrections_and_deletes(tmp_path: Path) -> None:
    with store.Archive(tmp_path / "a.db") as db:
        for number in range(1, 40):
            save(db, article(number))
        assert kept(db) == truth(db)
        counts = kept(db)[0]
        # UTC, not the stated day: 2022-12-31T23:30-05:00 is 2023-01-01 in UTC
        assert counts["", "", "year", "2023"] > 0 and counts["", "", "day", "2022-12-31"] == 0
        # a later capture with a new version: byline, section and date corrected with it
        save(db, replace(article(5), body="A corrected body.", authors=("Dee Okafor",), section="Politics",
                         published_at="2019-06-01T10:00:00+02:00"), "2026-01-02T00:00:00Z")
        # a user's own SQL, and a delete
        with db.transaction() as conn:
            conn.execute("UPDATE articles SET word_count = 0, language = 'de' WHERE id = 3")
            conn.execute("UPDATE articles SET authors = 'not json' WHERE id = 4")
            conn.execute("DELETE FROM related_links WHERE article_id = 6")
            conn.execute("UPDATE fetches SET article_id = NULL WHERE article_id = 6")
            conn.execute("DELETE FROM article_versions WHERE article_id = 6")
            conn.execute("DELETE FROM articles WHERE id = 6")
        assert kept(db) == truth(db)
        held, counted = log_counts(db)
        assert held == counted and held["fetches", "outcome", "changed"] == 1
        assert held["article_versions", "version", 2] == 1
        assert kept(db)[0]["site", article(5).url.split("/")[2], "author", "Dee Okafor"] == 1
        assert kept(db)[0]["year", "2019", "section", "Politics"] == 1


def test_an_older_archive_is_counted_in_bulk_as_the_triggers_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    before = [m for m in store.schema.MIGRATIONS if m[0] not in ("archive_0008_browse_at_scale", "archive_0009_author_counts")]
    monkeypatch.setattr(store.schema, "MIGRATIONS", before)
    with store.Archive(path) as db:
        for number in range(1, 30):
            save(db, article(number))
        assert "facet_counts" not in db.table_names()
    monkeypatch.undo()
    assert store.upgrade_archive(path) == ["archive_0008_browse_at_scale", "archive_0009_author_counts"]
    with store.Archive(path) as db:
        assert kept(db) == truth(db)
        held, counted = log_counts(db)
        assert held == counted and held["fetches", "started_at", "2026-01-01"] == 29
        save(db, article(30))  # and the triggers carry on from there
        assert kept(db) == truth(db)
        held, counted = log_counts(db)
        assert held == counted
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"idx_articles_site_published", "idx_article_facets_value"} <= indexes
        assert "idx_articles_site" not in indexes  # covered by (site, published_utc)
