"""`archiver import`: pages from WARC files into the archive, as if fetched at each record's date.

Reading is `archiver.warc.read_warc` (pure: a file in, records out, one at a time); every record
that is not an HTML page is counted as skipped or broken, never fatal.

Each page is extracted with the crawl's extractor (`archiver.jobs.extract_page`) and stored by
this process alone (`Archive.store_imported`): a page whose (URL, body sha256, date) is
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from archiver.cluster import SiteBundle, connect
from archiver.config import Settings
from archiver.errors import ArchiverError, ExtractTimeout
from archiver.jobs import extract_page, worker_sites
from archiver.models import Article, FetchFailure, FetchResult
from archiver.pools import started_pool, worker_pool
from archiver.rules import SiteRules, rules_for_url
from archiver.store import Archive, pack_body
from archiver.warc import MAX_BODY_BYTES, Skipped, WarcPage, file_ranges, read_warc, warc_files
from archiver.workers import mark

log = logging.getLogger(__name__)

LOCAL_RANGE_BYTES = 256 * 1024  # bytes of a file per local worker task (about 20 news pages)
DEFAULT_EXTRACT_TIMEOUT = Settings.extract_timeout


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
        out.append(_packed(item, extract_page(item.fetched, rules)))
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


def _store(db: Archive, report: ImportReport, page: WarcPage,
           result: Article | FetchFailure, sites: Sequence[SiteRules]) -> None:
    fetched = page.fetched
    rules = rules_for_url(list(sites), fetched.final_url)
    stored = db.store_imported(
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
    db: Archive | str | Path,
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
        archive = Archive(db) if isinstance(db, (str, Path)) else db
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


def _store_range(db: Archive, report: ImportReport, result: RangeResult,
                 sites: Sequence[SiteRules]) -> None:
    """Store one range's pages, in record order, as one commit (a kill loses at most this range,
    which the next import of the file stores)."""
    with db.transaction():
        for item in result.records:
            if isinstance(item, Skipped):
                _count_skip(report, item)
            else:
                report.records += 1
                _store(db, report, item[0], item[1], sites)


async def _import_here(db: Archive, files: Sequence[Path], report: ImportReport,
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


def _import_on_cluster(db: Archive, files: Sequence[Path], report: ImportReport,
                       sites: Sequence[SiteRules], client: Any, address: str, max_bytes: int) -> None:
    """One task per file range on the cluster; results stored in input order as they arrive."""
    from archiver.cluster import import_distributed

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


__all__ = ["ImportReport", "RangeResult", "import_range", "import_warcs"]
