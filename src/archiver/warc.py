"""WARC files: reading their HTML responses one record at a time (pure: a file in, records out),
and the header rule both ways (a stored body is always decoded from its transfer coding).

`read_warc` streams one record at a time with warcio, so memory does not grow with the file. A
response record of an HTML page (HTTP 2xx) becomes a `Fetched` dated by its WARC-Date; everything
else is a `Skipped`, never an exception:

- skipped: other record types (warcinfo, request, metadata, revisit, ...), non-2xx answers,
  non-HTML bodies, bodies over `max_bytes`;
- broken: a record that cannot be read (bad headers, a damaged gzip member, a payload digest
  that does not match, no target URI or date). Reading carries on at the next record boundary
  found after it (the next gzip member, or the next `WARC/1.x` line).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from archiver.config import Settings
from archiver.errors import ArchiverError, ConfigError
from archiver.jobs import ensure_html
from archiver.models import Fetched, PackedBody
from archiver.timestamps import iso_utc

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_LINE = b"WARC/1."
RANGE_BYTES = 8 * 1024 * 1024  # bytes of a file per cluster task
SCAN_CHUNK = 1 << 16
MAX_BODY_BYTES = Settings.max_body_bytes
# headers that describe the bytes on the wire, not a decoded body
WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})


def for_decoded_body(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Response headers made true of the decoded body: Content-Encoding and Transfer-Encoding
    kept as `X-Archive-Orig-*` (the convention of replay tools), Content-Length dropped (the
    writer of a record gives the body's own). Import and export both use it."""
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        if name.lower() in WIRE_HEADERS:
            if name.lower() != "content-length":
                kept.append((f"X-Archive-Orig-{name}", value))
            continue
        kept.append((name, value))
    return kept


@dataclass(frozen=True)
class WarcPage:
    """An HTML response read from a WARC file."""

    path: str
    offset: int
    fetched: Fetched
    body: PackedBody | None = None  # packed by the worker that read it


@dataclass(frozen=True)
class Skipped:
    """A record not imported, and why (`broken`: it could not be read)."""

    path: str
    offset: int
    reason: str
    broken: bool = False

    def describe(self) -> str:
        return f"{self.path}: record at byte {self.offset}: {self.reason}"


def warc_files(inputs: Sequence[str | Path]) -> list[Path]:
    """The WARC files named, directories expanded to their *.warc and *.warc.gz files (sorted,
    recursively). ConfigError for a missing path, an empty directory or a file that is not a
    WARC (checked from its first bytes)."""
    files: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".warc", ".warc.gz")))
            if not found:
                raise ConfigError(f"{path}: no .warc or .warc.gz files in this directory")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(f"{path}: no such file or directory; give WARC files or directories of them")
    for path in files:
        try:
            with path.open("rb") as fh:
                head = fh.read(8)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        if not head.startswith((GZIP_MAGIC, WARC_LINE)):
            raise ConfigError(
                f"{path}: not a WARC file (it starts with {head!r}, not 'WARC/1.' or gzip); "
                "give .warc or .warc.gz files"
            )
    return list(dict.fromkeys(files))


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(3) == GZIP_MAGIC


def _record_starts_at(path: Path, offset: int) -> bool:
    """Whether a readable WARC record starts at `offset` (its headers parse)."""
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as fh:
        fh.seek(offset)
        try:
            record = next(iter(ArchiveIterator(fh)))
        except StopIteration:
            return False
        except Exception:  # noqa: BLE001 - any failure to parse means: not a record start
            return False
        return record.format.startswith("warc")


def next_record_start(path: Path, offset: int, gz: bool | None = None) -> int | None:
    """The offset of the first readable record starting at or after `offset`, or None."""
    gz = _is_gzip(path) if gz is None else gz
    marker = GZIP_MAGIC if gz else WARC_LINE
    with path.open("rb") as fh:
        pos = offset
        while True:
            fh.seek(pos)
            chunk = fh.read(SCAN_CHUNK + len(marker))
            if not chunk:
                return None
            at = 0
            while True:
                hit = chunk.find(marker, at)
                if hit < 0 or hit > SCAN_CHUNK:
                    break
                where = pos + hit
                line_start = gz or where == 0 or (hit > 0 and chunk[hit - 1:hit] == b"\n") or (
                    hit == 0 and _byte_before(fh, where) == b"\n"
                )
                if line_start and _record_starts_at(path, where):
                    return where
                at = hit + 1
            if len(chunk) <= SCAN_CHUNK:
                return None
            pos += SCAN_CHUNK


def _byte_before(fh: IO[bytes], where: int) -> bytes:
    here = fh.tell()
    fh.seek(where - 1)
    byte = fh.read(1)
    fh.seek(here)
    return byte


