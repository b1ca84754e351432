"""`archiver export`: JSON lines, CSV and WARC 1.1 from an archive built by the real fetch path."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver import store
from archiver.errors import ConfigError
from archiver.export import export_archive, output_file, parse_since
from archiver.models import Article, Fetched, FetchResult
from archiver.pipeline import archive_urls

PAGES = ("seed-plain", "other-plain")


@pytest.fixture()
def archive(tmp_path, server, settings):  # type: ignore[no-untyped-def]
    """Two fixture articles, a PDF (stored page, no article) and a 410 (no page), fetched for real."""
    db = store.Archive(tmp_path / "archive.db")
    urls = [f"{server.base_url}/pages/{name}.html" for name in PAGES]
    urls += [f"{server.base_url}/pdf", f"{server.base_url}/gone"]
    results = archive_urls(db, urls, settings)
    assert [outcome.outcome for _, outcome in results] == ["new", "new", "failed", "failed"]
    return db


def warcio_cli() -> str:
    found = shutil.which("warcio", path=str(Path(sys.executable).parent)) or shutil.which("warcio")
    assert found, "warcio's command line tool is missing (pip install warcio)"
    return found


def read_warc(path: Path) -> list:  # type: ignore[type-arg]
    records = []
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            http = record.http_headers
            records.append((record.rec_type, record.rec_headers, http, record.content_stream().read()))
    return records


def test_warc_export_validates_and_round_trips_every_stored_body(archive, tmp_path):
    out = tmp_path / "out" / "archive.warc.gz"
    assert export_archive(archive, "warc", out) == 3
    check = subprocess.run([warcio_cli(), "check", "-v", str(out)], check=False, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") == 4  # warcinfo + 3 responses

    records = read_warc(out)
    assert records[0][0] == "warcinfo"
    assert records[0][1].protocol == "WARC/1.1"
    responses = [r for r in records if r[0] == "response"]
    pages = list(archive.query("SELECT final_url, fetched_at, body, sha256 FROM pages ORDER BY id"))
    assert len(responses) == len(pages) == 3
    for (_, warc, http, payload), page in zip(responses, pages):
        body = store.decompress(page["body"])
        assert payload == body  # byte for byte
        assert hashlib.sha256(payload).hexdigest() == page["sha256"]
        assert warc.get_header("WARC-Target-URI") == page["final_url"]
        assert warc.get_header("WARC-Date") == page["fetched_at"]
        assert http.get_statuscode() == "200"
        assert http.get_header("Content-Length") == str(len(body))
    types = [http.get_header("Content-Type") for _, _, http, _ in responses]
    assert types == ["text/html; charset=utf-8", "text/html; charset=utf-8", "application/pdf"]


def test_warc_headers_match_the_decoded_body(tmp_path):
    """A page that came gzip-encoded and chunked is stored decoded; its record must say so."""
    db = store.Archive(tmp_path / "a.db")
    content = "<html><body><p>Décodé, pas compressé.</p></body></html>".encode()
    fetched = Fetched(
        "http://news.example/a", "http://news.example/a", 200,
        (("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"),
         ("Transfer-Encoding", "chunked"), ("Content-Length", "31"), ("ETag", '"v1"')),
        content, "2026-02-03T04:05:06Z", 0.1,
    )  # fmt: skip
    article = Article(url=fetched.url, title="T", body="Décodé.", extractor="x", extractor_version="1")
    db.store_result(FetchResult(fetched.url, fetched.fetched_at, 0.1, fetched=fetched, article=article))
    out = tmp_path / "plain.warc"
    export_archive(db, "warc", out)
    assert out.read_bytes().startswith(b"WARC/1.1\r\n")  # .warc: not gzipped
    check = subprocess.run([warcio_cli(), "check", str(out)], check=False, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    [(_, _, http, payload)] = [r for r in read_warc(out) if r[0] == "response"]
    assert payload == content
    assert http.get_header("Content-Encoding") is None
    assert http.get_header("Transfer-Encoding") is None
    assert http.get_header("Content-Length") == str(len(content))
    assert http.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert http.get_header("ETag") == '"v1"'


def test_warc_of_a_page_stored_before_headers_were_kept(tmp_path):
    db = store.Archive(tmp_path / "a.db")
    fetched = Fetched("http://n.example/a", "http://n.example/b", 200,
                      (("Content-Type", "text/html; charset=iso-8859-1"), ("Last-Modified", "x")),
                      b"<p>caf\xe9</p>", "2026-02-03T04:05:06Z", 0.1)
    article = Article(url=fetched.url, title="T", body="B", extractor="x", extractor_version="1")
    db.store_result(FetchResult(fetched.url, fetched.fetched_at, 0.1, fetched=fetched, article=article))
    db.execute("UPDATE pages SET headers = NULL")  # as an archive from before the migration
    out = tmp_path / "old.warc.gz"
    export_archive(db, "warc", out)
    [(_, warc, http, payload)] = [r for r in read_warc(out) if r[0] == "response"]
    assert payload == b"<p>caf\xe9</p>"
    assert http.get_header("Content-Type") == "text/html; charset=iso-8859-1"
    assert http.get_header("Last-Modified") == "x"
    assert warc.get_header("WARC-Target-URI") == "http://n.example/b"
    assert warc.get_header("WARC-Source-URI") == "http://n.example/a"


def test_jsonl_has_every_article_with_its_related_links(archive, tmp_path):
    out = tmp_path / "articles.jsonl"
    assert export_archive(archive, "jsonl", out) == 2
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = {
        name: json.loads((Path(__file__).parent.parent / "fixtures/pages" / f"{name}.expected.json").read_text())
        for name in PAGES
    }
    assert [r["title"] for r in records] == [expected[name]["title"] for name in PAGES]
    for record, name in zip(records, PAGES):
        assert record["body"].split("\n\n") == expected[name]["body"]
        assert [link["title"] for link in record["related"]] == [
            link["title"] for link in expected[name]["related"]
        ]
        assert isinstance(record["authors"], list) and record["versions"] == 1


def test_csv_flattens_lists(archive, tmp_path):
    out = tmp_path / "articles.csv"
    assert export_archive(archive, "csv", out) == 2
    with open(out, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    record = archive.article_record(2)
    assert rows[1]["title"] == record["title"]
    assert rows[1]["authors"] == "; ".join(record["authors"])
    assert rows[1]["related_urls"].split("\n") == [link["url"] for link in record["related"]]
    assert rows[1]["related_count"] == str(len(record["related"]))
    assert rows[1]["body"] == record["body"]


def test_site_and_since_select(archive, tmp_path):
    archive.execute("UPDATE articles SET site = 'courier' WHERE id = 2")
    archive.execute("UPDATE articles SET last_changed_at = '2020-03-01T00:00:00Z' WHERE id = 1")
    buffer = tmp_path / "x.jsonl"
    assert export_archive(archive, "jsonl", buffer, site="courier") == 1
    assert export_archive(archive, "jsonl", buffer, since="2020-02-28") == 2
    assert export_archive(archive, "jsonl", buffer, since="2020-03-01T00:00:01Z") == 1
    assert json.loads(buffer.read_text())["id"] == 2
    assert export_archive(archive, "jsonl", buffer, since="2999-01-01") == 0
    assert export_archive(archive, "warc", tmp_path / "c.warc.gz", site="courier") == 1
    with pytest.raises(ConfigError, match="--site 'nope'.*courier"):
        export_archive(archive, "jsonl", buffer, site="nope")


def test_parse_since():
    assert parse_since("2026-01-31") == "2026-01-31T00:00:00Z"
    assert parse_since("2026-01-31T12:00:00+02:00") == "2026-01-31T10:00:00Z"
    assert parse_since("2026-01-31T12:00:00Z") == "2026-01-31T12:00:00Z"
    assert parse_since(None) is None
    with pytest.raises(ConfigError, match="--since 'last week': not a date"):
        parse_since("last week")


def test_an_interrupted_export_leaves_no_file(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), output_file(target, binary=False) as stream:
        stream.write("half a record")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_export_command(archive, run_cli, tmp_path):
    db_path = tmp_path / "archive.db"
    archive.close()
    result = run_cli("export", "--db", str(db_path), "--format", "warc", "-o", "x.warc.gz")
    assert result.returncode == 0, result.stderr
    assert "exported 3 page(s) as warc to x.warc.gz" in result.stderr
    assert len([r for r in read_warc(tmp_path / "x.warc.gz") if r[0] == "response"]) == 3
    result = run_cli("export", "--db", str(db_path), "--format", "jsonl")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2
    assert json.loads(io.StringIO(result.stdout).readline())["related"]
    bad = run_cli("export", "--db", str(db_path), "--since", "yesterday")
    assert bad.returncode == 2 and "--since 'yesterday': not a date" in bad.stderr
    missing = run_cli("export", "--db", "nowhere.db")
    assert missing.returncode == 2 and "nowhere.db: no archive there" in missing.stderr


def test_one_header_rule_for_decoded_bodies_both_ways():
    from archiver.warc import for_decoded_body

    raw = [("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Content-Length", "123"),
           ("Transfer-Encoding", "chunked"), ("ETag", '"x"')]
    assert for_decoded_body(raw) == [("Content-Type", "text/html"), ("X-Archive-Orig-Content-Encoding", "gzip"),
                                     ("X-Archive-Orig-Transfer-Encoding", "chunked"), ("ETag", '"x"')]
