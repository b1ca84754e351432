"""`archiver bench crawl`: crawl a generated local news site and compare with extraction alone.

For each page count it:

1. starts a site server in its own process: `pages` article pages (the demo's Harbor Valley
   Courier article page, about 50 KB with its chrome, varied per page) spread over `hosts` hosts,
   each host a port on 127.0.0.1 with its own robots.txt and sitemap;
2. crawls it in a fresh process into a fresh archive, with no politeness delay, every host in
   parallel and extraction in `workers` processes (all cores by default), exactly as
   `archiver crawl` runs;
3. extracts the same pages in a fresh process with the same worker processes and no network or
   database (the extraction-only rate, all cores), once before the crawl and once after; the
   rate compared with the crawl's is the mean of the two.

Both rates are timed from when the worker processes are up (the crawl's summary duration starts
after its executor has started them; the extraction phase starts its clock the same way).

Each phase's process tree is sampled from /proc every 50 ms: peak RSS (the crawl process alone,
and the whole tree with its workers) and CPU seconds. Ratios are of figures from this one run.
Linux only (it reads /proc).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from archiver.errors import ConfigError

TEMPLATE = (
    Path(__file__).resolve().parent
    / "demo/site/harbor-valley-courier/2025/09/coastal-rail-line-reopens-after-storm-repairs/index.html"
)
SLUG = "2025/09/coastal-rail-line-reopens-after-storm-repairs"
TITLE = "Coastal Rail Line Reopens Six Months After Storm Washed Out Tracks"
FIRST = "Passenger trains returned to the Saltmarsh Coast Line on Monday morning"
PLACES = ("Port Ellery", "Wrenford", "Marram Bay", "Kessock Island", "Saltmarsh", "Harbor Valley")
TOPICS = ("ferry timetable", "harbour wall", "school budget", "bus depot", "coastal path", "market hall")


# --- the generated site -------------------------------------------------------------------------------


def page_path(host: int, i: int) -> str:
    return f"2025/{1 + i % 12:02d}/story-{host}-{i}-{TOPICS[i % len(TOPICS)].replace(' ', '-')}-update"


def page_bytes(template: str, host: int, i: int) -> bytes:
    """One article page: the template with its own URL, title and opening."""
    place, topic = PLACES[(host + i) % len(PLACES)], TOPICS[i % len(TOPICS)]
    title = f"{place} {topic.title()} Update Number {i} From Desk {host}"
    text = template.replace(SLUG, page_path(host, i)).replace(TITLE, title)
    text = text.replace(FIRST, f"Officials in {place} gave update {i} on the {topic} on Monday, desk {host} reports")
    return text.encode("utf-8")


def sitemap_bytes(base: str, host: int, pages: Sequence[int]) -> bytes:
    urls = "".join(
        f"<url><loc>{base}/{page_path(host, i)}/</loc><lastmod>2025-09-{1 + i % 28:02d}</lastmod></url>"
        for i in pages
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()


def host_pages(total: int, hosts: int, host: int) -> list[int]:
    return list(range(host, total, hosts))


def serve_site(total: int, hosts: int) -> None:
    """Serve the site (this process); print one JSON line with the base URLs, serve until stdin
    closes."""
    template = TEMPLATE.read_text(encoding="utf-8")
    servers: list[ThreadingHTTPServer] = []
    bases: list[str] = []
    for host in range(hosts):
        handler = _handler(template, host, host_pages(total, hosts, host))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        base = f"http://127.0.0.1:{server.server_address[1]}"
        handler.base = base  # type: ignore[attr-defined]
        servers.append(server)
        bases.append(base)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps(bases), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    for server in servers:
        server.shutdown()


def _handler(template: str, host: int, pages: list[int]) -> type[BaseHTTPRequestHandler]:
    known = {f"/{page_path(host, i)}/": i for i in pages}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else a 40 ms delayed-ACK stall per kept-alive request
        base = ""

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                self.reply(b"User-agent: *\nDisallow: /admin/\n", "text/plain")
            elif self.path == "/sitemap.xml":
                self.reply(sitemap_bytes(self.base, host, pages), "application/xml")
            elif self.path in known:
                self.reply(page_bytes(template, host, known[self.path]), "text/html; charset=utf-8")
            else:
                self.reply(b"not found", "text/plain", 404)

        def reply(self, body: bytes, kind: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


# --- the two measured phases (each in its own process) ------------------------------------------------


def crawl_phase(bases: list[str], db_path: str, workers: int) -> dict[str, Any]:
    from archiver.config import Settings
    from archiver.crawl import Source, run_crawl

    settings = Settings(
        allow_private=True, host_delay=0.0, max_hosts=len(bases), extract_workers=workers,
        retries=1, backoff_base=0.1,
    )
    sources = [Source(f"{base}/sitemap.xml", "sitemap") for base in bases]
    report = run_crawl(db_path, sources, settings, command="archiver bench crawl")
    return report.to_record()


def extract_phase(total: int, hosts: int, workers: int) -> dict[str, Any]:
    """Extraction alone: the same pages handed to the same worker processes as the crawl's
    (`worker_pool`), at most 4 per worker in flight, no network and no database."""
    import asyncio

    from archiver.executor import extract_job, worker_pool
    from archiver.fetch import utc_now
    from archiver.models import Article, Fetched

    template = TEMPLATE.read_text(encoding="utf-8")

    def fetched() -> Iterator[Fetched]:
        for host in range(hosts):
            for i in host_pages(total, hosts, host):
                url = f"http://127.0.0.1:{9000 + host}/{page_path(host, i)}/"
                yield Fetched(url, url, 200, (("content-type", "text/html; charset=utf-8"),),
                              page_bytes(template, host, i), utc_now(), 0.0)

    async def run() -> tuple[int, float]:
        pool = worker_pool((), workers)
        await pool.start()  # as the crawl's executor does before its clock starts
        slots = asyncio.Semaphore(4 * workers)
        ok = 0

        async def one(page: Fetched) -> None:
            nonlocal ok
            try:
                result = await pool.run(extract_job, page)
                ok += isinstance(result, Article)  # after the await: `ok` may have moved meanwhile
            finally:
                slots.release()

        started = time.monotonic()
        tasks = []
        for page in fetched():
            await slots.acquire()
            tasks.append(asyncio.create_task(one(page)))
        await asyncio.gather(*tasks)
        seconds = time.monotonic() - started
        await pool.close()
        return ok, seconds

    ok, seconds = asyncio.run(run())
    return {"pages": total, "extracted": ok, "seconds": seconds}


# --- sampling a process tree ----------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(ppid, rss bytes, cpu seconds) of a process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return int(fields[1]), int(fields[21]) * _PAGE, (int(fields[11]) + int(fields[12])) / _TICK


class TreeSampler:
    """Samples a process and its descendants: peak RSS of the root and of the tree, CPU seconds."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root = root
        self.interval = interval
        self.peak_root = 0
        self.peak_tree = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        if not Path("/proc/self/stat").exists():
            raise ConfigError("archiver bench crawl reads /proc to measure memory and CPU; run it on Linux")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        stats: dict[int, tuple[int, int, float]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                got = _stat(int(name))
                if got is not None:
                    stats[int(name)] = got
        tree = {self.root}
        grew = True
        while grew:
            grew = False
            for pid, (ppid, _, _) in stats.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        total = 0
        for pid in tree:
            if pid in stats:
                _, rss, cpu = stats[pid]
                total += rss
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu)
                if pid == self.root:
                    self.peak_root = max(self.peak_root, rss)
        self.peak_tree = max(self.peak_tree, total)

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())

    @property
    def root_cpu_seconds(self) -> float:
        return self.cpu.get(self.root, 0.0)


