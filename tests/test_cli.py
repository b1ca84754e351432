"""The `archiver fetch` command end to end: real subprocess, real server, then read the SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import urljoin

import pytest

from support.faultserver import FIXTURES

SEED_PAGES = ["seed-elementor", "seed-plain"]


def expected(name: str, base: str) -> dict:
    data = json.loads((FIXTURES / "pages" / f"{name}.expected.json").read_text(encoding="utf-8"))
    for link in data["related"]:
        link["url"] = urljoin(base + "/", link["url"])
    if data.get("canonical_url"):
        data["canonical_url"] = urljoin(base + "/", data["canonical_url"])
    return data


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.mark.parametrize("name", SEED_PAGES)
def test_fetch_json_gives_the_expected_seed_record(run_cli, base_url, tmp_path, name):
    url = f"{base_url}/pages/{name}.html"
    proc = run_cli("fetch", "--allow-private", "--json", url)
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.strip().splitlines()
    record = json.loads(line)
    want = expected(name, base_url)
    assert record["url"] == url
    assert record["title"] == want["title"]
    assert record["body"].split("\n\n") == want["body"]
    assert len(record["body"].split("\n\n")) == 27
    assert [{k: r[k] for k in ("title", "url", "summary")} for r in record["related"]] == want["related"]
    assert len(record["related"]) == 8
    assert record["canonical_url"] == (want["canonical_url"] or url)
    assert record["published_at"] == want["published_at"]
    assert record["authors"] == want["authors"]
    assert record["language"] == want["language"]
    for key in ("modified_at", "site_name", "extractor", "extractor_version"):
        assert key in record
    assert record["extractor"]


def test_fetch_stores_and_a_second_fetch_keeps_one_article(run_cli, base_url, tmp_path):
    url = f"{base_url}/pages/seed-elementor.html"
    db = tmp_path / "data" / "archive.db"  # the default path, relative to the working directory
    first = run_cli("fetch", "--allow-private", url)
    assert first.returncode == 0, first.stderr
    assert " new " in first.stdout and "27" not in first.stderr
    second = run_cli("fetch", "--allow-private", url)
    assert second.returncode == 0, second.stderr
    assert " unchanged " in second.stdout
    want = expected("seed-elementor", base_url)
    assert rows(db, "SELECT url, title, versions FROM articles") == [(want["canonical_url"], want["title"], 1)]
    assert rows(db, "SELECT count(*) FROM pages") == [(2,)]
    assert rows(db, "SELECT outcome FROM fetches ORDER BY id") == [("new",), ("unchanged",)]
    assert rows(db, "SELECT count(*) FROM related_links") == [(8,)]
    body = rows(db, "SELECT body FROM articles")[0][0]
    assert body.split("\n\n") == want["body"]
    # the raw page is kept (zstd, as body_codec says) so extraction can be rerun later
    import zstandard

    blob, codec = rows(db, "SELECT body, body_codec FROM pages LIMIT 1")[0]
    assert codec == "zstd"
    raw = zstandard.ZstdDecompressor().decompress(blob)
    assert raw == (FIXTURES / "pages" / "seed-elementor.html").read_bytes()


def test_fetch_with_db_option(run_cli, base_url, tmp_path):
    db = tmp_path / "elsewhere" / "news.db"
    db.parent.mkdir()
    proc = run_cli("fetch", "--allow-private", "--db", str(db), f"{base_url}/pages/seed-plain.html")
    assert proc.returncode == 0, proc.stderr
    assert rows(db, "SELECT count(*) FROM articles") == [(1,)]


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/pages/no-such-page.html", "HTTP 404"),
        ("/gone", "HTTP 410"),
        ("/pdf", "not an HTML page"),
        ("/always-503", "HTTP 503"),
        ("/empty", "empty"),
        ("/redirect-loop", "redirects"),
    ],
)
def test_failures_get_one_clear_line_and_the_rest_still_runs(run_cli, base_url, tmp_path, path, reason):
    good = f"{base_url}/pages/seed-elementor.html"
    bad = f"{base_url}{path}"
    proc = run_cli("fetch", "--allow-private", good, bad)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    failed = [line for line in proc.stderr.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and bad in failed[0] and reason in failed[0]
    db = tmp_path / "data" / "archive.db"
    assert rows(db, "SELECT count(*) FROM articles") == [(1,)]
    (outcome,) = rows(db, "SELECT outcome, error_kind, error_message FROM fetches WHERE url = ?", bad)
    assert outcome[0] == "failed" and outcome[1] and reason in outcome[2]


def test_retries_then_succeeds_and_honours_retry_after(run_cli, base_url, tmp_path):
    proc = run_cli("fetch", "--allow-private", f"{base_url}/flaky/cli", f"{base_url}/ratelimited/cli")
    assert proc.returncode == 0, proc.stderr
    db = tmp_path / "data" / "archive.db"
    attempts = rows(db, "SELECT url, attempts, outcome FROM fetches ORDER BY id")
    assert sorted(attempts) == sorted([
        (f"{base_url}/flaky/cli", 3, "new"),
        (f"{base_url}/ratelimited/cli", 2, "unchanged"),
    ]) or sorted(attempts) == sorted([
        (f"{base_url}/flaky/cli", 3, "unchanged"),
        (f"{base_url}/ratelimited/cli", 2, "new"),
    ])


def test_private_addresses_need_the_flag(run_cli, base_url, tmp_path):
    url = f"{base_url}/pages/seed-elementor.html"
    proc = run_cli("fetch", url, env={"ARCHIVER_ALLOW_PRIVATE": ""})
    assert proc.returncode == 1
    assert "--allow-private" in proc.stderr and "Traceback" not in proc.stderr
    allowed = run_cli("fetch", url, env={"ARCHIVER_ALLOW_PRIVATE": "1"})
    assert allowed.returncode == 0, allowed.stderr


def test_unknown_host_and_bad_scheme(run_cli, tmp_path):
    proc = run_cli("fetch", "--retries", "0", "http://no-such-host.invalid/a", "ftp://example.com/b")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("FAILED")]
    assert any("no-such-host.invalid" in line for line in lines)
    assert any("ftp://example.com/b" in line and "scheme" in line for line in lines)


def test_unusable_db_path_is_a_clear_error(run_cli, base_url, tmp_path):
    bad = tmp_path / "corrupt.db"
    bad.write_bytes(b"not a database at all" * 50)
    proc = run_cli("fetch", "--allow-private", "--db", str(bad), f"{base_url}/pages/seed-plain.html")
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "Traceback" not in proc.stderr
    assert bad.read_bytes() == b"not a database at all" * 50


def test_bad_config_value_is_a_clear_error(run_cli, base_url):
    proc = run_cli("fetch", "--allow-private", f"{base_url}/pages/seed-plain.html",
                   env={"ARCHIVER_RETRIES": "many"})
    assert proc.returncode == 2
    assert "ARCHIVER_RETRIES" in proc.stderr and "Traceback" not in proc.stderr


def test_help_and_version(run_cli):
    assert run_cli("--version").stdout.startswith("archiver, version")
    helptext = run_cli("--help").stdout
    for command in ("fetch", "demo"):
        assert command in helptext
