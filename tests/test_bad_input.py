"""Bad input anywhere gets one clear line naming the input, a non-zero exit, no traceback, and
loses nothing already stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest


def archive_with_one_article(run_cli, base_url: str, db: Path) -> bytes:
    done = run_cli("fetch", "--allow-private", "--db", str(db), f"{base_url}/pages/seed-plain.html")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db.read_bytes()


@pytest.mark.parametrize(
    "files, args, words",
    [
        ({}, ["extract", "missing.html"], "missing.html"),
        ({"dir/x": ""}, ["extract", "dir"], "dir"),
        ({"archiver.toml": "[archiver\nx=1"}, ["fetch", "http://example.com/"], "archiver.toml"),
        ({"archiver.toml": '[archiver]\nretries = "x"\n'}, ["fetch", "http://example.com/"], "retries"),
        ({"archiver.toml": "[archiver]\nspeed = 1\n"}, ["fetch", "http://example.com/"], "archiver.speed"),
        ({}, ["fetch", "--config", "nope.toml", "http://example.com/"], "nope.toml"),
        ({"s/x.toml": "[site]\nname = 1\n"}, ["crawl", "--sites", "s"], "s/x.toml: site.name"),
        ({"s/x.toml": '[article]\ntitle = "h1[["\n'}, ["sites", "check", "--sites", "s"], "s/x.toml: article.title"),
        ({"s/x.toml": "[site]\ncolour = 'red'\n"}, ["sites", "check", "--sites", "s"], "colour"),
        ({}, ["crawl", "--start", "not-a-url"], "not-a-url"),
        ({}, ["crawl", "--site", "no-such-site", "--sites", "."], "no-such-site"),
        ({}, ["serve", "--db", "absent.db"], "absent.db"),
        ({}, ["stats", "--db", "absent.db"], "absent.db"),
        ({"f": "x"}, ["fetch", "--db", "f/archive.db", "http://example.com/"], "f/archive.db"),
        ({}, ["fetch", "--retries", "lots", "http://example.com/"], "lots"),
        ({}, ["fetch", "--db", "no/such/dir/x.db", "http://example.com/"], "no/such/dir does not exist"),
        ({}, ["crawl", "--db", "no/such/dir/x.db", "--start", "http://example.com/"], "no/such/dir does not exist"),
        ({}, ["import", "--db", "no/such/dir/x.db", "a.warc"], "no/such/dir does not exist"),
        ({"archiver.toml": "[archiver]\nmax_hosts = 0\n"}, ["crawl", "--start", "http://example.com/"], "max_hosts"),
        ({"archiver.toml": "[archiver]\ndeadline = inf\n"}, ["fetch", "http://example.com/"], "deadline"),
    ],
)
def test_bad_input_is_one_clear_line(run_cli, tmp_path, files, args, words):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if args[0] == "import":
        (tmp_path / "a.warc").write_bytes(b"WARC/1.1\r\n\r\n")
    proc = run_cli(*args)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert words in proc.stderr, proc.stderr
    assert not (tmp_path / "no").exists()  # no folders made for a mistyped --db


@pytest.mark.parametrize("url, words", [
    ("http://exa mple.com/x", "malformed host"),
    ("mailto:someone@example.com", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("https://", "no host"),
    ("http://[::1", "malformed URL"),
])
def test_bad_urls_fail_clearly_and_the_archive_keeps_what_it_had(run_cli, base_url, tmp_path, url, words):
    db = tmp_path / "keep.db"
    before = archive_with_one_article(run_cli, base_url, db)
    proc = run_cli("fetch", "--db", str(db), url)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("FAILED")]
    assert url in line and words in line
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (1,)
        assert conn.execute("SELECT error_kind FROM fetches ORDER BY id DESC LIMIT 1").fetchone() == ("invalid-url",)
    assert len(db.read_bytes()) >= len(before)


def test_a_corrupt_archive_is_named_and_left_untouched(run_cli, tmp_path):
    db = tmp_path / "broken.db"
    db.write_bytes(b"SQLite format 3\0" + b"\xff" * 4000)
    for args in (["fetch", "--db", str(db), "http://example.com/"], ["stats", "--db", str(db)],
                 ["export", "--format", "jsonl", "--db", str(db)], ["crawl", "--db", str(db), "--start", "http://example.com/"]):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert str(db) in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert db.read_bytes() == b"SQLite format 3\0" + b"\xff" * 4000


def test_an_unwritable_export_target_is_named(run_cli, base_url, tmp_path):
    db = tmp_path / "a.db"
    archive_with_one_article(run_cli, base_url, db)
    (tmp_path / "blocker").write_text("a file where a folder should be")
    proc = run_cli("export", "--db", str(db), "--format", "csv", "-o", str(tmp_path / "blocker" / "out.csv"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "blocker" in proc.stderr


def test_hostile_strings_are_stored_verbatim_as_values(tmp_path):
    from archiver import store
    from archiver.models import Article, FetchResult, RelatedLink

    hostile = "Robert'); DROP TABLE articles;-- <script>alert(1)</script> \" onerror=alert(2)"
    article = Article(url="https://n.example/a", title=hostile, body=f"{hostile}\n\nsecond",
                      authors=(hostile,), tags=(hostile,), section=hostile,
                      related=(RelatedLink(hostile, "https://n.example/b", hostile),),
                      extractor="generic", extractor_version="1")
    db = store.Archive(tmp_path / "h.db")
    db.store_result(FetchResult(article.url, "2026-01-01T00:00:00Z", 0.1, article=article))
    row = db.execute("SELECT title, section, authors, body FROM articles").fetchone()
    import json

    assert row[0] == hostile and row[1] == hostile and row[3].startswith(hostile)
    assert json.loads(row[2]) == [hostile]
    assert db.execute("SELECT title, summary FROM related_links").fetchone() == (hostile, hostile)
    assert "articles" in db.table_names()
