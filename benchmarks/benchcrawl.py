"""`archiver bench crawl`: crawl a generated local news site and compare with extraction alone.

For each page count it runs, in the order E C E (C E ...: `rounds` crawls):

- E: extracts the pages in a fresh process with the same worker processes as the crawl's and
  no network or database (the extraction-only rate, all cores);
- C: starts a site server in its own process: `pages` article pages (the demo's Harbor Valley
  Courier article page, about 50 KB with its chrome, varied per page) spread over `hosts` hosts,
  each host a port on 127.0.0.1 with its own robots.txt and sitemap; and crawls it in a fresh
  process into a fresh archive, with no politeness delay, every host in parallel and extraction
  in `workers` processes (all cores by default), exactly as `archiver crawl` runs.

Each crawl's rate is compared with the mean of the two extraction runs beside it (a machine that
speeds up or slows down moves both alike); the ratio reported is the median of the rounds'.
The site server stands in for sites on other machines, so it is as light as it can be (one
event loop, no thread per connection); its CPU is reported beside the crawl's.

Both rates are timed from when the worker processes are up (the crawl's summary duration starts
after its executor has started them; the extraction phase starts its clock the same way).

Each phase's process tree is sampled from /proc every 50 ms: peak RSS (the crawl process alone,
and the whole tree with its workers) and CPU seconds. Ratios are of figures from this one run.
Linux only (it reads /proc).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import archiver.demo
from archiver.errors import ConfigError

TEMPLATE = (
    Path(archiver.demo.__file__).resolve().parent
    / "site/harbor-valley-courier/2025/09/coastal-rail-line-reopens-after-storm-repairs/index.html"
)
SLUG = "2025/09/coastal-rail-line-reopens-after-storm-repairs"
TITLE = "Coastal Rail Line Reopens Six Months After Storm Washed Out Tracks"
FIRST = "Passenger trains returned to the Saltmarsh Coast Line on Monday morning"
PLACES = ("Port Ellery", "Wrenford", "Marram Bay", "Kessock Island", "Saltmarsh", "Harbor Valley")
TOPICS = ("ferry timetable", "harbour wall", "school budget", "bus depot", "coastal path", "market hall")


# --- the generated site -------------------------------------------------------------------------------


def page_path(host: int, i: int) -> str:
    return f"2025/{1 + i % 12:02d}/story-{host}-{i}-{TOPICS[i % len(TOPICS)].replace(' ', '-')}-update"


class PageMaker:
    """Makes the site's article pages: the template with each page's own URL, title and opening.

    The template is split once around those three, so a page is a join of bytes, not three
    passes over 50 KB of text (the server makes every page it serves)."""

    def __init__(self, template: str) -> None:
        pattern = re.compile("|".join(re.escape(part) for part in (SLUG, TITLE, FIRST)))
        self.fixed: list[bytes] = []
        self.slots: list[str] = []
        at = 0
        for match in pattern.finditer(template):
            self.fixed.append(template[at : match.start()].encode("utf-8"))
            self.slots.append(match.group())
            at = match.end()
        self.fixed.append(template[at:].encode("utf-8"))

    def page(self, host: int, i: int) -> bytes:
        place, topic = PLACES[(host + i) % len(PLACES)], TOPICS[i % len(TOPICS)]
        values = {
            SLUG: page_path(host, i).encode(),
            TITLE: f"{place} {topic.title()} Update Number {i} From Desk {host}".encode(),
            FIRST: f"Officials in {place} gave update {i} on the {topic} on Monday, desk {host} reports".encode(),
        }
        parts = [self.fixed[0]]
        for slot, fixed in zip(self.slots, self.fixed[1:], strict=True):
            parts += (values[slot], fixed)
        return b"".join(parts)


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
    closes.

    The site stands in for news sites on other machines, so it is kept as light as it can be:
    a minimal HTTP/1.1 server on this process's event loop (GET, keep-alive), not a thread per
    connection and a full request parser. The benchmark reports the CPU it takes nonetheless."""
    asyncio.run(_serve_site(total, hosts))


