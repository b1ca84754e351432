"""Site rule files: every shipped file validates and passes its fixtures; broken files fail
with one line naming file, key and reason."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urljoin

import pytest
from click.testing import CliRunner

from archiver.cli import main
from archiver.errors import SiteFileError
from archiver.extract import extract_article
from archiver.rules import rules_for_url
from archiver.sites import check_fixture, load_site, load_sites

ROOT = Path(__file__).resolve().parent.parent
SITES = load_sites(ROOT / "selectors")
FIXTURES = [(site, fixture) for site in SITES for fixture in site.fixtures]


def test_shipped_site_files_cover_several_markup_families() -> None:
    assert len(SITES) >= 5
    assert "seed-news" in {site.name for site in SITES}


@pytest.mark.parametrize(("site", "fixture"), FIXTURES,
                         ids=[f"{s.name}:{Path(f.file).stem}" for s, f in FIXTURES])
def test_site_fixture_passes(site, fixture) -> None:  # type: ignore[no-untyped-def]
    result = check_fixture(site, fixture)
    assert result.ok, result.problems


def test_seed_site_rules_give_the_exact_seed_record() -> None:
    page = ROOT / "fixtures" / "pages" / "seed-elementor.html"
    expected = json.loads(page.with_suffix(".expected.json").read_text(encoding="utf-8"))
    url = "https://levantdispatch.example/2025/07/taliban-foreign-minister/"
    rules = rules_for_url(SITES, url)
    assert rules is not None and rules.name == "seed-news"
    article = extract_article(page.read_bytes(), url, rules=rules)
    assert article.extractor == "site-rules"
    assert article.title == expected["title"]
    assert article.paragraphs == expected["body"]
    assert [(r.title, r.url, r.summary) for r in article.related] == [
        (r["title"], urljoin(url, r["url"]), r["summary"]) for r in expected["related"]]
    assert list(article.authors) == expected["authors"]


def test_rules_for_url_matches_hosts_and_subdomains() -> None:
    assert rules_for_url(SITES, "https://www.talbote.example/region/x").name == "talbote"  # type: ignore[union-attr]
    assert rules_for_url(SITES, "https://coastline.example/amp/news/x-1").name == "coastline"  # type: ignore[union-attr]
    assert rules_for_url(SITES, "https://nottalbote.example/region/x") is None
    assert rules_for_url(SITES, "https://elsewhere.example/") is None


def test_discovery_section_is_read(tmp_path: Path) -> None:
    site = rules_for_url(SITES, "https://levantdispatch.example/")
    assert site is not None
    assert site.discovery.feeds == ("https://levantdispatch.example/feed/",)
    assert site.discovery.article_patterns


def _write(tmp_path: Path, text: str, name: str = "broken.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "key", "why"), [
    ('[article]\nbody = "div[["\n', "article.body", "invalid CSS selector"),
    ('[article]\nbody = 3\n', "article.body", "expected a non-empty string, got an integer"),
    ('[article]\nbodyy = "div"\n', "article.bodyy", "unknown key"),
    ('[colour]\nx = 1\n', "colour", "unknown key"),
    ('[chrome]\ndrop = "div.ad"\n', "chrome.drop", "expected a list of strings"),
    ('[chrome]\ndrop = ["div.ad", "p:::x"]\n', "chrome.drop[1]", "invalid CSS selector"),
    ('[discovery]\narticle_patterns = ["(unclosed"]\n', "discovery.article_patterns[0]",
     "invalid regular expression"),
    ('[site]\ndomains = ["https://example.com/"]\n', "site.domains[0]", "expected a host name"),
    ('[related]\ncard = ""\n', "related.card", "expected a non-empty string"),
    ('[[fixtures]]\nurl = "https://example.com/a"\n', "fixtures[0].file", "required"),
    ('[[fixtures]]\nfile = "x.html"\nurl = "ftp://example.com/a"\n', "fixtures[0].url",
     "http(s) URL"),
])
def test_broken_site_file_names_file_key_and_reason(tmp_path: Path, text: str, key: str,
                                                    why: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SiteFileError) as info:
        load_site(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: ")
    assert why in message
    assert "\n" not in message


def test_invalid_toml_is_a_site_file_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "[article\nbody = 'x'\n")
    with pytest.raises(SiteFileError, match="invalid TOML"):
        load_site(path)


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    site = load_site(_write(tmp_path, '[site]\ndomains = ["example.com"]\n', "my-site.toml"))
    assert site.name == "my-site"
    assert site.matches("https://news.example.com/a")


def test_failing_fixture_is_reported(tmp_path: Path) -> None:
    page = ROOT / "fixtures" / "sites" / "coast-amp" / "storm-warning.html"
    path = _write(tmp_path, f"""
[site]
domains = ["coastline.example"]
[[fixtures]]
file = "{page}"
url = "https://coastline.example/news/storm-1"
title = "Another title"
with = ["text that is not there"]
without = ["An amber wind warning"]
""")
    result = check_fixture(load_site(path), load_site(path).fixtures[0])
    assert not result.ok
    assert len(result.problems) == 3


def test_cli_sites_check_passes_on_shipped_files() -> None:
    result = CliRunner().invoke(main, ["sites", "check", "--sites", str(ROOT / "selectors")])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output


def test_cli_sites_check_broken_file_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '[article]\ntitle = "h1[["\n', "bad.toml")
    result = CliRunner().invoke(main, ["sites", "check", "--sites", str(tmp_path)])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [(f"archiver: error: {path}: article.title: invalid CSS selector 'h1[[' "
                     "(Can't parse CSS selector.)")]


def test_cli_sites_check_failing_fixture_exits_1(tmp_path: Path) -> None:
    page = ROOT / "fixtures" / "sites" / "coast-amp" / "storm-warning.html"
    _write(tmp_path, f'[[fixtures]]\nfile = "{page}"\nurl = "https://c.example/a"\n'
                     'with = ["missing words"]\n', "c.toml")
    result = CliRunner().invoke(main, ["sites", "check", "--sites", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "missing words" in result.output
