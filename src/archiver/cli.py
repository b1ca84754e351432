"""The command line: click commands that parse options, call one library function, and report.

No logic lives here. `ArchiverError` becomes a one-line message on stderr and a non-zero exit
(`archiver.options`, with the options the commands share).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from archiver import __version__
from archiver.demo import DEMO_PORT
from archiver.errors import ArchiverError
from archiver.options import (
    EXIT_FAILED,
    bench_module,
    cluster_option,
    crawl_options,
    db_option,
    end_crawl,
    fetch_options,
    format_article,
    print_results,
    reports_errors,
    run_crawl_command,
    settings_from,
    site_rules,
    sites_option,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
@click.option("-v", "--verbose", count=True, help="more log output (-vv for debug)")
def main(verbose: int) -> None:
    """archiver: scrape news articles into a clean, searchable SQLite archive."""
    from archiver.logs import PlainLogFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(PlainLogFormatter())
    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), handlers=[handler])
    if verbose < 2:  # httpx logs every request at INFO: archiver's own lines already say what was fetched
        logging.getLogger("httpx").setLevel(logging.WARNING)


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
    db = store.Archive(db_path)
    failed = print_results(archive_urls(db, urls, settings, sites=sites), as_json)
    if failed:
        click.echo(f"{failed} of {len(set(urls))} URL(s) failed", err=True)
        sys.exit(EXIT_FAILED)


@main.command()
@db_option
@fetch_options
@sites_option
@crawl_options
@click.option("--site", "site_names", multiple=True, metavar="NAME",
              help="crawl only this site file's sources (repeatable; default: every site)")
@click.option("--start", "start_urls", multiple=True, metavar="URL",
              help="crawl from this feed, sitemap or section page (repeatable; no site file needed)")
@cluster_option
@reports_errors
def crawl(
    db_path: str,
    config_path: str | None,
    allow_private: bool | None,
    user_agent: str | None,
    retries: int | None,
    deadline: float | None,
    sites_path: str | None,
    site_names: tuple[str, ...],
    start_urls: tuple[str, ...],
    cluster: str | None,
    ignore_robots: bool,
    log_format: str,
    **limits: Any,
) -> None:
    """Crawl the sites' feeds, sitemaps and section pages (or --start URLs) into the archive.

    Safe under cron: a second run while one is going exits at once with status 75; each run
    ends with one summary line and exits 1 when fetches failed."""
    import shlex

    from archiver.crawl import plan_sources, run_crawl

    settings = settings_from(
        config_path, allow_private=allow_private, user_agent=user_agent, retries=retries,
        deadline=deadline, respect_robots=False if ignore_robots else None, cluster=cluster, **limits,
    )
    rules = site_rules(sites_path)
    sources = plan_sources(rules, site_names, start_urls)
    command = "archiver " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
    report = run_crawl_command(
        lambda progress: run_crawl(db_path, sources, settings, sites=rules, progress=progress,
                                   command=command),
        log_format,
    )
    end_crawl(report, log_format)


@main.command()
@db_option
@click.option("--port", type=int, default=DEMO_PORT, show_default=True,
              help="first port of the demo sites on 127.0.0.1 (the second site is on the next one)")
@click.option("--log-format", type=click.Choice(["auto", "rich", "plain", "json"]), default="auto",
              show_default=True, help="live display on a terminal (auto), log lines, or JSON lines")
@reports_errors
def demo(db_path: str, port: int, log_format: str) -> None:
    """Serve the bundled demo news sites on 127.0.0.1 and crawl them into the archive."""
    from archiver.demo.run import run_demo

    settings = settings_from(None)
    try:
        report = run_crawl_command(
            lambda progress: run_demo(db_path, settings, sites=site_rules(None), port=port,
                                      progress=progress),
            log_format,
        )
    except OSError as exc:
        raise ArchiverError(
            f"cannot serve the demo sites on 127.0.0.1:{port} and :{port + 1} "
            f"({exc.strerror or exc}); pass --port with a free port"
        ) from exc
    end_crawl(report, log_format, then=f"browse the archive with: archiver serve --db {db_path}")


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

    count = export_archive(store.Archive(db_path, create=False), fmt, output, site=site, since=since)
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
    settings = settings_from(None)
    report = run_reextract(store.Archive(db_path, create=False), site_rules(None), site=site,
                           workers=settings.extract_workers, extract_timeout=settings.extract_timeout)
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

    numbers = store.Archive(db_path, create=False).stats(days=days)
    click.echo(json.dumps(numbers, indent=2) if as_json else format_stats(numbers))


@main.command()
@click.argument("file", type=click.File("rb"))
@click.option("--url", required=True, help="the URL the page was fetched from")
@click.option("--charset", default=None, help="the charset the server declared, if any")
@click.option("--json", "as_json", is_flag=True, help="print the record as JSON (default: a readable summary)")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="settings file (default: ./archiver.toml when present)")
@sites_option
@reports_errors
def extract(file: Any, url: str, charset: str | None, as_json: bool, config_path: str | None,
            sites_path: str | None) -> None:
    """Extract the article from a saved page (FILE, or - for stdin) without storing it.

    The file is read up to max_body_bytes (a larger one is refused) and extracted in a worker
    process within extract_timeout, as a crawl would."""
    from archiver.pipeline import extract_file

    settings = settings_from(config_path)
    article = extract_file(file, url, settings, charset=charset, sites=site_rules(sites_path))
    if as_json:
        click.echo(json.dumps(article.to_record(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_article(article))


@main.group()
def bench() -> None:
    """Benchmarks (from a source checkout: they live in its benchmarks/ folder)."""


@bench.command("extract")
@click.argument("directory", type=click.Path(file_okay=False, exists=True), required=False)
@click.option("--predictions", type=click.Path(dir_okay=False), default=None,
              help='write archiver\'s output here as {id: {"articleBody": text}}')
@click.option("--no-compare", is_flag=True, help="skip the trafilatura row")
@click.option("--cv", is_flag=True,
              help="cross-validate the body classifier over both development sets, by domain, "
                   "trafilatura on the same folds (needs a source checkout and the train extra)")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
              help="folds for --cv")
@click.option("--seed", type=int, default=13, show_default=True,
              help="how --cv deals the domains into folds (a real gain holds under other deals)")
@reports_errors
def bench_extract(directory: str | None, predictions: str | None, no_compare: bool, cv: bool,
                  folds: int, seed: int) -> None:
    """Score archiver beside trafilatura on a benchmark DIRECTORY (html/, ground-truth.json)."""
    if cv:
        from archiver.errors import ConfigError

        try:
            extractcv = bench_module("extractcv")
            import sklearn  # noqa: F401 - the folds retrain the classifier
        except ImportError as exc:
            raise ConfigError(f"cross-validation needs the train extra ({exc.name} is missing): "
                              "pip install -e '.[train]'") from exc
        click.echo(extractcv.format_cv(extractcv.run_cv(folds, seed=seed)))
        return
    if directory is None:
        raise click.UsageError("give a benchmark DIRECTORY, or --cv")
    benchextract = bench_module("benchextract")
    report = benchextract.run_bench(directory, compare=not no_compare)
    click.echo(benchextract.format_report(report))
    if predictions:
        benchextract.write_predictions(report, predictions)


@bench.command("crawl")
@click.option("--pages", "page_counts", type=click.IntRange(1), multiple=True,
              help="article pages in the generated site (repeatable, to compare memory; default 2000)")
@click.option("--hosts", type=click.IntRange(1), default=10, show_default=True,
              help="hosts (ports on 127.0.0.1) the pages are spread over")
@click.option("--workers", type=click.IntRange(0), default=0, show_default=True,
              help="extraction worker processes (0: one per core)")
@click.option("--rounds", type=click.IntRange(1), default=1, show_default=True,
              help="crawls per page count, each between two extraction-only runs (E C E C E ...)")
@click.option("--json", "as_json", is_flag=True, help="print the figures as one JSON object")
@reports_errors
def bench_crawl(page_counts: tuple[int, ...], hosts: int, workers: int, rounds: int, as_json: bool) -> None:
    """Crawl a generated local news site with no politeness delay; compare with extraction alone."""
    benchcrawl = bench_module("benchcrawl")

    results = benchcrawl.run_crawl_bench(page_counts or (2000,), hosts=hosts, workers=workers, rounds=rounds)
    if as_json:
        click.echo(json.dumps([r.to_record() for r in results]))
    else:
        click.echo(benchcrawl.format_crawl_bench(results))


@bench.command("import")
@click.option("--pages", type=click.IntRange(1), default=2000, show_default=True,
              help="article pages in the generated WARC file")
@click.option("--workers", "worker_counts", type=click.IntRange(1), multiple=True,
              help="worker processes to compare (repeatable; default 1 and 2)")
@click.option("--rounds", type=click.IntRange(1), default=2, show_default=True,
              help="imports per worker count, in the order 1 2 2 1 ... (drift cancels out)")
@click.option("--json", "as_json", is_flag=True, help="print the figures as one JSON object")
@reports_errors
def bench_import(pages: int, worker_counts: tuple[int, ...], rounds: int, as_json: bool) -> None:
    """Import a generated WARC of news pages with 1 worker process and with 2; pages/s and speed-up."""
    benchimport = bench_module("benchimport")

    results = benchimport.run_import_bench(pages, worker_counts or (1, 2), rounds)
    click.echo(json.dumps([r.to_record() for r in results]) if as_json else benchimport.format_import_bench(results))


@bench.command("serve")
@click.option("--articles", type=click.IntRange(1), default=10_000, show_default=True,
              help="articles in the synthetic archive (built once per size, then reused)")
@click.option("--rounds", type=click.IntRange(1), default=10, show_default=True,
              help="timed requests per page, after the warm-up ones")
@click.option("--warmup", type=click.IntRange(0), default=2, show_default=True,
              help="untimed requests per page first")
@click.option("--timeout", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="seconds a request may take before it counts as timed out")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
              help="where built archives are kept (default: benchmarks/.cache/serve)")
@click.option("--rebuild", is_flag=True, help="build the archive again even if one is cached")
@click.option("--json", "as_json", is_flag=True, help="print the figures as one JSON object")
@reports_errors
def bench_serve(articles: int, rounds: int, warmup: int, timeout: float, cache_dir: str | None,
                rebuild: bool, as_json: bool) -> None:
    """Time archiver serve's pages over a synthetic archive of N articles: p50/p95 per page."""
    benchserve = bench_module("benchserve")

    cache = Path(cache_dir) if cache_dir else benchserve.CACHE
    result = benchserve.run_serve_bench(articles, rounds=rounds, warmup=warmup, timeout=timeout,
                                        cache=cache, rebuild=rebuild)
    click.echo(json.dumps([result.to_record()]) if as_json else benchserve.format_serve_bench(result))


