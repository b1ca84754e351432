"""`archiver bench serve`: time real HTTP requests to `archiver serve` over an archive of N articles.

1. Builds a synthetic archive of N articles through archiver's own store (`newsarchive.py`: many
   sites, authors, sections, languages and time zones, years of dates, Zipf-like text, versions,
   related links, failed fetches), or reuses the one built before for that N and generator version
   (in `benchmarks/.cache/serve/`; `--rebuild` builds it again). An archive from an older archiver
   is upgraded first (`store.upgrade_archive`), so its migrations are not timed.
2. Starts `archiver serve --db ARCHIVE --port 0` (Datasette over uvicorn on 127.0.0.1) in its own
   process, exactly as a user runs it.
3. Requests each page one at a time with httpx: `warmup` untimed requests, then `rounds` timed
   ones; a page's p50 and p95 are over its timed requests (nearest rank). A request that takes
   longer than `timeout`, answers other than 200, or reports a timed-out facet or count is an
   error of that page.

The pages: the index and the archive page, the article list as it opens and its next page, the
grid view, the list narrowed by the top value of each of its facets (the link a reader clicks),
searches (a rare name, a very common word, a phrase, an OR query, a prefix, a NOT query; by
relevance and by date), an article, a version with its diff, each canned query with its
defaults, and the JSON API of the list and of search.

The load average is printed at the start and the end: the figures are only comparable with
others measured on an equally loaded machine.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from newsarchive import GENERATOR_VERSION, Probes, build_archive

from archiver import store
from archiver.datasette import DB_NAME, load_metadata
from archiver.errors import ConfigError

CACHE = Path(__file__).resolve().parent / ".cache" / "serve"
BYTES_PER_ARTICLE = 25_000  # disk an archive takes while it is built (about 17 KB once built)


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    json: bool = False
    facets: frozenset[str] = frozenset()  # facets the JSON must hold (one missing timed out)


@dataclass
class PageTiming:
    name: str
    path: str
    times_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.times_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.times_ms, 95)


@dataclass
class ServeBench:
    articles: int
    archive: str
    archive_bytes: int
    built_seconds: float | None  # None: reused from the cache
    build_seconds_then: float  # how long it took when it was built
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    rounds: int
    pages: list[PageTiming]

    @property
    def bytes_per_article(self) -> float:
        return self.archive_bytes / max(1, self.articles)

    @property
    def errors(self) -> int:
        return sum(len(page.errors) for page in self.pages)

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["pages"] = [
            {"name": p.name, "path": p.path, "p50_ms": p.p50, "p95_ms": p.p95, "errors": p.errors}
            for p in self.pages
        ]
        record["bytes_per_article"] = self.bytes_per_article
        return record


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# --- the archive ------------------------------------------------------------------------------------


def archive_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def cached_archive(articles: int, cache: Path = CACHE, rebuild: bool = False) -> tuple[Path, Probes, float, bool]:
    """The cached archive of `articles` articles (built when missing): its path, its probes, how
    long its build took, and whether it was built now."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"archive-{articles}-g{GENERATOR_VERSION}.db"
    about = path.with_suffix(".json")
    built = False
    if rebuild or not (path.exists() and about.exists()):
        for stale in (path, about, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        building = path.with_name(path.name + ".building")
        for stale in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
            stale.unlink(missing_ok=True)
        free = shutil.disk_usage(cache).free
        if free < articles * BYTES_PER_ARTICLE:
            raise ConfigError(
                f"{cache}: {free / 1e9:.1f} GB free, an archive of {articles:,} articles needs about "
                f"{articles * BYTES_PER_ARTICLE / 1e9:.1f} GB; free some space or pass --cache with another folder"
            )
        seconds, probes = build_archive(building, articles)
        with sqlite3.connect(building) as conn:  # fold the WAL in: the file is the archive
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        building.rename(path)
        for leftover in (Path(f"{building}-wal"), Path(f"{building}-shm")):
            leftover.unlink(missing_ok=True)
        about.write_text(json.dumps({"build_seconds": seconds, "probes": asdict(probes)}), encoding="utf-8")
        built = True
    record = json.loads(about.read_text(encoding="utf-8"))
    store.upgrade_archive(path)
    return path, Probes(**record["probes"]), float(record["build_seconds"]), built


def archive_ids(path: Path) -> dict[str, int]:
    """Rows the pages open: an article with related links, a version after the first."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        article = conn.execute(
            "SELECT article_id FROM related_links WHERE target_article_id IS NOT NULL "
            "AND article_id >= (SELECT max(id) / 2 FROM articles) ORDER BY article_id LIMIT 1"
        ).fetchone()
        version = conn.execute(
            "SELECT id FROM article_versions WHERE version > 1 ORDER BY id LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    return {"article": article[0] if article else 1, "version": version[0] if version else 1}


# --- the server -------------------------------------------------------------------------------------


@contextmanager
def served(path: Path) -> Iterator[str]:
    """`archiver serve --db path --port 0` in its own process; yields its base URL (the printed
    line must name the archive's page, http://127.0.0.1:PORT/archive, as the README says)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver", "serve", "--db", str(path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)/archive\b", line)
        if not found:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise ConfigError(f"archiver serve did not start: {line}{err[-2000:]}")
        yield found.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the pages --------------------------------------------------------------------------------------


def search_pages(base: str, client: Any, probes: Probes) -> list[Page]:
    queries = [
        ("rare name", probes.rare),
        ("very common word", probes.common),
        ("phrase", probes.phrase),
        ("OR query", probes.either),
        ("prefix query", probes.prefix),
        ("NOT query", probes.exclude),
    ]
    search = f"/{DB_NAME}/-/search"
    if client.get(base + search, params={"q": probes.rare}).status_code == 200:
        pages = [Page(f"search: {label}", f"{search}?q={quote(q)}") for label, q in queries]
        pages.append(Page("search by date: very common word", f"{search}?q={quote(probes.common)}&sort=newest"))
        pages.append(Page("search by date: rare name", f"{search}?q={quote(probes.rare)}&sort=newest"))
        pages.append(Page("search JSON: very common word", f"{search}.json?q={quote(probes.common)}", json=True))
        return pages
    # an archiver without its search page: Datasette's table search
    table = f"/{DB_NAME}/articles"
    pages = [Page(f"search: {label}", f"{table}?_search={quote(q)}") for label, q in queries]
    pages.append(Page("search JSON: very common word", f"{table}.json?_search={quote(probes.common)}", json=True))
    return pages


def facet_pages(base: str, client: Any) -> list[Page]:
    """The list narrowed by the top value of each facet the list shows (the link a reader
    clicks)."""
    answer = client.get(f"{base}/{DB_NAME}/articles.json")
    if answer.status_code != 200:
        return [Page("list narrowed by a facet (list JSON failed)", f"/{DB_NAME}/articles.json", json=True)]
    pages = []
    for name, facet in answer.json().get("facet_results", {}).items():
        results = facet.get("results") or []
        if not results:
            continue
        url = urlsplit(results[0]["toggle_url"])
        path = url.path.removesuffix(".json")  # the HTML page the facet's link opens
        pages.append(Page(f"list narrowed by {name}", f"{path}?{url.query}"))
    for name in answer.json().get("facets_timed_out", []):
        pages.append(Page(f"list narrowed by {name} (facet timed out: not measured)", f"/{DB_NAME}/articles"))
    return pages


def next_page(base: str, client: Any) -> list[Page]:
    answer = client.get(f"{base}/{DB_NAME}/articles.json", params={"_nofacet": "1", "_nocount": "1"})
    token = answer.json().get("next") if answer.status_code == 200 else None
    return [Page("article list, next page", f"/{DB_NAME}/articles?_next={quote(token)}")] if token else []


def all_pages(base: str, client: Any, probes: Probes, ids: dict[str, int]) -> list[Page]:
    db = f"/{DB_NAME}"
    pages = [
        Page("index", "/"),
        Page("archive page", db),
        Page("article list", f"{db}/articles"),
        *next_page(base, client),
        Page("article list as a grid", f"{db}/articles?_view=table"),
        *facet_pages(base, client),
        *search_pages(base, client, probes),
        Page("article page", f"{db}/articles/{ids['article']}"),
        Page("version diff page", f"{db}/article_versions/{ids['version']}"),
        Page("versions table", f"{db}/article_versions"),
        Page("fetches table", f"{db}/fetches"),
        Page("pages table", f"{db}/pages"),
        Page("related links table", f"{db}/related_links"),
    ]
    for name in load_metadata()["databases"][DB_NAME].get("queries", {}):
        pages.append(Page(f"canned query: {name}", f"{db}/{name}"))
    facets = frozenset(_facet_names(load_metadata()["databases"][DB_NAME]["tables"]["articles"]["facets"]))
    pages.append(Page("list JSON", f"{db}/articles.json", json=True, facets=facets))
    pages.append(Page("list JSON, narrowed by site", f"{db}/articles.json?site={quote(probes.site)}",
                      json=True, facets=facets))
    return pages


def _facet_names(configs: list[Any]) -> list[str]:
    """The names of a table's configured facets ("site", {"counted": "authors"} ...)."""
    return [c if isinstance(c, str) else next(iter(c.values())) for c in configs]


def problems(page: Page, status: int, body: bytes) -> list[str]:
    """What is wrong with an answer: its status, a facet or count that timed out."""
    if status != 200:
        return [f"HTTP {status}"]
    if page.json:
        try:
            data = json.loads(body)
        except ValueError:
            return ["not JSON"]
        found = []
        missing = page.facets - set(data.get("facet_results", {})) if isinstance(data, dict) else set()
        if missing:  # Datasette's JSON leaves a timed-out facet out
            found.append(f"facets timed out: {', '.join(sorted(missing))}")
        return found
    if b'class="facets-timed-out"' in body:
        return ["facets timed out"]
    return []


def measure(base: str, pages: list[Page], *, rounds: int, warmup: int, timeout: float) -> list[PageTiming]:
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request is noise here
    timings = []
    with httpx.Client(timeout=timeout) as client:
        for page in pages:
            timing = PageTiming(page.name, page.path)
            for number in range(warmup + rounds):
                started = time.perf_counter()
                try:
                    answer = client.get(base + page.path)
                except httpx.TimeoutException:
                    timing.errors.append(f"timeout after {timeout:.0f}s")
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                found = problems(page, answer.status_code, answer.content)
                if number >= warmup:
                    timing.times_ms.append(elapsed)
                    timing.errors.extend(found)
            timings.append(timing)
    return timings


def run_serve_bench(
    articles: int,
    *,
    rounds: int = 10,
    warmup: int = 2,
    timeout: float = 30.0,
    cache: Path = CACHE,
    rebuild: bool = False,
) -> ServeBench:
    import httpx

    path, probes, build_seconds, built = cached_archive(articles, cache, rebuild)
    ids = archive_ids(path)
    load_start = os.getloadavg()
    with served(path) as base:
        with httpx.Client(timeout=timeout) as client:
            pages = all_pages(base, client, probes, ids)
        timings = measure(base, pages, rounds=rounds, warmup=warmup, timeout=timeout)
    return ServeBench(
        articles=articles,
        archive=str(path),
        archive_bytes=archive_size(path),
        built_seconds=build_seconds if built else None,
        build_seconds_then=build_seconds,
        load_start=load_start,
        load_end=os.getloadavg(),
        rounds=rounds,
        pages=timings,
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def format_serve_bench(bench: ServeBench) -> str:
    built = (
        f"built now in {_duration(bench.built_seconds)}"
        if bench.built_seconds is not None
        else f"reused from the cache (its build took {_duration(bench.build_seconds_then)})"
    )
    lines = [
        (f"archiver serve over {bench.articles:,} articles: {bench.archive_bytes / 1e6:,.1f} MB, "
         f"{bench.bytes_per_article:,.0f} bytes per article; archive {built}"),
        "load average at start {:.2f} {:.2f} {:.2f}, at end {:.2f} {:.2f} {:.2f} (2 cores)".format(
            *bench.load_start, *bench.load_end
        ),
        f"{bench.rounds} timed requests per page after warm-up, one at a time",
        "",
        f"{'page':<52} {'p50 ms':>8} {'p95 ms':>8}  errors",
    ]
    for page in bench.pages:
        errors = "; ".join(sorted(set(page.errors))) if page.errors else "-"
        lines.append(f"{page.name[:52]:<52} {page.p50:8.0f} {page.p95:8.0f}  {errors}")
    slow = [p.name for p in bench.pages if not math.isnan(p.p95) and p.p95 > 300]
    lines.append("")
    lines.append(
        f"pages: {len(bench.pages)}; errors: {bench.errors}; p95 over 300 ms: "
        + (", ".join(slow) if slow else "none")
    )
    return "\n".join(lines)
