"""`archiver import`: WARC files (our own export, and files written here with every kind of
record, broken ones included) into a real SQLite archive; importing twice changes nothing."""

from __future__ import annotations

import gzip
import io
from dataclasses import replace
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver import store
from archiver.config import Settings
from archiver.crawl import Source, crawl
from archiver.errors import ConfigError
from archiver.export import export_archive
from archiver.pools import inline_pool
from archiver.warc import Skipped, WarcPage, file_ranges, read_warc, warc_files
from archiver.warcimport import import_warcs
from support.crawlsite import article_html, article_path, make_site, serve_site

N = 8


def rows(db, sql: str, *args: object) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [tuple(r) for r in db.execute(sql, list(args)).fetchall()]


def snapshot(db) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    """Everything an import writes, for 'importing twice changes nothing'."""
    return {
        "articles": rows(db, "SELECT url, title, body, versions, first_seen_at, last_fetched_at FROM articles ORDER BY url"),
        "versions": rows(db, "SELECT article_id, version, content_hash, created_at FROM article_versions ORDER BY 1, 2"),
        "pages": rows(db, "SELECT url, sha256, fetched_at FROM pages ORDER BY id"),
        "fetches": rows(db, "SELECT url, started_at, outcome FROM fetches ORDER BY id"),
        "related": rows(db, "SELECT article_id, position, url FROM related_links ORDER BY 1, 2"),
    }


@pytest.fixture()
def crawled(tmp_path: Path, settings: Settings):  # type: ignore[no-untyped-def]
    """An archive crawled from the generated site (N articles)."""
    site = make_site(tmp_path / "site", N)
    db = store.Archive(tmp_path / "crawled.db")
    with serve_site(site) as server:
        report = crawl(db, [Source(server.base_url + "/sitemap_index.xml", "start")],
                       replace(settings, host_delay=0.0, extract_workers=1), pool=inline_pool)
        assert report.new == N
        yield db, server.base_url


def test_importing_our_own_warc_export_rebuilds_the_archive(tmp_path, crawled):
    db, _base = crawled
    warc = tmp_path / "export.warc.gz"
    assert export_archive(db, "warc", warc) == N
    target = store.Archive(tmp_path / "imported.db")

    report = import_warcs(target, [warc], workers=1, pool=inline_pool)

    assert (report.pages, report.new, report.failed, report.broken) == (N, N, 0, [])
    assert report.skipped == {"warcinfo record": 1}
    original = rows(db, "SELECT url, title, body, published_at, authors FROM articles ORDER BY url")
    assert rows(target, "SELECT url, title, body, published_at, authors FROM articles ORDER BY url") == original
    assert len(original) == N
    # stored as if fetched when the crawl fetched them: the WARC-Date of each record
    assert rows(target, "SELECT url, fetched_at, sha256 FROM pages ORDER BY url") == rows(
        db, "SELECT url, fetched_at, sha256 FROM pages ORDER BY url"
    )
    assert rows(target, "SELECT a.first_seen_at = p.fetched_at FROM articles a JOIN pages p ON p.id = a.page_id") == [(1,)] * N
    # related links resolve to the imported articles as they did in the crawled archive
    assert rows(target, "SELECT count(*) FROM related_links") == rows(db, "SELECT count(*) FROM related_links")

    before = snapshot(target)
    copy = tmp_path / "copy" / "export-copy.warc.gz"
    copy.parent.mkdir()
    copy.write_bytes(warc.read_bytes())
    again = import_warcs(target, [warc, copy.parent, warc], workers=1, pool=inline_pool)  # the file, 2 copies
    assert (again.files, again.pages, again.already) == (2, 0, 2 * N)
    assert snapshot(target) == before


# --- a WARC of every kind of record -----------------------------------------------------------------------

URL = "https://gazette.example"


def http(status: str, kind: str = "text/html; charset=utf-8", extra: tuple = ()) -> StatusAndHeaders:  # type: ignore[type-arg]
    return StatusAndHeaders(status, [("Content-Type", kind), *extra], protocol="HTTP/1.1")


def response(writer: WARCWriter, url: str, body: bytes, date: str, status: str = "200 OK",
             kind: str = "text/html; charset=utf-8") -> None:
    record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http(status, kind),
                                       warc_headers_dict={"WARC-Date": date})
    writer.write_record(record)


