"""`archiver reextract`: the current extractors over stored pages; versions only where changed."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

import archiver.jobs  # its extract_fetched is what the extraction workers (forked from here) run
from archiver import store
from archiver.errors import ConfigError, ExtractError
from archiver.pipeline import archive_urls
from archiver.reextract import reextract

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"


@pytest.fixture()
def archive(tmp_path, server, settings):  # type: ignore[no-untyped-def]
    db = store.Archive(tmp_path / "archive.db")
    urls = [f"{server.base_url}/pages/{name}.html" for name in ("seed-plain", "other-plain")]
    urls.append(f"{server.base_url}/pdf")  # a stored page that is not HTML
    results = archive_urls(db, urls, settings)
    assert [o.outcome for _, o in results] == ["new", "new", "failed"]
    return db


def snapshot(db):  # type: ignore[no-untyped-def]
    return db.execute(
        "SELECT id, versions, content_hash, authors, last_fetched_at, last_changed_at FROM articles "
        "ORDER BY id"
    ).fetchall()


def test_same_extractors_change_nothing(archive):
    before = snapshot(archive)
    report = reextract(archive)
    assert (report.examined, report.changed) == (3, 0)
    assert report.outcomes == {"unchanged": 2, "skipped": 1}  # the PDF is skipped
    assert snapshot(archive) == before
    assert archive["article_versions"].count == 2


def test_reextraction_fills_the_utc_dates_of_articles_stored_without_them(archive):
    with archive.transaction() as conn:
        conn.execute("UPDATE articles SET published_utc = NULL, modified_utc = NULL")
    report = reextract(archive)
    assert report.outcomes == {"unchanged": 2, "skipped": 1}  # derived columns: not a correction
    seed = archive.execute("SELECT published_at, published_utc FROM articles "
                           "WHERE fetched_url LIKE '%seed-plain%'").fetchone()
    assert seed == ("2025-07-10T09:15:00+03:00", "2025-07-10T06:15:00Z")


def test_a_changed_result_becomes_a_version_once(archive, monkeypatch):
    real = archiver.jobs.extract_fetched

    def improved(fetched, sites=(), saved=False):  # type: ignore[no-untyped-def]
        article = real(fetched, sites)
        if "seed-plain" in fetched.url:
            return replace(article, body=article.body.rsplit("\n\n", 1)[0])  # drops a paragraph
        return article

    monkeypatch.setattr(archiver.jobs, "extract_fetched", improved)
    before = {row[0]: row for row in snapshot(archive)}
    report = reextract(archive)
    assert report.outcomes == {"changed": 1, "unchanged": 1, "skipped": 1}
    seed = archive.execute("SELECT id FROM articles WHERE fetched_url LIKE '%seed-plain%'").fetchone()[0]
    after = {row[0]: row for row in snapshot(archive)}
    assert after[seed][1] == 2  # versions
    assert after[seed][4] == before[seed][4]  # last_fetched_at: nothing was fetched
    diff = archive.execute(
        "SELECT diff FROM article_versions WHERE article_id = ? AND version = 2", [seed]
    ).fetchone()[0]
    lines = diff.split("\n")[2:]  # after the --- / +++ header
    assert [line[0] for line in lines if line.startswith(("+", "-"))] == ["-"]  # one removed
    # the same extractors again: nothing more
    assert reextract(archive).changed == 0
    assert archive["article_versions"].count == 3


def test_metadata_only_changes_are_recorded_as_changes_of_the_reextraction(archive, monkeypatch):
    real = archiver.jobs.extract_fetched
    monkeypatch.setattr(
        archiver.jobs, "extract_fetched",
        lambda fetched, sites=(), saved=False: replace(real(fetched, sites), authors=("Nova Writer",)),
    )
    before = {row[0]: row for row in snapshot(archive)}
    report = reextract(archive)
    assert report.outcomes == {"changed": 2, "skipped": 1} and report.changed == 2
    assert {row[0] for row in archive.execute("SELECT authors FROM articles")} == {'["Nova Writer"]'}
    assert archive["article_versions"].count == 2  # no new version: the text did not change
    changes = archive.execute(
        "SELECT article_id, version, field, old_value, new_value, cause FROM article_changes ORDER BY article_id"
    ).fetchall()
    assert [(c[0], c[1], c[2], c[4], c[5]) for c in changes] == [
        (article_id, 1, "authors", '["Nova Writer"]', "reextract") for article_id in sorted(before)
    ]
    assert [c[3] for c in changes] == [before[c[0]][3] for c in changes]  # the authors before
    for article_id, row in before.items():
        after = archive.execute(
            "SELECT a.last_fetched_at, a.last_changed_at, c.changed_at FROM articles a "
            "JOIN article_changes c ON c.article_id = a.id WHERE a.id = ?", [article_id]
        ).fetchone()
        assert after[0] == row[4] and after[1] == after[2] >= row[5]  # nothing fetched; changed now
    assert reextract(archive).outcomes == {"unchanged": 2, "skipped": 1}
    assert archive["article_changes"].count == 2


def test_a_page_that_failed_extraction_becomes_an_article(tmp_path, server, settings, monkeypatch):
    db = store.Archive(tmp_path / "archive.db")
    url = f"{server.base_url}/pages/other-plain.html"

    def broken(fetched, sites=(), saved=False):  # type: ignore[no-untyped-def]
        raise ExtractError(fetched.url, "the old extractor found nothing")

    monkeypatch.setattr(archiver.jobs, "extract_fetched", broken)
    [(_result, outcome)] = archive_urls(db, [url], settings)
    assert outcome.outcome == "failed" and db["articles"].count == 0 and db["pages"].count == 1
    monkeypatch.undo()
    report = reextract(db)
    assert report.outcomes == {"new": 1} and report.changed == 1
    title, page_id = db.execute("SELECT title, page_id FROM articles").fetchone()
    assert title.startswith("Coastal Rail Line Reopens") and page_id == 1
    assert reextract(db).outcomes == {"unchanged": 1}


def test_site_filter(archive):
    archive.execute("UPDATE articles SET site = 'courier' WHERE id = 2")
    assert reextract(archive, site="courier").examined == 1
    with pytest.raises(ConfigError, match="--site 'nope'"):
        reextract(archive, site="nope")


def test_reextract_command(archive, run_cli, tmp_path):
    archive.close()
    shutil.copytree(Path(__file__).resolve().parent.parent / "selectors", tmp_path / "selectors")
    result = run_cli("reextract", "--db", str(tmp_path / "archive.db"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("0 of 3 page(s) changed (1 skipped, 2 unchanged)")
