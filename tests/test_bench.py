"""The extraction benchmark: its metric, its directory layout, its command, and the AEB gate."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchextract import format_report, load_pages, page_scores, run_bench, score, shingles
from archiver.cli import main
from archiver.options import bench_module
from archiver.errors import ConfigError

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

TEXT = "The council approved the budget on Tuesday night after a long debate."
PAGE = ("<html><head><title>Budget</title></head><body><main><article><h1>Budget approved</h1>"
        "<p>" + f"{TEXT} " * 3 + "</p><p>Members voted seven to two, and the plan takes effect "
        "in June, officials said on Wednesday.</p></article></main></body></html>")


def test_shingles_follow_the_benchmark() -> None:
    assert shingles("a b c") == {("a", "b", "c"): 1}
    assert sum(shingles("one two three four five").values()) == 2
    assert shingles("") == {}


def test_page_scores() -> None:
    assert page_scores(TEXT, TEXT) == (1.0, 1.0)
    precision, recall = page_scores(TEXT, TEXT + " Subscribe to our newsletter today please")
    assert recall == 1.0 and precision < 1.0
    assert page_scores(TEXT, "") == (1.0, 0.0)
    assert page_scores("", "") == (1.0, 1.0)


def _dataset(tmp_path: Path, **extra: object) -> Path:
    (tmp_path / "html").mkdir(parents=True)
    (tmp_path / "html" / "a.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "html" / "b.html.gz").write_bytes(gzip.compress(PAGE.encode()))
    truth = {pid: {"articleBody": f"{TEXT} " * 3 + "\nMembers voted seven to two, and the plan "
                   "takes effect in June, officials said on Wednesday.",
                   "url": f"https://news.example/{pid}/budget-approved", **extra}
             for pid in ("a", "b")}
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth), encoding="utf-8")
    return tmp_path


META_PAGE = PAGE.replace("<h1>Budget approved</h1>", "<h1>Budget approved</h1><p class='byline'>"
                         "By Jane Roe and John Poe | March 3, 2025</p>")
META_TRUTH = {"title": "Budget Approved!", "author": "Jane Roe, John Poe, PhD",
              "publish_date": "2025-03-03",
              "with": ["officials said on Wednesday", "seven to two"],
              "without": ["Subscribe to our newsletter", "Budget approved"]}


def test_corpus_scores_and_accuracy(tmp_path: Path) -> None:
    pages = load_pages(_dataset(tmp_path))
    assert [p.id for p in pages] == ["a", "b"]
    result = score("x", pages, {"a": pages[0].truth, "b": ""}, 1.0)
    assert result.recall == 0.5 and result.precision == 1.0 and result.accuracy == 0.5


def test_bad_layout_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ground truth"):
        load_pages(tmp_path)


def test_metadata_rules_follow_the_wcxb_readme() -> None:
    from benchmeta import authors_match, date_matches, title_matches, true_names

    assert title_matches("Budget Approved!", "budget approved") and not title_matches("A", None)
    assert true_names("Dylan Bailey, MS, RD, FAND") == ["dylan bailey"]
    assert true_names("Danielle DeSiato, Donna Enzmann, and Natalie Nguyen") == [
        "danielle desiato", "donna enzmann", "natalie nguyen"]
    assert authors_match("Jane Roe and John Poe", ["John Poe", "Jane Roe", "Max Moe"])
    assert not authors_match("Jane Roe and John Poe", ["Jane Roe"])
    assert not authors_match("Jane Roe", ["By Jane Roe"])
    assert date_matches("2025-03-03", "2025-03-03T23:30:00-05:00")
    assert not date_matches("2025-03-03", "2025-03-04") and not date_matches("2025-03-03", None)


def test_snippets_are_found_as_words_in_a_row() -> None:
    from benchextract import BenchPage
    from benchmeta import score_snippets

    page = BenchPage("a", "", b"", "", None, ("seven to two", "in June"), ("Subscribe", "Home"))
    result = score_snippets([page], {"a": "They voted Seven-to-two; it starts in June. Homework."})
    assert (result.with_found, result.with_total) == (2, 2)
    assert (result.without_absent, result.without_total) == (2, 2)
    result = score_snippets([page], {"a": "seven, to two? Subscribe!"})
    assert (result.with_rate, result.without_rate) == (0.5, 0.5)


def test_run_bench_scores_snippets_and_metadata_where_the_set_has_them(tmp_path: Path) -> None:
    data = _dataset(tmp_path, **META_TRUTH)
    (data / "html" / "a.html").write_text(META_PAGE, encoding="utf-8")
    report = run_bench(data)
    ours, theirs = report.meta["archiver"], report.meta["trafilatura"]
    assert ours.scored == {"title": 2, "author": 2, "date": 2}
    assert ours.accuracy("title") == 1.0
    assert ours.accuracy("author") == ours.accuracy("date") == 0.5  # only page a names them
    assert theirs.scored == ours.scored
    snippets = report.snippets["archiver"]
    assert snippets.with_rate == 1.0 and snippets.without_rate == 1.0
    text = format_report(report)
    assert "title" in text.splitlines()[0] and "with" in text.splitlines()[0]
    assert "metadata scored on pages whose truth states it: title 2, author 2, date 2" in text


def test_a_page_that_fails_scores_as_empty_and_is_counted_by_exception_type(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchextract as bench

    data = _dataset(tmp_path)
    (data / "html" / "c.html").write_text("<html><body></body></html>", encoding="utf-8")
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    truth["c"] = {"articleBody": TEXT, "url": "https://news.example/c"}
    truth["d"] = {"articleBody": TEXT, "url": "https://news.example/d"}
    (data / "ground-truth.json").write_text(json.dumps(truth), encoding="utf-8")
    (data / "html" / "d.html").write_text(PAGE, encoding="utf-8")
    real = bench.archiver_article

    def flaky(page: bench.BenchPage) -> bench.Extracted:
        if page.id == "d":
            raise KeyError("a bug, not a bad page")
        return real(page)

    monkeypatch.setattr(bench, "archiver_article", flaky)
    report = run_bench(data, compare=False)
    assert report.archiver.pages == 4 and report.archiver.failures == 2
    assert dict(report.archiver.failure_types) == {"ExtractError": 1, "KeyError": 1}
    assert report.predictions["c"] == report.predictions["d"] == ""
    assert report.archiver.recall == pytest.approx(0.5)  # two of four pages found nothing
    assert "archiver failures: ExtractError 1, KeyError 1" in format_report(report)


def test_run_bench_scores_both_extractors(tmp_path: Path) -> None:
    report = run_bench(_dataset(tmp_path))
    assert report.archiver.f1 == pytest.approx(1.0)
    assert report.trafilatura is not None and report.speed_ratio is not None
    assert set(report.predictions) == {"a", "b"}


def test_cli_bench_extract_prints_two_rows_and_writes_predictions(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data")
    out = tmp_path / "pred.json"
    result = CliRunner().invoke(main, ["bench", "extract", str(data), "--predictions", str(out)])
    assert result.exit_code == 0, result.output
    assert "archiver" in result.output and "trafilatura" in result.output
    assert "speed ratio" in result.output
    predictions = json.loads(out.read_text(encoding="utf-8"))
    assert set(predictions) == {"a", "b"}
    assert "Budget approved" not in predictions["a"]["articleBody"]
    assert predictions["a"]["articleBody"].startswith("The council approved")


def _archiver(*args: str) -> list[dict]:
    """Run `archiver ARGS --json` as a user would (its own process); the figures it printed."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "archiver", *args, "--json"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_bench_import_alternates_worker_counts_so_drift_cancels() -> None:
    run_order = bench_module("benchimport").run_order

    assert run_order([1, 2], 2) == [1, 2, 2, 1]
    assert run_order([1, 2, 4], 3) == [1, 2, 4, 4, 2, 1, 1, 2, 4]
    assert run_order([1, 2], 1) == [1, 2]