def page(i: int, extra: str = "") -> bytes:
    return article_html(i, extra).encode("utf-8").replace(
        f'href="{article_path(i)}"'.encode(), f'href="{URL}{article_path(i)}"'.encode()
    )


def write_mixed(path: Path, gz: bool) -> list[int]:
    """Records: warcinfo, request, 3 good pages, a 404, an image, a revisit, a broken record,
    2 more good pages, a second capture of page 0 with new content. Returns the byte offset of
    each record."""
    offsets: list[int] = []
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=gz, warc_version="1.1")

        def mark() -> None:
            offsets.append(fh.tell())

        mark()
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "test"}))
        mark()
        writer.write_record(writer.create_warc_record(
            f"{URL}{article_path(0)}", "request", payload=io.BytesIO(b""),
            http_headers=StatusAndHeaders(f"GET {article_path(0)} HTTP/1.1", [("Host", "gazette.example")],
                                          is_http_request=True)))
        for i in range(3):
            mark()
            response(writer, f"{URL}{article_path(i)}", page(i), f"2026-03-0{i + 1}T10:00:00Z")
        mark()
        response(writer, f"{URL}/missing/", b"<html>gone</html>", "2026-03-04T10:00:00Z", status="404 Not Found")
        mark()
        response(writer, f"{URL}/logo.png", b"\x89PNG\r\n\x1a\n....", "2026-03-04T10:00:00Z", kind="image/png")
        mark()
        writer.write_record(writer.create_revisit_record(
            f"{URL}{article_path(1)}", digest="sha1:AAAA", refers_to_uri=f"{URL}{article_path(1)}",
            refers_to_date="2026-03-02T10:00:00Z", http_headers=http("200 OK")))
        mark()
        broken_at = fh.tell()
        response(writer, f"{URL}{article_path(7)}", page(7), "2026-03-05T10:00:00Z")
        for i in (3, 4):
            mark()
            response(writer, f"{URL}{article_path(i)}", page(i), f"2026-03-0{i + 3}T10:00:00Z")
        mark()
        response(writer, f"{URL}{article_path(0)}", page(0, "<p>Correction: the breakwater opens in May.</p>"),
                 "2026-03-09T10:00:00Z")
    data = bytearray(path.read_bytes())
    if gz:  # damage the deflate stream of that record's gzip member
        for k in range(40, 80):
            data[broken_at + k] ^= 0x5A
    else:  # damage its header line
        data[broken_at:broken_at + 8] = b"WORC/9.9"
    path.write_bytes(bytes(data))
    return offsets


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_import_counts_skipped_and_broken_records_and_keeps_going(tmp_path, gz):
    warc = tmp_path / ("mixed.warc.gz" if gz else "mixed.warc")
    offsets = write_mixed(warc, gz)
    db = store.Archive(tmp_path / "archive.db")

    report = import_warcs(db, [warc], workers=1, pool=inline_pool)

    assert report.skipped == {"warcinfo record": 1, "request record": 1, "HTTP 404": 1,
                              "not HTML": 1, "revisit record": 1}
    assert len(report.broken) == 1
    assert report.broken[0].startswith(f"{warc}: record at byte {offsets[8]}: unreadable record (")
    assert (report.pages, report.new, report.changed, report.failed) == (6, 5, 1, 0)
    assert report.records == 12
    articles = dict(rows(db, "SELECT url, versions FROM articles"))
    assert articles == {f"{URL}{article_path(i)}": (2 if i == 0 else 1) for i in range(5)}
    # dated by the records: first seen at its first capture, changed at its second
    first_seen, changed = rows(db, "SELECT first_seen_at, last_changed_at FROM articles WHERE url = ?",
                               f"{URL}{article_path(0)}")[0]
    assert (first_seen, changed) == ("2026-03-01T10:00:00Z", "2026-03-09T10:00:00Z")
    assert "Correction: the breakwater opens in May." in rows(
        db, "SELECT diff FROM article_versions WHERE version = 2")[0][0]

    before = snapshot(db)
    again = import_warcs(db, [warc], workers=1, pool=inline_pool)
    assert (again.pages, again.already, len(again.broken)) == (0, 6, 1)
    assert snapshot(db) == before


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_file_ranges_read_each_record_exactly_once(tmp_path, gz):
    """Cut into ranges far smaller than a record, the ranges still read every record once."""
    warc = tmp_path / ("mixed.warc.gz" if gz else "mixed.warc")
    write_mixed(warc, gz)
    whole = [(r.offset, type(r).__name__) for r in read_warc(warc)]
    for size in (97, 1000, 2500):
        pieces = file_ranges([warc], size)
        assert len(pieces) > 3
        parts = [(r.offset, type(r).__name__) for _, start, end in pieces for r in read_warc(warc, start, end)]
        assert parts == whole, size
    assert sum(isinstance(r, WarcPage) for r in read_warc(warc)) == 6
    assert [r for r in read_warc(warc) if isinstance(r, Skipped) and r.broken]


