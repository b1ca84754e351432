"""What the CLI's commands share: their options, the error and exit-status rules, and how
results are printed. `archiver.cli` holds the commands themselves.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from archiver.config import DEFAULT_DB, SITES_HELP, Settings, load_settings
from archiver.errors import ArchiverError, ConfigError

if TYPE_CHECKING:
    from archiver.models import FetchResult
    from archiver.store import StoreOutcome

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILED = 1  # some URL or check failed
EXIT_USAGE = 2  # bad input: options, files, config


def reports_errors(func: F) -> F:
    """Turn an ArchiverError into `archiver: error: message` and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArchiverError as exc:
            click.echo(f"archiver: error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except OSError as exc:  # a file we were told to read or write: name it, no traceback
            where = exc.filename or "archiver"
            click.echo(f"archiver: error: {where}: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


def db_option(func: F) -> F:
    return click.option(
        "--db",
        "db_path",
        default=DEFAULT_DB,
        show_default=True,
        type=click.Path(dir_okay=False),
        help="the archive (SQLite file)",
    )(func)


def fetch_options(func: F) -> F:
    """Options shared by every command that fetches."""
    for option in reversed(
        [
            click.option(
                "--allow-private",
                is_flag=True,
                default=None,
                help="allow loopback/private addresses (also ARCHIVER_ALLOW_PRIVATE=1)",
            ),
            click.option("--user-agent", default=None, help="User-Agent header to send"),
            click.option("--retries", type=int, default=None, help="extra attempts on transient errors"),
            click.option("--timeout", "deadline", type=float, default=None, help="deadline per attempt, seconds"),
            click.option(
                "--config",
                "config_path",
                type=click.Path(dir_okay=False),
                default=None,
                help="settings file (default: ./archiver.toml when present)",
            ),
        ]
    ):
        func = option(func)
    return func


def settings_from(config_path: str | None, **flags: Any) -> Settings:
    return load_settings(config_path, **flags)


def sites_option(func: F) -> F:
    return click.option(
        "--sites",
        "sites_path",
        type=click.Path(file_okay=False),
        default=None,
        help=SITES_HELP,
    )(func)


def site_rules(sites_path: str | None) -> list[Any]:
    """The site rule files to use (none when there is no selectors directory)."""
    from archiver.config import sites_dir
    from archiver.sites import load_sites

    directory = sites_dir(sites_path)
    return load_sites(directory) if directory else []


def cluster_option(func: F) -> F:
    return click.option(
        "--cluster", default=None, metavar="ADDRESS",
        help="run the work on this Dask scheduler (tcp://HOST:8786; also ARCHIVER_CLUSTER); "
             "needs pip install 'archiver[cluster]'",
    )(func)


def crawl_options(func: F) -> F:
    """Politeness and bounds of a crawl (each also an archiver.toml setting)."""
    for option in reversed(
        [
            click.option("--max-pages", type=click.IntRange(0), default=None,
                         help="stop after this many fetches (0: no limit)"),
            click.option("--max-duration", type=click.FloatRange(0), default=None,
                         help="stop starting fetches after this many seconds (0: no limit)"),
            click.option("--host-delay", type=click.FloatRange(0), default=None,
                         help="seconds between requests to one host (default 1)"),
            click.option("--crawl-delay-cap", type=click.FloatRange(0), default=None,
                         help="largest robots.txt Crawl-delay honoured, seconds"),
            click.option("--host-concurrency", type=click.IntRange(1), default=None,
                         help="requests in flight per host (default 1)"),
            click.option("--max-hosts", type=click.IntRange(1), default=None,
                         help="hosts crawled in parallel"),
            click.option("--workers", "extract_workers", type=click.IntRange(0), default=None,
                         help="extraction worker processes (0: one per core)"),
            click.option("--ignore-robots", "ignore_robots", is_flag=True, default=False,
                         help="do not obey robots.txt (only for sites you run)"),
            click.option("--log-format", type=click.Choice(["auto", "rich", "plain", "json"]),
                         default="auto", show_default=True,
                         help="live display on a terminal (auto), log lines, or JSON lines"),
        ]
    ):
        func = option(func)
    return func


def run_crawl_command(run: Callable[[Any], Any], log_format: str) -> Any:
    """Run a crawl with progress output; a held lock exits with EXIT_LOCKED, a run that ends in
    an error prints its summary and one line saying why, and exits 1."""
    from archiver.crawl import EXIT_LOCKED, CrawlLocked
    from archiver.errors import CrawlFailed
    from archiver.progress import configure_logging, make_progress

    progress = make_progress(log_format)
    configure_logging(log_format, progress)
    try:
        return run(progress)
    except CrawlLocked as exc:
        progress.close()
        click.echo(f"archiver: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except CrawlFailed as exc:
        progress.close()
        if exc.report is not None:
            print_summary(exc.report, log_format)
        click.echo(f"archiver: error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    finally:
        progress.close()


def print_summary(report: Any, log_format: str) -> None:
    if log_format == "json":
        click.echo(json.dumps({"event": "summary", **report.to_record()}))
    else:
        click.echo(report.summary())


def end_crawl(report: Any, log_format: str, then: str = "") -> None:
    """Print the run's one summary line (and `then`); exit 1 when fetches failed or a host could
    not be reached."""
    print_summary(report, log_format)
    if then and log_format != "json":
        click.echo(then)
    if not report.ok:
        sys.exit(EXIT_FAILED)


def result_line(result: FetchResult, outcome: StoreOutcome) -> str:
    """One stored article as a line: what the archive now holds (its related links as stored,
    its version), and for a change, which fields changed."""
    assert result.article is not None
    status = result.fetched.status if result.fetched else ""
    line = (f"{status} {outcome.outcome} {result.url}  {result.article.title!r}  "
            f"{result.article.word_count} words, {outcome.related} related, version {outcome.version}")
    if outcome.changed:
        line += f"; changed: {', '.join(outcome.changed)}"
    return line


def print_results(results: list[tuple[FetchResult, StoreOutcome]], as_json: bool) -> int:
    """Print one line (or JSON object) per fetch result; return how many failed."""
    failed = 0
    for result, outcome in results:
        if result.failure is not None:
            failed += 1
            click.echo(f"FAILED {result.url}: {result.failure.message}", err=True)
            if as_json:
                click.echo(json.dumps({"url": result.url, "error": result.failure.kind,
                                       "message": result.failure.message}, ensure_ascii=False))
            continue
        article = result.article
        if article is None:  # 304: nothing new
            click.echo(f"not-modified {result.url}")
            continue
        if as_json:
            click.echo(json.dumps(article.to_record(), ensure_ascii=False))
        else:
            click.echo(result_line(result, outcome))
    return failed


def format_article(article: Any) -> str:
    """An extracted article as text: its fields, its body, its related links."""
    lines = [article.title, "=" * min(len(article.title), 80)]
    for label, value in (("url", article.key_url), ("subtitle", article.subtitle),
                         ("authors", ", ".join(article.authors)), ("published", article.published_at),
                         ("modified", article.modified_at), ("section", article.section),
                         ("language", article.language), ("site", article.site_name)):
        if value:
            lines.append(f"{label + ':':<11}{value}")
    lines.append(f"{'words:':<11}{article.word_count}")
    lines += ["", article.body]
    if article.related:
        lines += ["", f"related ({len(article.related)}):"]
        lines += [f"  - {link.title}  <{link.url}>" for link in article.related]
    return "\n".join(lines)


BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"  # beside src/ in a source checkout


def bench_module(name: str) -> Any:
    """A benchmark script of the source checkout's benchmarks/ (not part of the installed
    package), imported with that folder on sys.path; ConfigError when there is none."""
    if not (BENCHMARKS / f"{name}.py").is_file():
        raise ConfigError(
            f"archiver bench needs a source checkout: {BENCHMARKS / (name + '.py')} not found "
            "(benchmarks are not installed with the package); clone the repository, "
            "pip install -e . there, and run archiver bench from it"
        )
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)
