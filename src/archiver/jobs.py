"""The pure work of a worker process: extract an article, read a source's links, or tell what
became of one fetched page. Records in, records out: no network, no database.

These run in the crawl's extraction processes (`archiver.workers`), on Dask workers
(`archiver.cluster`), and in the one-off commands. A worker process starts with `init_worker`,
which keeps the site rules, so each job carries only its page. The forkserver that worker
processes fork from preloads this module, so it imports only the records (`models`, `rules`),
extraction and discovery: a worker never loads the store, the HTTP client or sqlite-utils.

Every job turns an `ArchiverError` into the page's `FetchFailure` record (`failure_of`), so what
comes back is always a record, and one bad page never takes its worker down.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from archiver.discover import discover
from archiver.errors import ArchiverError, ExtractError, FetchError, NotHTML
from archiver.extract import extract_article
from archiver.extract.classify import default_model
from archiver.models import Article, Discovery, Fetched, FetchFailure
from archiver.rules import SiteRules, rules_for_url

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/html", ""})

_WORKER_SITES: tuple[SiteRules, ...] = ()


# --- the worker process ---------------------------------------------------------------------------


def init_worker(sites: Sequence[SiteRules], coordinator: int | None = None) -> None:
    """Worker process start: keep the site rules, so jobs carry only their page; with the
    coordinator's pid, leave when it is gone (a crawl killed with -9 leaves no workers behind)."""
    global _WORKER_SITES
    _WORKER_SITES = tuple(sites)
    default_model()  # read and compiled before the worker reports ready, so on no page's clock
    if multiprocessing.parent_process() is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the crawl process decides when to stop
        if coordinator:
            threading.Thread(target=_exit_with, args=(coordinator,), name="archiver-orphan-watch",
                             daemon=True).start()


def _exit_with(pid: int, every: float = 0.5) -> None:
    """Exit this worker once process `pid` has ended. A pool worker of a process killed with -9
    would otherwise wait forever on its task queue (it holds that pipe's write end itself)."""
    while True:
        time.sleep(every)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # the pid now belongs to another user's process: ours is gone
            os._exit(0)


def worker_sites() -> tuple[SiteRules, ...]:
    """The site rules this worker process was started with (`init_worker`)."""
    return _WORKER_SITES


# --- records of failure ---------------------------------------------------------------------------


def failure_of(url: str, exc: ArchiverError) -> FetchFailure:
    """The record of why `url` gave nothing (as `fetches` keeps it)."""
    status = exc.status if isinstance(exc, FetchError) else None
    attempts = exc.attempts if isinstance(exc, FetchError) else 1
    reason = exc.reason if isinstance(exc, (FetchError, ExtractError)) else str(exc)
    return FetchFailure(url=url, kind=exc.kind, message=reason, status=status, attempts=attempts)


# --- extraction -----------------------------------------------------------------------------------


def ensure_html(fetched: Fetched) -> None:
    """Raise NotHTML unless the response is (or sniffs as) an HTML page."""
    kind = fetched.content_type
    if kind in HTML_TYPES:
        return
    if kind in ("text/plain", "application/octet-stream"):
        head = fetched.content[:1024].lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html")):
            return
    raise NotHTML(
        fetched.url, f"not an HTML page (Content-Type {kind}); archiver stores news article pages"
    )


def extract_fetched(fetched: Fetched, sites: Sequence[SiteRules] = (), *, saved: bool = False) -> Article:
    """Extract the article from a fetched page (raises the ArchiverError it ends in). A `saved`
    page (`archiver extract FILE`) has no Content-Type to check."""
    if not saved:
        ensure_html(fetched)
    if not fetched.content.strip():
        raise ExtractError(fetched.url, f"empty {'file' if saved else 'body'}; nothing to extract")
    rules = rules_for_url(sites, fetched.final_url)
    return extract_article(fetched.content, fetched.final_url, charset=fetched.charset, rules=rules)


def extract_page(fetched: Fetched, sites: Sequence[SiteRules] = (), *, saved: bool = False) -> Article | FetchFailure:
    """The page's article, or the record of why there is none."""
    try:
        return extract_fetched(fetched, sites, saved=saved)
    except ArchiverError as exc:
        return failure_of(fetched.url, exc)


def extract_job(fetched: Fetched) -> Article | FetchFailure:
    """Extract one article page with the worker's site rules (a worker process's job)."""
    return extract_page(fetched, _WORKER_SITES)


def extract_file_job(fetched: Fetched) -> Article | FetchFailure:
    """`archiver extract`'s job: the saved page as given (no Content-Type check)."""
    return extract_page(fetched, _WORKER_SITES, saved=True)


# --- discovery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkRules:
    """Which links of a section page are articles: a site's patterns and domains, and what the
    crawl learned of the host's URL shapes ((shape, pages that were articles, pages that were not))."""

    patterns: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    learned: tuple[tuple[str, int, int], ...] = ()


def discover_job(fetched: Fetched, rules: LinkRules) -> Discovery | FetchFailure:
    """Read the links of one source (a worker process's job), or the record of why not."""
    try:
        return discover(
            fetched.content,
            fetched.final_url,
            fetched.content_type,
            patterns=rules.patterns,
            excludes=rules.excludes,
            domains=rules.domains,
            learned={shape: (articles, others) for shape, articles, others in rules.learned},
        )
    except ArchiverError as exc:
        return failure_of(fetched.url, exc)


# --- one URL of a unit of crawl work ---------------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    """One URL to fetch: what it is, the validators to send, and (sources) which links count."""

    url: str
    kind: str  # article, or a source kind: feed, sitemap, section, start
    headers: tuple[tuple[str, str], ...] = ()
    rules: LinkRules = LinkRules()

    @property
    def is_source(self) -> bool:
        return self.kind != "article"


def page_outcome(item: WorkItem, fetched: Fetched, sites: Sequence[SiteRules]) -> Article | Discovery | FetchFailure | None:
    """What a fetched page gives: its article (articles), its links (sources), the record of
    why neither, or None for a 304 (nothing new)."""
    if fetched.status == 304:
        return None
    if item.is_source:
        return discover_job(fetched, item.rules)
    return extract_page(fetched, sites)