def _page_of(path: str, offset: int, record: Any, max_bytes: int) -> WarcPage | Skipped:
    """The page a response record holds, or why it is skipped. Reads the record's body."""
    headers = record.rec_headers
    target = (headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
    if not target:
        return Skipped(path, offset, "response record without WARC-Target-URI", broken=True)
    try:
        fetched_at = iso_utc(headers.get_header("WARC-Date") or "no WARC-Date")
    except ValueError as exc:
        return Skipped(path, offset, f"{target}: bad WARC-Date ({exc})", broken=True)
    http = record.http_headers
    if http is None or not http.protocol.upper().startswith("HTTP/"):
        return Skipped(path, offset, "response without HTTP headers")
    try:
        status = int(http.get_statuscode())
    except (TypeError, ValueError):
        return Skipped(path, offset, f"{target}: unreadable HTTP status line", broken=True)
    if not 200 <= status < 300 or status == 204:
        return Skipped(path, offset, f"HTTP {status}")
    stream = record.content_stream()
    content = stream.read(max_bytes + 1)
    if len(content) > max_bytes:
        return Skipped(path, offset, f"body over max_body_bytes ({max_bytes})")
    while stream.read(SCAN_CHUNK):  # the rest of the record, so its digest is checked
        pass
    missing = getattr(record.raw_stream, "limit", 0)
    if missing:
        return Skipped(path, offset, f"{target}: truncated record ({missing} byte(s) of its "
                       "Content-Length missing)", broken=True)
    checker = getattr(record, "digest_checker", None)
    if checker is not None and checker.passed is False:
        return Skipped(path, offset, f"{target}: {'; '.join(checker.problems) or 'digest mismatch'} "
                       "(truncated or altered record)", broken=True)
    decoded = bool(http.get_header("content-encoding") or http.get_header("transfer-encoding"))
    kept = for_decoded_body(http.headers) if decoded else list(http.headers)
    source = (headers.get_header("WARC-Source-URI") or "").strip().strip("<>")
    fetched = Fetched(
        url=source or target, final_url=target, status=status, headers=tuple(kept),
        content=content, fetched_at=fetched_at, duration=0.0,
    )
    try:
        ensure_html(fetched)
    except ArchiverError:
        return Skipped(path, offset, f"not HTML ({fetched.content_type or 'no Content-Type'})")
    return WarcPage(path, offset, fetched)


def read_warc(
    path: str | Path, start: int = 0, end: int | None = None, *, max_bytes: int = MAX_BODY_BYTES
) -> Iterator[WarcPage | Skipped]:
    """The records of one WARC file that start in [start, end), as pages or skips, one at a time.

    A record that cannot be read is reported (broken) and reading resumes at the next record
    found after it; nothing here raises for bad content."""
    from warcio.archiveiterator import ArchiveIterator

    path = Path(path)
    name = str(path)
    gz = _is_gzip(path)
    pos: int | None = start if start == 0 else next_record_start(path, start, gz)
    with path.open("rb") as fh:
        while pos is not None and (end is None or pos < end):
            fh.seek(pos)
            records = ArchiveIterator(fh, check_digests=True)
            at = pos
            try:
                for record in records:
                    at = records.offset
                    if end is not None and at >= end:
                        return
                    if record.rec_type != "response":
                        yield Skipped(name, at, f"{record.rec_type} record")
                        continue
                    yield _page_of(name, at, record, max_bytes)
                return  # the end of the file
            except Exception as exc:  # noqa: BLE001 - warcio, zlib, gzip and parse errors alike
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                reason = ascii(text)[1:-1][:160]  # warcio quotes the raw bytes it could not read
                at = max(at, records.offset)
                yield Skipped(name, at, f"unreadable record ({reason})", broken=True)
                pos = next_record_start(path, at + 1, gz)
                if pos is not None:
                    log.info("%s: resuming at byte %d after a broken record at %d", name, pos, at)


def file_ranges(
    files: Iterable[Path], size: int = RANGE_BYTES, *, absolute: bool = False
) -> list[tuple[str, int, int | None]]:
    """(path, start, end) pieces of about `size` bytes covering each file (`absolute`: paths
    resolved, for workers on other machines that mount the same storage)."""
    pieces: list[tuple[str, int, int | None]] = []
    for path in files:
        total = path.stat().st_size
        starts = list(range(0, max(total, 1), size))
        for i, begin in enumerate(starts):
            name = str(path.resolve()) if absolute else str(path)
            pieces.append((name, begin, starts[i + 1] if i + 1 < len(starts) else None))
    return pieces
