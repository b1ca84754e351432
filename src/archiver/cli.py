"""The command line: click commands that parse options, call one library function, and report.

No logic lives here. `ArchiverError` becomes a one-line message on stderr and a non-zero exit.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from archiver import __version__
from archiver.config import DEFAULT_DB, Settings, load_settings
from archiver.errors import ArchiverError

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
        help="directory of site files (default: ./selectors, or ARCHIVER_SITES)",
    )(func)


def site_rules(sites_path: str | None) -> list[Any]:
    """The site rule files to use (none when there is no selectors directory)."""
    from archiver.config import sites_dir
    from archiver.sites import load_sites

    directory = sites_dir(sites_path)
    return load_sites(directory) if directory else []


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
@click.option("-v", "--verbose", count=True, help="more log output (-vv for debug)")
def main(verbose: int) -> None:
    """archiver: scrape news articles into a clean, searchable SQLite archive."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("urls", nargs=-1, required=True)
@db_option
@fetch_options
@sites_option
@click.option("--json", "as_json", is_flag=True, help="print each record as one JSON object per line")
@reports_errors
def fetch(
    urls: tuple[str, ...],
    db_path: str,
    sites_path: str | None,
    config_path: str | None,
    allow_private: bool | None,
    user_agent: str | None,
    retries: int | None,
    deadline: float | None,
    as_json: bool,
) -> None:
    """Fetch URLs, extract their articles and store them in the archive."""
    from archiver import store
    from archiver.pipeline import archive_urls

    settings = settings_from(
        config_path, allow_private=allow_private, user_agent=user_agent, retries=retries, deadline=deadline
    )
    sites = site_rules(sites_path)
    db = store.open_archive(db_path)
    failed = print_results(archive_urls(db, urls, settings, sites=sites), as_json)
    if failed:
        click.echo(f"{failed} of {len(set(urls))} URL(s) failed", err=True)
        sys.exit(EXIT_FAILED)


DEMO_PORT = 8765


def print_results(results: list, as_json: bool) -> int:  # type: ignore[type-arg]
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
            status = result.fetched.status if result.fetched else ""
            click.echo(
                f"{status} {outcome.outcome} {result.url}  {article.title!r}  "
                f"{article.word_count} words, {len(article.related)} related"
            )
    return failed


@main.command()
@db_option
@click.option("--port", type=int, default=DEMO_PORT, show_default=True, help="port of the demo site on 127.0.0.1")
@click.option("--json", "as_json", is_flag=True, help="print each record as one JSON object per line")
@reports_errors
def demo(db_path: str, port: int, as_json: bool) -> None:
    """Serve the bundled demo news site on 127.0.0.1 and archive it."""
    from archiver import store
    from archiver.demo.run import run_demo

    settings = settings_from(None)
    db = store.open_archive(db_path)
    try:
        results = run_demo(db, settings, sites=site_rules(None), port=port)
    except OSError as exc:
        raise ArchiverError(
            f"cannot serve the demo site on 127.0.0.1:{port} ({exc.strerror or exc}); "
            "pass --port with a free port"
        ) from exc
    failed = print_results(results, as_json)
    click.echo(
        f"archived {len(results) - failed} article(s) into {db_path}; "
        f"browse them with: archiver serve --db {db_path}"
    )
    if failed:
        sys.exit(EXIT_FAILED)


@main.command()
@db_option
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8001, show_default=True,
    help="port on 127.0.0.1 (0 picks a free one)",
)
@reports_errors
def serve(db_path: str, port: int) -> None:
    """Browse the archive in Datasette on 127.0.0.1 (read-only)."""
    from archiver.serve import serve_archive

    serve_archive(
        db_path,
        port=port,
        ready=lambda url: click.echo(f"serving {db_path} read-only at {url}  (Ctrl+C to stop)"),
    )