# --- the benchmark ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrawlBench:
    """Figures of one page count, all from one run."""

    pages: int
    hosts: int
    workers: int
    cores: int
    stored: int
    crawl_seconds: float
    crawl_pages_per_s: float
    crawl_cpu_cores: float  # average cores busy in the crawl's process tree
    crawl_cpu_ms_per_page: float  # CPU the crawl's process tree spent per stored page
    coordinator_cpu_ms_per_page: float  # of which the crawl process (fetch, store, schedule)
    crawl_peak_rss_mb: float  # the crawl process alone
    crawl_tree_peak_rss_mb: float  # the crawl process and its extraction workers
    server_cpu_cores: float
    extract_seconds: float
    extract_pages_per_s: float  # the mean of the two runs, one before the crawl and one after
    extract_pages_per_s_before: float
    extract_pages_per_s_after: float
    extract_cpu_cores: float
    extract_cpu_ms_per_page: float
    extract_tree_peak_rss_mb: float

    @property
    def ratio(self) -> float:
        return self.crawl_pages_per_s / self.extract_pages_per_s if self.extract_pages_per_s else 0.0

    def to_record(self) -> dict[str, Any]:
        return {**asdict(self), "crawl_over_extract": round(self.ratio, 3)}


def run_phase(module: str, args: list[str], what: str) -> tuple[dict[str, Any], TreeSampler, float]:
    """Run `python -m MODULE ARGS` in a fresh process, sampling its process tree: the JSON record
    it printed last, the samples, and its wall time (`what` names it when it fails)."""
    proc = subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.PIPE, text=True)
    started = time.monotonic()
    with TreeSampler(proc.pid) as sampler:
        out, _ = proc.communicate()
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise ConfigError(f"{what} failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1]), sampler, wall


def _phase(args: list[str]) -> tuple[dict[str, Any], TreeSampler, float]:
    return run_phase("archiver.benchcrawl", args, f"benchmark phase {args[0]}")


def bench_one(pages: int, hosts: int, workers: int) -> CrawlBench:
    """Extract `pages` pages, serve and crawl them over `hosts` hosts, extract them again;
    measure each phase (extraction runs on both sides of the crawl, so that a machine that
    speeds up or slows down during the run moves both figures alike)."""
    workers = workers or os.cpu_count() or 1
    before, before_tree, _ = _phase(["extract", str(pages), str(hosts), str(workers)])
    server = subprocess.Popen(
        [sys.executable, "-m", "archiver.benchcrawl", "serve", str(pages), str(hosts)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        bases = json.loads(server.stdout.readline())
        server_cpu_before = (_stat(server.pid) or (0, 0, 0.0))[2]
        with tempfile.TemporaryDirectory(prefix="archiver-bench-") as tmp:
            report, crawl_tree, _ = _phase(
                ["crawl", json.dumps(bases), str(Path(tmp) / "archive.db"), str(workers)]
            )
        server_cpu = (_stat(server.pid) or (0, 0, 0.0))[2] - server_cpu_before
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)
    after, after_tree, _ = _phase(["extract", str(pages), str(hosts), str(workers)])
    crawl_seconds = float(report["duration"])
    mb = 1024 * 1024
    runs = [(before, before_tree), (after, after_tree)]
    rates = [run["extracted"] / run["seconds"] for run, _ in runs]
    extract_seconds = sum(run["seconds"] for run, _ in runs) / 2
    extract_cores = sum(tree.cpu_seconds / run["seconds"] for run, tree in runs) / 2
    extract_ms = sum(1000 * tree.cpu_seconds / max(1, run["extracted"]) for run, tree in runs) / 2
    return CrawlBench(
        pages=pages,
        hosts=hosts,
        workers=workers,
        cores=os.cpu_count() or 1,
        stored=int(report["new"]),
        crawl_seconds=round(crawl_seconds, 2),
        crawl_pages_per_s=round(report["new"] / crawl_seconds, 1),
        crawl_cpu_cores=round(crawl_tree.cpu_seconds / crawl_seconds, 2),
        crawl_cpu_ms_per_page=round(1000 * crawl_tree.cpu_seconds / max(1, report["new"]), 1),
        coordinator_cpu_ms_per_page=round(1000 * crawl_tree.root_cpu_seconds / max(1, report["new"]), 1),
        crawl_peak_rss_mb=round(crawl_tree.peak_root / mb, 1),
        crawl_tree_peak_rss_mb=round(crawl_tree.peak_tree / mb, 1),
        server_cpu_cores=round(server_cpu / crawl_seconds, 2),
        extract_seconds=round(extract_seconds, 2),
        extract_pages_per_s=round(sum(rates) / 2, 1),
        extract_pages_per_s_before=round(rates[0], 1),
        extract_pages_per_s_after=round(rates[1], 1),
        extract_cpu_cores=round(extract_cores, 2),
        extract_cpu_ms_per_page=round(extract_ms, 1),
        extract_tree_peak_rss_mb=round(max(before_tree.peak_tree, after_tree.peak_tree) / mb, 1),
    )


def run_crawl_bench(page_counts: Sequence[int], *, hosts: int = 10, workers: int = 0) -> list[CrawlBench]:
    if hosts < 1:
        raise ConfigError("--hosts must be at least 1")
    return [bench_one(pages, hosts, workers) for pages in page_counts]


def format_crawl_bench(results: Sequence[CrawlBench]) -> str:
    lines = [
        f"{'pages':>6} {'hosts':>5} {'crawl p/s':>9} {'extract p/s':>11} {'ratio':>6} "
        f"{'crawl cores':>11} {'extract cores':>13} {'server cores':>12} {'crawl RSS MB':>12} {'+workers MB':>11} {'stored':>6}"
    ]
    for r in results:
        lines.append(
            f"{r.pages:>6} {r.hosts:>5} {r.crawl_pages_per_s:>9.1f} {r.extract_pages_per_s:>11.1f} "
            f"{r.ratio:>6.0%} {r.crawl_cpu_cores:>11.2f} {r.extract_cpu_cores:>13.2f} {r.server_cpu_cores:>12.2f} "
            f"{r.crawl_peak_rss_mb:>12.1f} {r.crawl_tree_peak_rss_mb:>11.1f} {r.stored:>6}"
        )
    for r in results:
        lines.append(
            f"{r.pages} pages: extraction alone {r.extract_pages_per_s_before:.1f} p/s before the crawl, "
            f"{r.extract_pages_per_s_after:.1f} p/s after; CPU per page: crawl {r.crawl_cpu_ms_per_page:.1f} ms "
            f"(of which the crawl process {r.coordinator_cpu_ms_per_page:.1f} ms), extraction alone "
            f"{r.extract_cpu_ms_per_page:.1f} ms"
        )
    first = results[0]
    lines.append(
        f"{first.cores} core(s), {first.workers} extraction worker(s); crawl = fetch + extract + store "
        "with no politeness delay; extract = extraction alone on the same pages."
    )
    if len(results) > 1:
        small, large = min(results, key=lambda r: r.pages), max(results, key=lambda r: r.pages)
        growth = large.crawl_peak_rss_mb / small.crawl_peak_rss_mb - 1
        tree = large.crawl_tree_peak_rss_mb / small.crawl_tree_peak_rss_mb - 1
        lines.append(
            f"peak RSS, {large.pages} pages vs {small.pages}: crawl process {growth:+.1%}, "
            f"with workers {tree:+.1%}"
        )
    return "\n".join(lines)


def _main(argv: list[str]) -> None:
    command = argv[0]
    if command == "serve":
        serve_site(int(argv[1]), int(argv[2]))
    elif command == "crawl":
        print(json.dumps(crawl_phase(json.loads(argv[1]), argv[2], int(argv[3]))))
    elif command == "extract":
        print(json.dumps(extract_phase(int(argv[1]), int(argv[2]), int(argv[3]))))
    else:
        raise SystemExit(f"unknown phase {command!r}")


if __name__ == "__main__":
    _main(sys.argv[1:])
