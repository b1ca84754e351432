"""Exports of the archive: articles as JSON lines or CSV, stored raw pages as WARC 1.1.

    export_archive(db, "jsonl" | "csv" | "warc", path_or_None, site=None, since=None) -> count

JSON lines carry each article with its related links; CSV flattens lists (authors and tags joined
with "; ", related URLs one per line in a cell). WARC holds one `response` record per stored page,
readable by warcio, pywb and other WARC tools. Pages are stored after transfer decoding, so each
record's HTTP headers say so: Content-Encoding and Transfer-Encoding are dropped (kept as
`X-Archive-Orig-*`, the convention of replay tools) and Content-Length is the stored body's length.

A file export is written next to its target and renamed into place when complete, so an
interrupted export never leaves a truncated file under the requested name.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver import __version__, store
from archiver.errors import ConfigError
from archiver.store import StoredPage
from archiver.timestamps import iso_utc
from archiver.warc import for_decoded_body

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv", "warc")

CSV_COLUMNS = (
    "id", "url", "canonical_url", "fetched_url", "site", "title", "subtitle", "authors",
    "published_at", "modified_at", "language", "site_name", "section", "tags", "image",
    "word_count", "body", "content_hash", "extractor", "extractor_version", "first_seen_at",
    "last_fetched_at", "last_changed_at", "versions", "related_count", "related_urls",
)  # fmt: skip

WARC_1_1_SPEC = (
    "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
)


def parse_since(text: str | None) -> str | None:
    """`--since` as an ISO-8601 UTC time comparable with the archive's `*_at` columns."""
    if text is None or not text.strip():
        return None
    try:
        return iso_utc(text)
    except ValueError as exc:
        raise ConfigError(
            f"--since {text!r}: not a date; use YYYY-MM-DD or an ISO-8601 time such as "
            "2026-01-31T12:00:00Z"
        ) from exc


def check_site(db: store.Archive, site: str | None) -> None:
    """Raise ConfigError naming the known sites when `site` has no articles in the archive."""
    if site is None:
        return
    names = db.site_names()
    if site not in names:
        known = ", ".join(names) if names else "none yet"
        raise ConfigError(f"--site {site!r}: no articles of that site in the archive (sites: {known})")


# --- articles -----------------------------------------------------------------------------------


def write_jsonl(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """One JSON object per line per article (related links included); return how many."""
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """An article record flattened for CSV."""
    row = {name: record.get(name) for name in CSV_COLUMNS}
    row["authors"] = "; ".join(record.get("authors") or ())
    row["tags"] = "; ".join(record.get("tags") or ())
    related = record.get("related") or []
    row["related_count"] = len(related)
    row["related_urls"] = "\n".join(link["url"] for link in related)
    return row


def write_csv(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow(csv_row(record))
        count += 1
    return count


# --- WARC -----------------------------------------------------------------------------------------


def http_headers_for(page: StoredPage) -> StatusAndHeaders:
    """The response's status line and headers, consistent with the stored (decoded) body."""
    fetched = page.fetched
    headers = [*for_decoded_body(fetched.headers), ("Content-Length", str(len(fetched.content)))]
    try:
        phrase = HTTPStatus(fetched.status).phrase
    except ValueError:
        phrase = "Unknown"
    return StatusAndHeaders(f"{fetched.status} {phrase}", headers, protocol="HTTP/1.1")


def write_warc(
    pages: Iterable[StoredPage], out: IO[bytes], *, gzip: bool = True, description: str = ""
) -> int:
    """A warcinfo record, then one response record per page; return how many pages."""
    writer = WARCWriter(out, gzip=gzip, warc_version="1.1")
    info = {
        "software": f"archiver/{__version__}",
        "format": "WARC File Format 1.1",
        "conformsTo": WARC_1_1_SPEC,
        "description": description,
    }
    writer.write_record(writer.create_warcinfo_record("", info))
    count = 0
    for page in pages:
        fetched = page.fetched
        warc_headers = {"WARC-Date": iso_utc(fetched.fetched_at)}
        if fetched.url != fetched.final_url:
            # the URL asked for, before redirects (a header replay tools ignore harmlessly)
            warc_headers["WARC-Source-URI"] = fetched.url
        record = writer.create_warc_record(
            fetched.final_url,
            "response",
            payload=io.BytesIO(fetched.content),
            length=len(fetched.content),
            http_headers=http_headers_for(page),
            warc_headers_dict=warc_headers,
        )
        writer.write_record(record)
        count += 1
    return count


# --- files ----------------------------------------------------------------------------------------


@contextmanager
def output_file(path: Path | None, binary: bool) -> Iterator[IO[Any]]:
    """The open output: stdout, or a temporary file renamed to `path` once complete."""
    if path is None:
        stream: IO[Any] = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with (open(part, "wb") if binary else open(part, "w", encoding="utf-8", newline="")) as stream:
            yield stream
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def export_archive(
    db: store.Archive,
    fmt: str,
    path: str | Path | None = None,
    *,
    site: str | None = None,
    since: str | None = None,
) -> int:
    """Write the archive (or one site's part, or what changed since a time) in `fmt`.

    `path` None writes to standard output. Returns how many articles (or pages, for WARC)
    were written.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: unknown format; use one of {', '.join(FORMATS)}")
    check_site(db, site)
    since = parse_since(since)
    target = Path(path) if path is not None else None
    if fmt == "warc":
        gzip = target is None or not target.name.endswith(".warc")
        selection = ", ".join(f"{k}={v}" for k, v in (("site", site), ("since", since)) if v)
        with output_file(target, binary=True) as out:
            count = write_warc(
                db.iter_pages(site=site, since=since),
                out,
                gzip=gzip,
                description="archiver export of stored pages" + (f" ({selection})" if selection else ""),
            )
    else:
        records = db.iter_article_records(site=site, since=since)
        with output_file(target, binary=False) as out:
            count = write_jsonl(records, out) if fmt == "jsonl" else write_csv(records, out)
    log.info("exported %d record(s) as %s to %s", count, fmt, target or "stdout")
    return count