async def _serve_site(total: int, hosts: int) -> None:
    loop = asyncio.get_running_loop()
    pages = PageMaker(TEMPLATE.read_text(encoding="utf-8"))
    servers: list[asyncio.Server] = []
    bases: list[str] = []
    for host in range(hosts):
        site = _Site(pages, host, host_pages(total, hosts, host))
        server = await loop.create_server(functools.partial(_SiteProtocol, site), "127.0.0.1", 0)
        site.base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        servers.append(server)
        bases.append(site.base)
    print(json.dumps(bases), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    for server in servers:
        server.close()


class _Site:
    """One host of the generated site: what each path answers."""

    def __init__(self, pages: PageMaker, host: int, numbers: list[int]) -> None:
        self.pages = pages
        self.host = host
        self.numbers = numbers
        self.known = {f"/{page_path(host, i)}/": i for i in numbers}
        self.base = ""

    def answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /admin/\n"
        if path == "/sitemap.xml":
            return 200, "application/xml", sitemap_bytes(self.base, self.host, self.numbers)
        if path in self.known:
            return 200, "text/html; charset=utf-8", self.pages.page(self.host, self.known[path])
        return 404, "text/plain", b"not found"


class _SiteProtocol(asyncio.Protocol):
    """HTTP/1.1 for a benchmark client: GET requests without bodies, answered in order, the
    connection kept open until the client closes it (or sends `Connection: close`)."""

    REASONS: ClassVar[dict[int, bytes]] = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed"}
    MAX_HEAD = 64 * 1024

    def __init__(self, site: _Site) -> None:
        self.site = site
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport  # asyncio sets TCP_NODELAY on it: no delayed-ACK stalls

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > self.MAX_HEAD:
                    self.reply(400, "text/plain", b"request head too long", close=True)
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            request, *fields = head.split(b"\r\n")
            parts = request.split(b" ")
            close = any(f.lower().replace(b" ", b"") == b"connection:close" for f in fields)
            if len(parts) != 3:
                self.reply(400, "text/plain", b"bad request line", close=True)
                return
            if parts[0] != b"GET":
                self.reply(405, "text/plain", b"only GET", close=True)
                return
            self.reply(*self.site.answer(parts[1].decode("latin-1")), close=close)
            if close:
                return

    def reply(self, status: int, kind: str, body: bytes, close: bool = False) -> None:
        assert self.transport is not None
        head = (
            b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
            % (status, self.REASONS[status], kind.encode("ascii"), len(body), b"Connection: close\r\n" if close else b"")
        )
        self.transport.write(head + body)
        if close:
            self.transport.close()


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

    from archiver.jobs import extract_job
    from archiver.models import Article, Fetched
    from archiver.pools import worker_pool
    from archiver.timestamps import utc_now

    pages = PageMaker(TEMPLATE.read_text(encoding="utf-8"))

    def fetched() -> Iterator[Fetched]:
        for host in range(hosts):
            for i in host_pages(total, hosts, host):
                url = f"http://127.0.0.1:{9000 + host}/{page_path(host, i)}/"
                yield Fetched(url, url, 200, (("content-type", "text/html; charset=utf-8"),),
                              pages.page(host, i), utc_now(), 0.0)

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
    """Figures of one page count, all from one run: `rounds` crawls, each between two
    extraction-only runs (E C E C E ...)."""

    pages: int
    hosts: int
    workers: int
    cores: int
    rounds: int
    stored: int  # pages stored by each crawl (the fewest, when rounds differ)
    crawl_seconds: float  # mean of the rounds
    crawl_pages_per_s: float  # mean of the rounds
    crawl_cpu_cores: float  # average cores busy in the crawl's process tree
    crawl_cpu_ms_per_page: float  # CPU the crawl's process tree spent per stored page
    coordinator_cpu_ms_per_page: float  # of which the crawl process (fetch, store, schedule)
    crawl_peak_rss_mb: float  # the crawl process alone (the highest of the rounds)
    crawl_tree_peak_rss_mb: float  # the crawl process and its extraction workers
    server_cpu_cores: float
    extract_seconds: float
    extract_pages_per_s: float  # mean of all the extraction-only runs
    extract_cpu_cores: float
    extract_cpu_ms_per_page: float
    extract_tree_peak_rss_mb: float
    crawl_runs_pages_per_s: tuple[float, ...]
    extract_runs_pages_per_s: tuple[float, ...]  # in order: before crawl 1, after crawl 1 (before 2), ...
    round_ratios: tuple[float, ...]  # each crawl's rate over the mean of the extraction runs beside it

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios (each crawl against the extraction runs just before
        and just after it, so a machine that speeds up or slows down moves both alike)."""
        return statistics.median(self.round_ratios) if self.round_ratios else 0.0

    def to_record(self) -> dict[str, Any]:
        return {**asdict(self), "crawl_over_extract": round(self.ratio, 3)}


def run_phase(script: str, args: list[str], what: str) -> tuple[dict[str, Any], TreeSampler, float]:
    """Run `python SCRIPT ARGS` in a fresh process, sampling its process tree: the JSON record
    it printed last, the samples, and its wall time (`what` names it when it fails)."""
    proc = subprocess.Popen([sys.executable, script, *args], stdout=subprocess.PIPE, text=True)
    started = time.monotonic()
    with TreeSampler(proc.pid) as sampler:
        out, _ = proc.communicate()
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise ConfigError(f"{what} failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1]), sampler, wall


def _phase(args: list[str]) -> tuple[dict[str, Any], TreeSampler, float]:
    return run_phase(__file__, args, f"benchmark phase {args[0]}")


def _crawl_round(pages: int, hosts: int, workers: int) -> tuple[dict[str, Any], TreeSampler, float]:
    """Serve a fresh site, crawl it into a fresh archive: the crawl's record, its samples and
    the server's CPU seconds during it."""
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", str(pages), str(hosts)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        bases = json.loads(server.stdout.readline())
        server_cpu_before = (_stat(server.pid) or (0, 0, 0.0))[2]
        with tempfile.TemporaryDirectory(prefix="archiver-bench-") as tmp:
            report, tree, _ = _phase(["crawl", json.dumps(bases), str(Path(tmp) / "archive.db"), str(workers)])
        server_cpu = (_stat(server.pid) or (0, 0, 0.0))[2] - server_cpu_before
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)
    return report, tree, server_cpu


