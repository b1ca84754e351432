"""The exception tree of archiver. Every failure a user can cause or meet is one of these::

    ArchiverError                 anything archiver reports as a clear one-line message
    ├── ConfigError               a bad setting, flag or config file
    ├── SiteFileError             a selectors/*.toml file that does not validate (file, key, why)
    ├── FetchError                a URL could not be fetched (carries url, status)
    │   ├── InvalidURL            malformed URL or unsupported scheme
    │   ├── BlockedAddress        the host resolves to a non-public address (see --allow-private)
    │   ├── HTTPStatusError       the server answered with an error status
    │   ├── RobotsDisallowed      robots.txt forbids the URL for our user agent
    │   ├── TooLarge              the body passed the size cap (before or after decompression)
    │   ├── NotHTML               the response is not an HTML page
    │   └── TransportError        DNS, refused, reset, timeout, truncated body, too many redirects
    ├── ExtractError              nothing article-like could be extracted from a page
    ├── StoreError                the archive database cannot be opened or written
    ├── CrawlLocked               another crawl holds the archive's lock (exit status 75)
    ├── CrawlFailed               a crawl run ended in an error (disk full, scheduler lost ...)
    ├── WorkerDied                the worker process extracting a page died under it
    │   └── ExtractTimeout        ... or was stopped: the page took longer than extract_timeout
    ├── WorkersFailing            extraction worker processes keep dying: the crawl stops
    └── ClusterUnavailable        the Dask scheduler cannot be reached, has no workers, lost work

Library exceptions are mapped at the boundary (``raise FetchError(...) from exc``); nothing returns
``None`` for a failure.
"""

from __future__ import annotations


class ArchiverError(Exception):
    """Base of every error archiver reports to a user."""

    kind = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ArchiverError):
    kind = "config"


class SiteFileError(ArchiverError):
    kind = "site-file"

    def __init__(self, path: str, key: str, why: str) -> None:
        super().__init__(f"{path}: {key}: {why}" if key else f"{path}: {why}")
        self.path = path
        self.key = key
        self.why = why


class FetchError(ArchiverError):
    kind = "fetch"

    def __init__(
        self, url: str, message: str, *, status: int | None = None, attempts: int = 1
    ) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.reason = message
        self.status = status
        self.attempts = attempts


class InvalidURL(FetchError):
    kind = "invalid-url"


class BlockedAddress(FetchError):
    kind = "blocked-address"


class HTTPStatusError(FetchError):
    kind = "http-status"


class RobotsDisallowed(FetchError):
    kind = "robots"


class TooLarge(FetchError):
    kind = "too-large"


class NotHTML(FetchError):
    kind = "not-html"


class TransportError(FetchError):
    kind = "transport"


class ExtractError(ArchiverError):
    kind = "extract"

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.reason = message


class StoreError(ArchiverError):
    kind = "store"


class CrawlLocked(ArchiverError):
    """Another crawl is running on the same archive."""

    kind = "locked"


class CrawlFailed(ArchiverError):
    """A crawl run ended in an error after it started (the archive full, the cluster lost ...).
    What was committed before it is kept; `report` counts exactly that."""

    kind = "crawl"

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class WorkerDied(ArchiverError):
    """The worker process running a job (extracting a page) died: killed, out of memory, or
    brought down by that page. The page's failure; the pool replaces the worker."""

    kind = "worker"


class ExtractTimeout(WorkerDied):
    """Extracting a page took longer than the `extract_timeout` setting: its worker process was
    killed (and replaced). `note` is what the job last reported (`archiver.workers.mark`), so a
    job over many pages can tell which one it was on."""

    kind = "timeout"

    def __init__(self, message: str, note: object = None) -> None:
        super().__init__(message)
        self.note = note


class WorkersFailing(ArchiverError):
    """Worker processes died more often than a run allows (`archiver.workers.WorkerPool`)."""

    kind = "workers"


class ClusterUnavailable(ArchiverError):
    """The Dask scheduler cannot be reached, has no workers, or lost the work."""

    kind = "cluster"
