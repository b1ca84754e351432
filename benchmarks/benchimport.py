"""`archiver bench import`: import a generated WARC with 1 worker process, then 2; pages/s.

1. Writes a gzipped WARC of `pages` HTML responses: the demo's Harbor Valley Courier article
   page (about 50 KB with its chrome, varied per page, as `archiver bench crawl` serves them)
   over 10 hosts, each record dated a minute apart.
2. Imports it with each worker count, each time in a fresh process into a fresh archive, exactly
   as `archiver import FILE --workers N` runs (reading, extraction in N processes, storing):
   by default twice each, in the order 1 2 2 1, so that drift in the machine's speed during the
   run moves both counts alike; a count's pages/s is the mean of its runs.

Each import's process tree is sampled from /proc (CPU seconds, peak RSS). Speed-ups are against
the first worker count of the same run. Linux only (it reads /proc).
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchcrawl import TEMPLATE, PageMaker, TreeSampler, host_pages, page_path, run_phase

from archiver.errors import ConfigError

HOSTS = 10


def write_warc(path: Path, pages: int, hosts: int = HOSTS) -> int:
    """Write the benchmark WARC (gzipped); return the number of response records."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    pages_of = PageMaker(TEMPLATE.read_text(encoding="utf-8"))
    start = datetime(2025, 9, 1, tzinfo=UTC)
    written = 0
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        for host in range(hosts):
            for i in host_pages(pages, hosts, host):
                body = pages_of.page(host, i)
                url = f"https://desk{host}.courier.example/{page_path(host, i)}/"
                http = StatusAndHeaders(
                    "200 OK",
                    [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
                    protocol="HTTP/1.1",
                )
                date = (start + timedelta(minutes=written)).strftime("%Y-%m-%dT%H:%M:%SZ")
                record = writer.create_warc_record(
                    url, "response", payload=io.BytesIO(body), http_headers=http,
                    warc_headers_dict={"WARC-Date": date},
                )
                writer.write_record(record)
                written += 1
    return written


@dataclass(frozen=True)
class ImportBench:
    """One import of the benchmark WARC."""

    workers: int
    cores: int
    records: int
    stored: int
    seconds: float
    pages_per_s: float
    speedup: float  # against the first worker count of the run
    cpu_cores: float  # average cores busy in the import's process tree
    peak_rss_mb: float  # the importing process alone
    tree_peak_rss_mb: float  # with its worker processes
    warc_mb: float
    runs_pages_per_s: tuple[float, ...] = ()  # each import of this count, in run order

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def import_phase(warc: str, db_path: str, workers: int) -> dict[str, Any]:
    """One import, as `archiver import` runs it (this process)."""
    from archiver import store
    from archiver.warcimport import import_warcs

    db = store.Archive(db_path)
    report = import_warcs(db, [warc], workers=workers)
    db.conn.close()
    return report.to_record()


def _import_once(warc: Path, db_path: Path, workers: int) -> tuple[dict[str, Any], TreeSampler, float]:
    """One import in a fresh process: its report, its process tree's samples, its wall time."""
    return run_phase(__file__, [str(warc), str(db_path), str(workers)],
                     f"benchmark import with {workers} worker(s)")


def run_order(worker_counts: Sequence[int], rounds: int) -> list[int]:
    """The order of the imports: the counts, then the counts reversed, and so on (1 2 2 1 ...)."""
    order: list[int] = []
    for round_ in range(rounds):
        order += list(worker_counts) if round_ % 2 == 0 else list(reversed(worker_counts))
    return order


def run_import_bench(pages: int, worker_counts: Sequence[int] = (1, 2), rounds: int = 2) -> list[ImportBench]:
    """Generate the WARC once, then import it with each worker count `rounds` times (each in a
    fresh process into a fresh archive, in `run_order`); one row per count, its runs averaged."""
    if pages < 1 or not worker_counts or rounds < 1:
        raise ConfigError("bench import needs at least one page, one worker count and one round")
    runs: dict[int, list[tuple[dict[str, Any], TreeSampler, float]]] = {w: [] for w in worker_counts}
    with tempfile.TemporaryDirectory(prefix="archiver-bench-import-") as tmp:
        warc = Path(tmp) / "pages.warc.gz"
        records = write_warc(warc, pages)
        size_mb = warc.stat().st_size / (1024 * 1024)
        for n, workers in enumerate(run_order(worker_counts, rounds)):
            runs[workers].append(_import_once(warc, Path(tmp) / f"archive-{n}.db", workers))
    results: list[ImportBench] = []
    mb = 1024 * 1024
    for workers in worker_counts:
        done = runs[workers]
        rates = [report["pages"] / float(report["seconds"]) for report, _, _ in done]
        rate = sum(rates) / len(rates)
        base = results[0].pages_per_s if results else rate
        results.append(ImportBench(
            workers=workers, cores=os.cpu_count() or 1, records=records,
            stored=min(int(report["new"]) for report, _, _ in done),
            seconds=round(sum(float(report["seconds"]) for report, _, _ in done) / len(done), 2),
            pages_per_s=round(rate, 1),
            speedup=round(rate / base, 2) if base else 0.0,
            cpu_cores=round(sum(s.cpu_seconds / wall for _, s, wall in done if wall) / len(done), 2),
            peak_rss_mb=round(max(s.peak_root for _, s, _ in done) / mb, 1),
            tree_peak_rss_mb=round(max(s.peak_tree for _, s, _ in done) / mb, 1),
            warc_mb=round(size_mb, 1),
            runs_pages_per_s=tuple(round(r, 1) for r in rates),
        ))
    return results


def format_import_bench(results: Sequence[ImportBench]) -> str:
    header = (
        f"{'workers':>7} {'pages':>6} {'stored':>6} {'seconds':>8} {'pages/s':>8} {'speed-up':>8} "
        f"{'cores':>6} {'RSS MB':>7} {'+workers MB':>11}"
    )
    lines = [header]
    for r in results:
        lines.append(
            f"{r.workers:>7} {r.records:>6} {r.stored:>6} {r.seconds:>8.1f} {r.pages_per_s:>8.1f} "
            f"{r.speedup:>7.2f}x {r.cpu_cores:>6.2f} {r.peak_rss_mb:>7.1f} {r.tree_peak_rss_mb:>11.1f}"
        )
    first = results[0]
    for r in results:
        lines.append(f"{r.workers} worker(s), each run: {', '.join(f'{x:.1f}' for x in r.runs_pages_per_s)} pages/s")
    lines.append(
        f"{first.cores} core(s); one gzipped WARC of {first.records} HTML pages ({first.warc_mb} MB), "
        "imported into a fresh archive each time (read + extract + store), each count "
        f"{len(first.runs_pages_per_s)} time(s), in the order "
        f"{' '.join(map(str, run_order([r.workers for r in results], len(first.runs_pages_per_s))))}; "
        "pages/s is the mean of a count's runs (listed below), speed-up against the first row."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(import_phase(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