def bench_one(pages: int, hosts: int, workers: int, rounds: int = 1) -> CrawlBench:
    """Extract `pages` pages; then `rounds` times: serve and crawl them over `hosts` hosts and
    extract them again. Every crawl sits between two extraction-only runs, so each round's
    ratio compares figures taken moments apart."""
    workers = workers or os.cpu_count() or 1

    def extract() -> tuple[dict[str, Any], TreeSampler]:
        return _phase(["extract", str(pages), str(hosts), str(workers)])[:2]

    extracts = [extract()]
    crawls = []
    for _ in range(max(1, rounds)):
        crawls.append(_crawl_round(pages, hosts, workers))
        extracts.append(extract())
    mb = 1024 * 1024
    extract_rates = [run["extracted"] / run["seconds"] for run, _ in extracts]
    crawl_rates = [report["new"] / float(report["duration"]) for report, _, _ in crawls]
    ratios = [rate / ((extract_rates[k] + extract_rates[k + 1]) / 2) for k, rate in enumerate(crawl_rates)]
    crawl_seconds = [float(report["duration"]) for report, _, _ in crawls]
    stored = min(int(report["new"]) for report, _, _ in crawls)
    crawl_cpu = sum(tree.cpu_seconds for _, tree, _ in crawls)
    coordinator_cpu = sum(tree.root_cpu_seconds for _, tree, _ in crawls)
    crawl_pages = sum(max(1, int(report["new"])) for report, _, _ in crawls)
    return CrawlBench(
        pages=pages,
        hosts=hosts,
        workers=workers,
        cores=os.cpu_count() or 1,
        rounds=len(crawls),
        stored=stored,
        crawl_seconds=round(statistics.mean(crawl_seconds), 2),
        crawl_pages_per_s=round(statistics.mean(crawl_rates), 1),
        crawl_cpu_cores=round(crawl_cpu / sum(crawl_seconds), 2),
        crawl_cpu_ms_per_page=round(1000 * crawl_cpu / crawl_pages, 1),
        coordinator_cpu_ms_per_page=round(1000 * coordinator_cpu / crawl_pages, 1),
        crawl_peak_rss_mb=round(max(tree.peak_root for _, tree, _ in crawls) / mb, 1),
        crawl_tree_peak_rss_mb=round(max(tree.peak_tree for _, tree, _ in crawls) / mb, 1),
        server_cpu_cores=round(sum(cpu for _, _, cpu in crawls) / sum(crawl_seconds), 2),
        extract_seconds=round(statistics.mean(run["seconds"] for run, _ in extracts), 2),
        extract_pages_per_s=round(statistics.mean(extract_rates), 1),
        extract_cpu_cores=round(statistics.mean(tree.cpu_seconds / run["seconds"] for run, tree in extracts), 2),
        extract_cpu_ms_per_page=round(
            1000 * sum(tree.cpu_seconds for _, tree in extracts) / sum(max(1, run["extracted"]) for run, _ in extracts), 1
        ),
        extract_tree_peak_rss_mb=round(max(tree.peak_tree for _, tree in extracts) / mb, 1),
        crawl_runs_pages_per_s=tuple(round(rate, 1) for rate in crawl_rates),
        extract_runs_pages_per_s=tuple(round(rate, 1) for rate in extract_rates),
        round_ratios=tuple(round(ratio, 3) for ratio in ratios),
    )


def run_crawl_bench(
    page_counts: Sequence[int], *, hosts: int = 10, workers: int = 0, rounds: int = 1
) -> list[CrawlBench]:
    if hosts < 1:
        raise ConfigError("--hosts must be at least 1")
    if rounds < 1:
        raise ConfigError("--rounds must be at least 1")
    return [bench_one(pages, hosts, workers, rounds) for pages in page_counts]


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
        runs = [f"E {rate:.1f}" for rate in r.extract_runs_pages_per_s]
        for k, (rate, ratio) in enumerate(zip(r.crawl_runs_pages_per_s, r.round_ratios, strict=True)):
            runs.insert(2 * k + 1, f"C {rate:.1f} ({ratio:.0%})")
        lines.append(f"{r.pages} pages, p/s in run order (E extraction alone, C crawl): {', '.join(runs)}")
        lines.append(
            f"{r.pages} pages: ratio = median of the rounds' ratios; CPU per page: crawl "
            f"{r.crawl_cpu_ms_per_page:.1f} ms (of which the crawl process {r.coordinator_cpu_ms_per_page:.1f} ms), "
            f"extraction alone {r.extract_cpu_ms_per_page:.1f} ms"
        )
    first = results[0]
    lines.append(
        f"{first.cores} core(s), {first.workers} extraction worker(s), {first.rounds} round(s); crawl = fetch + "
        "extract + store with no politeness delay; extract = extraction alone on the same pages."
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