def test_bench_crawl_crawls_every_page_and_reports_coherent_figures() -> None:
    """A small run of the crawl benchmark (two rounds: E C E C E): every page stored by each
    crawl, each round's ratio against the extraction runs beside it, rates and CPU from what ran."""
    [row] = _archiver("bench", "crawl", "--pages", "60", "--hosts", "3", "--workers", "1", "--rounds", "2")
    assert row["pages"] == row["stored"] == 60 and row["hosts"] == 3 and row["workers"] == 1
    crawls, extracts, ratios = row["crawl_runs_pages_per_s"], row["extract_runs_pages_per_s"], row["round_ratios"]
    assert row["rounds"] == len(crawls) == len(ratios) == 2 and len(extracts) == 3
    for k in range(2):
        assert ratios[k] == pytest.approx(crawls[k] / ((extracts[k] + extracts[k + 1]) / 2), abs=0.01)
    assert row["crawl_over_extract"] == pytest.approx(sum(ratios) / 2, abs=0.002)  # the median of two
    assert row["crawl_pages_per_s"] == pytest.approx(sum(crawls) / 2, abs=0.1)
    # 60 pages over the mean duration is the rounds' harmonic mean rate: between the slowest and fastest
    assert min(crawls) - 0.1 <= 60 / row["crawl_seconds"] <= max(crawls) + 0.1
    assert row["extract_pages_per_s"] == pytest.approx(sum(extracts) / 3, abs=0.1)
    assert 0 < row["coordinator_cpu_ms_per_page"] < row["crawl_cpu_ms_per_page"]
    assert 0 < row["crawl_peak_rss_mb"] < row["crawl_tree_peak_rss_mb"]  # the workers were counted