@main.command()
@db_option
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv", "warc"]), default="jsonl",
    show_default=True, help="articles as JSON lines or CSV, or stored raw pages as WARC 1.1",
)
@click.option("--site", default=None, help="only this site's articles (or pages)")
@click.option(
    "--since", default=None, metavar="DATE",
    help="only articles changed (pages fetched) at or after DATE (YYYY-MM-DD or ISO-8601)",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), default=None,
    help="file to write (default: standard output); WARC is gzipped unless it ends in .warc",
)
@reports_errors
def export(db_path: str, fmt: str, site: str | None, since: str | None, output: str | None) -> None:
    """Export articles (JSON lines, CSV) or stored pages (WARC)."""
    from archiver import store
    from archiver.export import export_archive

    count = export_archive(store.open_archive(db_path, create=False), fmt, output, site=site, since=since)
    noun = "page" if fmt == "warc" else "article"
    click.echo(f"exported {count} {noun}(s) as {fmt}" + (f" to {output}" if output else ""), err=True)


@main.command()
@db_option
@click.option("--site", default=None, help="only this site's articles")
@reports_errors
def reextract(db_path: str, site: str | None) -> None:
    """Run the current extractors over stored pages; new versions where the result changed."""
    from archiver import store
    from archiver.reextract import reextract as run_reextract
    report = run_reextract(store.open_archive(db_path, create=False), site_rules(None), site=site)
    details = ", ".join(f"{n} {outcome}" for outcome, n in sorted(report.outcomes.items()))
    click.echo(f"{report.changed} of {report.examined} page(s) changed" + (f" ({details})" if details else ""))
    for page_id, why in report.failures[:10]:
        click.echo(f"still failing: page {page_id}: {why}", err=True)


@main.command()
@db_option
@click.option("--days", type=click.IntRange(1, 3650), default=14, show_default=True, help="days of fetch counts")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@reports_errors
def stats(db_path: str, days: int, as_json: bool) -> None:
    """Counts by site and by day, failures, and the database's size."""
    from archiver import store
    from archiver.stats import format_stats

    numbers = store.archive_stats(store.open_archive(db_path, create=False), days=days)
    click.echo(json.dumps(numbers, indent=2) if as_json else format_stats(numbers))


@main.command()
@click.argument("file", type=click.File("rb"))
@click.option("--url", required=True, help="the URL the page was fetched from")
@click.option("--charset", default=None, help="the charset the server declared, if any")
@sites_option
@reports_errors
def extract(file: Any, url: str, charset: str | None, sites_path: str | None) -> None:
    """Extract the article from a saved page (FILE, or - for stdin) and print it as JSON."""
    from archiver.extract import extract_article
    from archiver.sites import rules_for_url

    rules = rules_for_url(site_rules(sites_path), url)
    article = extract_article(file.read(), url, charset=charset, rules=rules)
    click.echo(json.dumps(article.to_record(), ensure_ascii=False, indent=2))


@main.group()
def bench() -> None:
    """Benchmarks."""


@bench.command("extract")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--predictions", type=click.Path(dir_okay=False), default=None,
              help='write archiver\'s output here as {id: {"articleBody": text}}')
@click.option("--no-compare", is_flag=True, help="skip the trafilatura row")
@reports_errors
def bench_extract(directory: str, predictions: str | None, no_compare: bool) -> None:
    """Score archiver beside trafilatura on a benchmark DIRECTORY (html/, ground-truth.json)."""
    from archiver.bench import format_report, run_bench, write_predictions

    report = run_bench(directory, compare=not no_compare)
    click.echo(format_report(report))
    if predictions:
        write_predictions(report, predictions)


@main.group()
def sites() -> None:
    """Site rule files (selectors/*.toml)."""


@sites.command("check")
@sites_option
@reports_errors
def sites_check(sites_path: str | None) -> None:
    """Validate every site file and run its fixtures."""
    from archiver.sites import check_fixtures

    rules = site_rules(sites_path)
    results = check_fixtures(rules)
    for result in results:
        click.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.site}: {result.file}")
        for problem in result.problems:
            click.echo(f"     {problem}")
    failed = sum(not r.ok for r in results)
    click.echo(f"{len(rules)} site file(s), {len(results)} fixture(s), {failed} failed")
    if failed:
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":  # pragma: no cover
    main()
