"""`archiver stats`: counts by site and by day, failures, database size."""

from __future__ import annotations

import json
from dataclasses import replace

from archiver import store
from archiver.models import Article, Fetched, FetchFailure, FetchResult
from archiver.stats import format_stats, human_bytes


def fetched(url: str, at: str) -> Fetched:
    return Fetched(url, url, 200, (("Content-Type", "text/html"),), b"<p>" + url.encode() * 50 + b"</p>", at, 0.1)


def article(url: str, **fields) -> Article:  # type: ignore[no-untyped-def]
    return Article(url=url, title="T " + url, body="Some words here.", extractor="x",
                   extractor_version="1", **fields)


def build(path):  # type: ignore[no-untyped-def]
    db = store.Archive(path)
    rows = [
        ("https://a.example/1", "2026-01-01T10:00:00Z", article("https://a.example/1", authors=("X",))),
        ("https://a.example/2", "2026-01-01T11:00:00Z", article("https://a.example/2", published_at="2026-01-01")),
        ("https://b.example/1", "2026-01-02T09:00:00Z", article("https://b.example/1")),
    ]
    for url, at, art in rows:
        db.store_result(FetchResult(url, at, 0.1, fetched=fetched(url, at), article=art))
    changed = replace(rows[0][2], body="Other words now.")
    db.store_result(FetchResult(rows[0][0], "2026-01-02T10:00:00Z", 0.1,
                                       fetched=fetched(rows[0][0], "2026-01-02T10:00:00Z"), article=changed))
    for i, kind in enumerate(["http-status", "transport", "http-status"]):
        url = f"https://b.example/bad{i}"
        db.store_result(FetchResult(url, "2026-01-02T12:00:00Z", 0.1,
                                           failure=FetchFailure(url, kind, "no", 500)))
    return db


def test_stats_count_by_site_day_and_failure(tmp_path):
    db = build(tmp_path / "a.db")
    stats = db.stats()
    assert stats["totals"] == {
        "articles": 3, "versions": 4, "changed_articles": 1, "related_links": 0, "pages": 4,
        "fetches": 7, "failed_fetches": 3, "crawl_runs": 0,
    }
    by_site = {row["site"]: row for row in stats["by_site"]}
    assert (by_site["a.example"]["articles"], by_site["a.example"]["versions"]) == (2, 3)
    assert (by_site["a.example"]["missing_dates"], by_site["a.example"]["missing_authors"]) == (1, 1)
    assert by_site["b.example"]["articles"] == 1
    assert [(d["day"], d["fetches"], d["new"], d["changed"], d["failed"]) for d in stats["by_day"]] == [
        ("2026-01-02", 5, 1, 1, 3), ("2026-01-01", 2, 2, 0, 0),
    ]
    assert stats["failures_by_kind"] == [
        {"kind": "http-status", "failures": 2, "urls": 2}, {"kind": "transport", "failures": 1, "urls": 1},
    ]
    assert [(h["host"], h["failures"]) for h in stats["failures_by_host"]] == [("b.example", 3)]
    size = stats["size"]
    assert size["file_bytes"] > 0 and size["pages_bytes"] > 0
    assert size["raw_body_bytes"] > size["stored_body_bytes"] > 0  # bodies are compressed
    assert size["path"].endswith("a.db")


def test_stats_text_and_command(tmp_path, run_cli):
    build(tmp_path / "a.db").close()
    text = format_stats(store.Archive(tmp_path / "a.db").stats())
    assert text.startswith("3 article(s) on 2 site(s), 4 version(s) (1 article(s) changed")
    assert "7 fetch(es), 3 failed" in text
    assert "failures by host:" in text and "b.example" in text
    result = run_cli("stats", "--db", "a.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == text
    as_json = run_cli("stats", "--db", "a.db", "--json", "--days", "1")
    assert json.loads(as_json.stdout)["by_day"] == [
        {"day": "2026-01-02", "fetches": 5, "new": 1, "changed": 1, "unchanged": 0, "failed": 3}
    ]
    assert run_cli("stats", "--db", "none.db").returncode == 2


def test_empty_archive_stats(tmp_path):
    text = format_stats(store.Archive(tmp_path / "e.db").stats())
    assert text.startswith("0 article(s) on 0 site(s)")


def test_human_bytes():
    assert [human_bytes(n) for n in (0, 1023, 1536, 5 * 1024**3)] == ["0 B", "1023 B", "1.5 KiB", "5.0 GiB"]