def test_bench_import_imports_with_each_worker_count() -> None:
    rows = _archiver("bench", "import", "--pages", "40", "--workers", "1", "--workers", "2", "--rounds", "1")
    assert [row["workers"] for row in rows] == [1, 2]
    assert all(row["records"] == row["stored"] == 40 and len(row["runs_pages_per_s"]) == 1 for row in rows)
    assert rows[0]["speedup"] == 1.0
    assert rows[1]["speedup"] == pytest.approx(rows[1]["pages_per_s"] / rows[0]["pages_per_s"], abs=0.02)


def test_bench_site_pages_are_the_template_with_their_own_url_title_and_opening() -> None:
    b = bench_module("benchcrawl")
    FIRST, PLACES, SLUG, TEMPLATE, TITLE, TOPICS = b.FIRST, b.PLACES, b.SLUG, b.TEMPLATE, b.TITLE, b.TOPICS  # noqa: N806
    PageMaker, page_path = b.PageMaker, b.page_path  # noqa: N806

    template = TEMPLATE.read_text(encoding="utf-8")
    assert all(template.count(part) for part in (SLUG, TITLE, FIRST))
    maker = PageMaker(template)
    for host, i in ((0, 0), (3, 17), (9, 1234)):
        place, topic = PLACES[(host + i) % len(PLACES)], TOPICS[i % len(TOPICS)]
        expected = (
            template.replace(SLUG, page_path(host, i))
            .replace(TITLE, f"{place} {topic.title()} Update Number {i} From Desk {host}")
            .replace(FIRST, f"Officials in {place} gave update {i} on the {topic} on Monday, desk {host} reports")
        )
        assert maker.page(host, i) == expected.encode("utf-8")