def test_truncated_and_altered_records_are_broken_not_imported(tmp_path):
    warc = tmp_path / "bad.warc"
    with warc.open("wb") as fh:
        writer = WARCWriter(fh, gzip=False, warc_version="1.1")
        response(writer, f"{URL}{article_path(0)}", page(0), "2026-03-01T10:00:00Z")
        altered_at = fh.tell()
        response(writer, f"{URL}{article_path(1)}", page(1), "2026-03-02T10:00:00Z")
        response(writer, f"{URL}{article_path(2)}", page(2), "not a date")
        truncated_at = fh.tell()
        response(writer, f"{URL}{article_path(3)}", page(3), "2026-03-03T10:00:00Z")
    data = bytearray(warc.read_bytes())
    body = data.index(b"Part 2 of story 1", altered_at)
    data[body:body + 4] = b"PART"  # same length, other bytes: the payload digest no longer matches
    warc.write_bytes(bytes(data[: truncated_at + (len(data) - truncated_at) // 2]))
    db = store.Archive(tmp_path / "archive.db")

    report = import_warcs(db, [warc], workers=1, pool=inline_pool)

    assert rows(db, "SELECT url FROM articles") == [(f"{URL}{article_path(0)}",)]
    reasons = "\n".join(report.broken)
    assert len(report.broken) == 3, reasons
    assert "digest" in reasons and "bad WARC-Date" in reasons


def test_inputs_are_checked_before_anything_is_imported(tmp_path):
    db = store.Archive(tmp_path / "archive.db")
    notes = tmp_path / "notes.warc"
    notes.write_text("these are my notes, not a WARC\n")
    with pytest.raises(ConfigError, match=r"notes\.warc: not a WARC file"):
        import_warcs(db, [notes], workers=1, pool=inline_pool)
    with pytest.raises(ConfigError, match=r"nowhere: no such file or directory"):
        warc_files([tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"empty: no \.warc or \.warc\.gz files"):
        warc_files([tmp_path / "empty"])
    assert rows(db, "SELECT count(*) FROM pages") == [(0,)]


def test_cli_import_directory_reports_and_exits_1_on_broken_records(run_cli, tmp_path):
    folder = tmp_path / "warcs"
    folder.mkdir()
    write_mixed(folder / "a.warc.gz", gz=True)
    with gzip.open(folder / "b.warc.gz", "wb") as fh:  # one page in a plain gzip stream
        writer = WARCWriter(fh, gzip=False, warc_version="1.0")
        response(writer, f"{URL}{article_path(5)}", page(5), "2026-03-10T10:00:00Z")

    first = run_cli("import", "warcs", "--db", "a.db", "--workers", "2")
    assert first.returncode == 1, first.stderr
    assert "imported 2 file(s): 13 record(s), 7 page(s) stored (new 6, changed 1" in first.stdout
    assert "skipped 1: HTTP 404" in first.stderr
    assert "broken: warcs/a.warc.gz: record at byte" in first.stderr

    db = store.Archive(tmp_path / "a.db")
    assert rows(db, "SELECT count(*), sum(versions) FROM articles") == [(6, 7)]
    second = run_cli("import", "warcs", "--db", "a.db")
    assert "7 page(s) stored" not in second.stdout and "0 page(s) stored" in second.stdout
    assert "7 already in the archive" in second.stdout
    assert rows(db, "SELECT count(*) FROM pages") == [(7,)]

    bad = run_cli("import", "nowhere.warc", "--db", "a.db")
    assert bad.returncode == 2 and "nowhere.warc: no such file or directory" in bad.stderr
