"""`archiver bench import`: import a generated WARC with 1 worker process, then 2; pages/s.

1. Writes a gzipped WARC of `pages` HTML responses: the demo's Harbor Valley Courier article
   page (about 50 KB with its chrome, varied per page, as `archiver bench crawl` serves them)
   over 10 hosts, each record dated a minute apart.
2. For each worker count, imports it in a fresh process into a fresh archive, exactly as
   `archiver import FILE --workers N` runs (reading, extraction in N processes, storing).

Each import's process tree is sampled from /proc (CPU seconds, peak RSS). Speed-ups are against
the first worker count of the same run. Linux only (it reads /proc).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archiver.benchcrawl import TEMPLATE, TreeSampler, host_pages, page_bytes, page_path
from archiver.errors import ConfigError

HOSTS = 10


def write_warc(path: Path, pages: int, hosts: int = HOSTS) -> int:
    """Write the benchmark WARC (gzipped); return the number of response records."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    template = TEMPLATE.read_text(encoding="utf-8")
    start = datetime(2025, 9, 1, tzinfo=UTC)
    written = 0
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        for host in range(hosts):
            for i in host_pages(pages, hosts, host):
                body = page_bytes(template, host, i)
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

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def import_phase(warc: str, db_path: str, workers: int) -> dict[str, Any]:
    """One import, as `archiver import` runs it (this process)."""
    from archiver import store
    from archiver.warcimport import import_warcs

    db = store.open_archive(db_path)
    report = import_warcs(db, [warc], workers=workers)
    db.conn.close()
    return report.to_record()


def run_import_bench(pages: int, worker_counts: Sequence[int] = (1, 2)) -> list[ImportBench]:
    """Generate the WARC once, then import it with each worker count in a fresh process."""
    if pages < 1 or not worker_counts:
        raise ConfigError("bench import needs at least one page and one worker count")
    results: list[ImportBench] = []
    with tempfile.TemporaryDirectory(prefix="archiver-bench-import-") as tmp:
        warc = Path(tmp) / "pages.warc.gz"
        records = write_warc(warc, pages)
        size_mb = warc.stat().st_size / (1024 * 1024)
        for workers in worker_counts:
            db_path = Path(tmp) / f"archive-{workers}.db"
            proc = subprocess.Popen(
                [sys.executable, "-m", "archiver.benchimport", str(warc), str(db_path), str(workers)],
                stdout=subprocess.PIPE, text=True,
            )
            started = time.monotonic()
            with TreeSampler(proc.pid) as sampler:
                out, _ = proc.communicate()
            wall = time.monotonic() - started
            if proc.returncode != 0:
                raise ConfigError(f"benchmark import with {workers} worker(s) failed (exit {proc.returncode})")
            report = json.loads(out.strip().splitlines()[-1])
            seconds = float(report["seconds"])
            rate = report["pages"] / seconds if seconds else 0.0
            base = results[0].pages_per_s if results else rate
            mb = 1024 * 1024
            results.append(ImportBench(
                workers=workers, cores=os.cpu_count() or 1, records=records, stored=int(report["new"]),
                seconds=round(seconds, 2), pages_per_s=round(rate, 1),
                speedup=round(rate / base, 2) if base else 0.0,
                cpu_cores=round(sampler.cpu_seconds / wall, 2) if wall else 0.0,
                peak_rss_mb=round(sampler.peak_root / mb, 1),
                tree_peak_rss_mb=round(sampler.peak_tree / mb, 1),
                warc_mb=round(size_mb, 1),
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
    lines.append(
        f"{first.cores} core(s); one gzipped WARC of {first.records} HTML pages ({first.warc_mb} MB), "
        "imported into a fresh archive per row (read + extract + store); speed-up against the first row."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(import_phase(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