@main.command("import")
@click.argument("inputs", nargs=-1, required=True, metavar="WARC_OR_DIR...")
@db_option
@sites_option
@cluster_option
@click.option("--workers", type=click.IntRange(0), default=None,
              help="extraction worker processes here (0: one per core)")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="settings file (default: ./archiver.toml when present)")
@reports_errors
def import_(inputs: tuple[str, ...], db_path: str, sites_path: str | None, cluster: str | None,
            workers: int | None, config_path: str | None) -> None:
    """Import pages from WARC files (.warc, .warc.gz, or directories of them), as if fetched at
    each record's date; importing a file again adds nothing. Exits 1 when records were broken
    or pages failed extraction."""
    from archiver.warcimport import import_warcs

    settings = settings_from(config_path, cluster=cluster, extract_workers=workers)
    rules = site_rules(sites_path)
    report = import_warcs(
        db_path, inputs, sites=rules, workers=settings.extract_workers,
        cluster=settings.cluster, connect_timeout=settings.connect_timeout,
        max_bytes=settings.max_body_bytes, extract_timeout=settings.extract_timeout,
    )
    click.echo(report.summary())
    for reason, n in report.skipped.most_common():
        click.echo(f"skipped {n}: {reason}", err=True)
    for line in report.broken[:20]:
        click.echo(f"broken: {line}", err=True)
    if report.broken_count > 20:
        click.echo(f"... and {report.broken_count - 20} more broken record(s)", err=True)
    if report.broken or report.failed:
        sys.exit(EXIT_FAILED)


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
