"""`archiver import`: pages from WARC files into the archive, as if fetched at each record's date.

Reading (`read_warc`, pure: a file in, records out) streams one record at a time with warcio,
so memory does not grow with the file. A response record of an HTML page (HTTP 2xx) becomes a
`Fetched` dated by its WARC-Date; everything else is counted, never fatal:

- skipped: other record types (warcinfo, request, metadata, revisit, ...), non-2xx answers,
  non-HTML bodies, bodies over `max_body_bytes`;
- broken: a record that cannot be read (bad headers, a damaged gzip member, a payload digest
  that does not match, no target URI or date). Reading carries on at the next record boundary
  found after it (the next gzip member, or the next `WARC/1.x` line).

Each page is extracted with the crawl's extractor (`pipeline.extract_fetched`) and stored by
this process alone (`store.imports.store_imported`): a page whose (URL, body sha256, date) is
already stored is skipped, so importing a file again adds nothing. The same URL with a new body
later in the input becomes a new version of its article.

Locally, extraction runs in worker processes (all cores by default) while this process reads and
stores, in input order. With a Dask scheduler (`cluster=`), each file is cut into byte ranges; a
task reads and extracts the records that start in its range (the files must be readable at the
same path on the workers) and the results stream back as tasks finish.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import sqlite_utils

from archiver.config import Settings
from archiver.errors import ArchiverError, ConfigError, ExtractTimeout
from archiver.executor import SiteBundle, connect, worker_sites
from archiver.models import Article, Fetched, FetchFailure, FetchResult, PackedBody
from archiver.pipeline import ensure_html, extract_fetched, failure_of
from archiver.sites import SiteRules, rules_for_url
from archiver.store import open_archive, transaction
from archiver.store.archive import pack_body
from archiver.store.imports import store_imported
from archiver.workers import mark, started_pool, worker_pool

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_LINE = b"WARC/1."
RANGE_BYTES = 8 * 1024 * 1024  # bytes of a file per cluster task
LOCAL_RANGE_BYTES = 256 * 1024  # bytes of a file per local worker task (about 20 news pages)
SCAN_CHUNK = 1 << 16
MAX_BODY_BYTES = Settings.max_body_bytes
DEFAULT_EXTRACT_TIMEOUT = Settings.extract_timeout
DECODED_HEADERS = ("content-encoding", "transfer-encoding", "content-length")


# --- reading (pure) ------------------------------------------------------------------------------------


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


def _warc_date(value: str | None) -> str:
    if not value:
        raise ValueError("no WARC-Date")
    when = datetime.fromisoformat(value.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _page_of(path: str, offset: int, record: Any, max_bytes: int) -> WarcPage | Skipped:
    """The page a response record holds, or why it is skipped. Reads the record's body."""
    headers = record.rec_headers
    target = (headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
    if not target:
        return Skipped(path, offset, "response record without WARC-Target-URI", broken=True)
    try:
        fetched_at = _warc_date(headers.get_header("WARC-Date"))
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
    kept: list[tuple[str, str]] = []
    for name, value in http.headers:
        if decoded and name.lower() in DECODED_HEADERS:
            if name.lower() != "content-length":
                kept.append((f"X-Archive-Orig-{name}", value))
            continue
        kept.append((name, value))
    source = (headers.get_header("WARC-Source-URI") or "").strip().strip("<>")
    fetched = Fetched(
        url=source or target, final_url=target, status=status, headers=tuple(kept),
        content=content, fetched_at=fetched_at, elapsed=0.0,
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


# --- extraction (pure; worker processes and Dask tasks) ---------------------------------------------------


@dataclass(frozen=True)
class RangeResult:
    """What a cluster task made of one file range, in record order."""

    records: tuple[tuple[WarcPage, Article | FetchFailure] | Skipped, ...]


def import_range(
    path: str, start: int, end: int | None, sites: SiteBundle | Sequence[SiteRules] | None = None,
    max_bytes: int = MAX_BODY_BYTES,
) -> RangeResult:
    """Read and extract the records starting in [start, end) of a file (a worker process's or
    Dask task; `sites` None: the rules the worker process was started with)."""
    if sites is None:
        rules = worker_sites()
    else:
        rules = sites.rules if isinstance(sites, SiteBundle) else tuple(sites)
    out: list[tuple[WarcPage, Article | FetchFailure] | Skipped] = []
    for item in read_warc(path, start, end, max_bytes=max_bytes):
        if isinstance(item, Skipped):
            out.append(item)
            continue
        mark(item.offset)  # the per-page extraction deadline counts from here, and names this record
        try:
            result: Article | FetchFailure = extract_fetched(item.fetched, rules)
        except ArchiverError as exc:
            result = failure_of(item.fetched.url, exc)
        out.append(_packed(item, result))
    return RangeResult(tuple(out))


def _packed(item: WarcPage, result: Article | FetchFailure) -> tuple[WarcPage, Article | FetchFailure]:
    # packing (compression, sha256) where the page is read rather than in the one process that
    # writes SQLite; the raw body stays there too: the writer stores the packed one
    packed = pack_body(item.fetched.content)
    return replace(item, fetched=replace(item.fetched, content=b""), body=packed), result


# --- the import (this process stores) -----------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did."""

    files: int = 0
    records: int = 0  # records read, of every kind
    pages: int = 0  # HTML responses extracted and stored
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0  # stored pages whose extraction failed (recorded in `fetches`)
    already: int = 0  # captures already in the archive: nothing stored
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    broken: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def broken_count(self) -> int:
        return len(self.broken)

    def summary(self) -> str:
        rate = f", {self.pages / self.seconds:.1f} pages/s" if self.seconds and self.pages else ""
        return (
            f"imported {self.files} file(s): {self.records} record(s), {self.pages} page(s) stored "
            f"(new {self.new}, changed {self.changed}, unchanged {self.unchanged}, failed "
            f"{self.failed}), {self.already} already in the archive, "
            f"{sum(self.skipped.values())} skipped, {self.broken_count} broken, "
            f"{self.seconds:.1f}s{rate}"
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "files": self.files, "records": self.records, "pages": self.pages, "new": self.new,
            "changed": self.changed, "unchanged": self.unchanged, "failed": self.failed,
            "already": self.already, "skipped": dict(self.skipped), "broken": list(self.broken),
            "seconds": round(self.seconds, 3),
        }


def _count_skip(report: ImportReport, item: Skipped) -> None:
    report.records += 1
    if item.broken:
        report.broken.append(item.describe())
        log.warning("broken: %s", item.describe())
    else:
        report.skipped[_skip_kind(item.reason)] += 1


def _skip_kind(reason: str) -> str:
    """Group skip reasons for the summary ('HTTP 404', 'request record', 'not HTML', ...)."""
    if reason.startswith("not HTML"):
        return "not HTML"
    return reason


def _store(db: sqlite_utils.Database, report: ImportReport, page: WarcPage,
           result: Article | FetchFailure, sites: Sequence[SiteRules]) -> None:
    fetched = page.fetched
    rules = rules_for_url(list(sites), fetched.final_url)
    stored = store_imported(
        db,
        FetchResult(fetched.url, fetched.fetched_at, 0.0, fetched=fetched,
                    article=result if isinstance(result, Article) else None,
                    failure=result if isinstance(result, FetchFailure) else None,
                    body=page.body),
        site=rules.name if rules else None,
    )
    if stored is None:
        report.already += 1
        return
    report.pages += 1
    if stored.outcome == "failed":
        report.failed += 1
        log.info("failed %s (%s): %s", fetched.url, fetched.fetched_at,
                 result.message if isinstance(result, FetchFailure) else "")
    else:
        setattr(report, stored.outcome, getattr(report, stored.outcome) + 1)


def import_warcs(
    db: sqlite_utils.Database | str | Path,
    inputs: Sequence[str | Path],
    *,
    sites: Sequence[SiteRules] = (),
    workers: int = 0,
    cluster: str = "",
    connect_timeout: float = 10.0,
    max_bytes: int = MAX_BODY_BYTES,
    extract_timeout: float | None = DEFAULT_EXTRACT_TIMEOUT,
    pool: Callable[[Sequence[SiteRules], int], Any] = worker_pool,
) -> ImportReport:
    """Import WARC files (or directories of them) into an archive; see the module doc.

    `db` is an open archive, or the path of one: it is then opened only once the inputs are
    found and the cluster (if any) answers, so a bad input or an unreachable cluster leaves
    nothing on disk. Locally a page whose extraction takes longer than `extract_timeout`
    seconds fails alone (kind timeout): its worker process is killed and replaced."""
    files = warc_files(inputs)
    report = ImportReport(files=len(files))
    started = time.monotonic()
    client = connect(cluster, connect_timeout) if cluster else None
    try:
        archive = open_archive(db) if isinstance(db, (str, Path)) else db
        try:
            if client is not None:
                _import_on_cluster(archive, files, report, sites, client, cluster, max_bytes)
            else:
                asyncio.run(_import_here(archive, files, report, sites, workers or os.cpu_count() or 1,
                                         max_bytes, pool, extract_timeout))
        finally:
            if archive is not db:
                archive.close()
    finally:
        if client is not None:
            client.close()
    report.seconds = time.monotonic() - started
    return report


def _store_range(db: sqlite_utils.Database, report: ImportReport, result: RangeResult,
                 sites: Sequence[SiteRules]) -> None:
    """Store one range's pages, in record order, as one commit (a kill loses at most this range,
    which the next import of the file stores)."""
    with transaction(db):
        for item in result.records:
            if isinstance(item, Skipped):
                _count_skip(report, item)
            else:
                report.records += 1
                _store(db, report, item[0], item[1], sites)


async def _import_here(db: sqlite_utils.Database, files: Sequence[Path], report: ImportReport,
                       sites: Sequence[SiteRules], workers: int, max_bytes: int,
                       pool_factory: Callable[[Sequence[SiteRules], int], Any],
                       timeout: float | None) -> None:
    """Worker processes read and extract file ranges; this process stores them in input order."""
    pool = await started_pool(pool_factory, sites, workers, timeout)
    window: collections.deque[asyncio.Task[RangeResult]] = collections.deque()
    try:
        for piece in file_ranges(files, LOCAL_RANGE_BYTES):
            window.append(asyncio.ensure_future(_extract_range(pool, *piece, max_bytes)))
            while len(window) > 2 * workers:
                _store_range(db, report, await window.popleft(), sites)
        while window:
            _store_range(db, report, await window.popleft(), sites)
    finally:
        for task in window:
            task.cancel()
        await pool.close()


async def _extract_range(pool: Any, path: str, start: int, end: int | None, max_bytes: int) -> RangeResult:
    """One range's records, read and extracted by a worker process. When the worker is stopped
    past a page's extraction deadline, that page fails alone (kind timeout, its body still
    stored) and the records before and after it are read again without it."""
    try:
        result: RangeResult = await pool.run(import_range, path, start, end, None, max_bytes)
        return result
    except ExtractTimeout as exc:
        at = exc.note
        if not isinstance(at, int) or at < start or (end is not None and at >= end):
            raise
        why = FetchFailure("", exc.kind, exc.message)
    log.warning("%s: the page at byte %d took too long to extract; recorded as failed", path, at)
    before = await _extract_range(pool, path, start, at, max_bytes) if at > start else RangeResult(())
    slow: list[tuple[WarcPage, Article | FetchFailure] | Skipped] = []
    for item in read_warc(path, at, at + 1, max_bytes=max_bytes):
        if isinstance(item, WarcPage):
            slow.append(_packed(item, replace(why, url=item.fetched.url)))
        else:
            slow.append(item)
    after = await _extract_range(pool, path, at + 1, end, max_bytes) if end is None or at + 1 < end else RangeResult(())
    return RangeResult(before.records + tuple(slow) + after.records)


def _import_on_cluster(db: sqlite_utils.Database, files: Sequence[Path], report: ImportReport,
                       sites: Sequence[SiteRules], client: Any, address: str, max_bytes: int) -> None:
    """One task per file range on the cluster; results stored in input order as they arrive."""
    from archiver.executor import import_distributed

    distributed = import_distributed()
    bundle = SiteBundle(tuple(sites))  # sent with each task: a lost worker loses no dependency
    window = max(2, 2 * (sum(client.nthreads().values()) or 1))
    pieces = iter(file_ranges(files, absolute=True))
    order: dict[str, int] = {}
    results: dict[int, RangeResult] = {}
    submitted = stored = 0
    finished = distributed.as_completed()

    def submit_more() -> None:
        nonlocal submitted
        while submitted - stored < window:
            piece = next(pieces, None)
            if piece is None:
                return
            future = client.submit(import_range, *piece, bundle, max_bytes, pure=False, retries=2)
            order[future.key] = submitted
            submitted += 1
            finished.add(future)

    submit_more()
    for future in finished:
        try:
            results[order.pop(future.key)] = future.result()
        except Exception as exc:  # a task lost on every try: stop, keep what is stored
            raise ArchiverError(
                f"cluster {address}: a file range failed on every try ({type(exc).__name__}: {exc}); "
                "what was stored is kept: check the workers, then run the import again "
                "(pages already imported are skipped)"
            ) from exc
        future.release()
        while stored in results:
            _store_range(db, report, results.pop(stored), sites)
            stored += 1
        submit_more()


__all__ = [
    "ImportReport",
    "RangeResult",
    "Skipped",
    "WarcPage",
    "file_ranges",
    "import_range",
    "import_warcs",
    "next_record_start",
    "read_warc",
    "warc_files",
]