def test_bench_site_server_answers_keep_alive_gets() -> None:
    """The benchmark's site server, over real HTTP: robots.txt, the sitemap, each page, a 404,
    several requests on one connection, and a method it does not serve."""
    import subprocess
    import sys

    import httpx

    benchcrawl = bench_module("benchcrawl")
    TITLE, page_path = benchcrawl.TITLE, benchcrawl.page_path  # noqa: N806

    server = subprocess.Popen([sys.executable, benchcrawl.__file__, "serve", "6", "2"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        bases = json.loads(server.stdout.readline())
        assert len(bases) == 2
        with httpx.Client(base_url=bases[1], trust_env=False) as client:
            assert "Disallow: /admin/" in client.get("/robots.txt").text
            sitemap = client.get("/sitemap.xml").text
            assert [f"{bases[1]}/{page_path(1, i)}/" in sitemap for i in range(6)] == [False, True] * 3
            for i in (1, 3, 5):
                page = client.get(f"/{page_path(1, i)}/")
                assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
                assert f"Update Number {i} From Desk 1" in page.text and TITLE not in page.text
                assert len(page.content) == int(page.headers["content-length"]) > 40_000
            assert client.get(f"/{page_path(1, 2)}/").status_code == 404  # host 0's page
            assert client.post("/robots.txt").status_code == 405
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)
    assert server.returncode == 0


def test_bench_needs_the_benchmarks_folder_of_a_source_checkout(tmp_path, monkeypatch) -> None:
    import archiver.options

    assert bench_module("benchcrawl").__file__ == str(ROOT / "benchmarks" / "benchcrawl.py")
    monkeypatch.setattr(archiver.options, "BENCHMARKS", tmp_path / "benchmarks")
    with pytest.raises(ConfigError, match="needs a source checkout.*not installed with the package"):
        bench_module("benchcrawl")
    result = CliRunner().invoke(main, ["bench", "crawl", "--pages", "1"])
    assert result.exit_code == 2 and "archiver bench needs a source checkout" in result.output


def test_bench_serve_smoke_run_times_every_page_without_errors(tmp_path: Path) -> None:
    """A small run of the scale benchmark (not timed): it builds a synthetic archive through the
    store, serves it with `archiver serve`, requests every page and reports sizes; a second run
    reuses the archive."""
    cache = tmp_path / "cache"
    args = ("bench", "serve", "--articles", "120", "--rounds", "1", "--warmup", "0", "--cache", str(cache))
    [first] = _archiver(*args)
    assert first["articles"] == 120 and first["built_seconds"] is not None
    assert first["bytes_per_article"] == first["archive_bytes"] / 120 > 1000
    names = [page["name"] for page in first["pages"]]
    for wanted in ("article list", "article list, next page", "list narrowed by site", "list narrowed by authors",
                   "list narrowed by published_utc", "search: rare name", "search: very common word",
                   "search: phrase", "search: OR query", "search by date: very common word", "article page",
                   "version diff page", "canned query: latest_articles", "canned query: extraction_health",
                   "list JSON"):
        assert wanted in names, wanted
    for page in first["pages"]:
        assert page["errors"] == [] and page["p50_ms"] > 0, page
    [again] = _archiver(*args)
    assert again["built_seconds"] is None and again["build_seconds_then"] == first["build_seconds_then"]
    assert [p["name"] for p in again["pages"]] == names


def _tar_gz(files: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_outside_set_lays_out_the_page_text_pairs_as_a_bench_directory(tmp_path: Path) -> None:
    from outsideset import lay_out

    page = b"<html><body><article><p>The council voted on Tuesday.</p></article></body></html>"
    sdist = _tar_gz({
        "newspaper4k-0.9.6/tests/data/html/story.html": page,
        "newspaper4k-0.9.6/tests/data/txt/story.txt": b"The council voted on Tuesday.",
        "newspaper4k-0.9.6/tests/data/metadata/story.json": b'{"url": "https://news.test/story"}',
        "newspaper4k-0.9.6/tests/data/html/home_page.html": b"<html><body>Home</body></html>",
        "newspaper4k-0.9.6/tests/data/txt/orphan.txt": b"text without a page",
        "newspaper4k-0.9.6/src/newspaper/resources/story.html": b"<p>not a test page</p>",
    })
    assert lay_out(sdist, tmp_path) == 1
    pages = load_pages(tmp_path)
    assert [(p.id, p.url, p.truth, p.content) for p in pages] == [
        ("story", "https://news.test/story", "The council voted on Tuesday.", page)]
    assert sorted(p.name for p in (tmp_path / "html").iterdir()) == ["story.html"]


def test_outside_set_refuses_a_download_whose_hash_is_not_the_pinned_one(tmp_path: Path) -> None:
    from outsideset import SDIST, fetch_sdist

    (tmp_path / SDIST).write_bytes(b"not the sdist")
    with pytest.raises(SystemExit, match="SHA-256"):
        fetch_sdist(tmp_path)
