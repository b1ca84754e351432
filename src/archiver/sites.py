"""Site rule files: `selectors/<site>.toml`, loaded and validated into `SiteRules`.

Every key is optional and unknown keys are errors. Every CSS selector is run once against a
tiny document at load time (selectolax only raises on a bad selector when a query runs), and
every regex is compiled, so a broken file fails at load with `selectors/x.toml: key: why`.

    [site]        name, domains
    [discovery]   feeds, sitemaps, sections, article_patterns, exclude_patterns
    [article]     title, subtitle, body, published, modified, authors, section, tags, image
    [chrome]      drop (selectors), phrases
    [related]     block, card, title, url, summary
    [[fixtures]]  file, url, title, with, without
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from archiver.errors import ArchiverError, SiteFileError
from archiver.rules import (
    ArticleSelectors,
    ChromeSelectors,
    DiscoveryRules,
    Fixture,
    RelatedSelectors,
    SiteRules,
)

_PROBE = LexborHTMLParser("<html><body><div><p>x</p></div></body></html>")
_ARTICLE_KEYS = ("title", "subtitle", "body", "published", "modified", "authors", "section",
                 "tags", "image")
_RELATED_KEYS = ("block", "card", "title", "url", "summary")
_DISCOVERY_LISTS = ("feeds", "sitemaps", "sections", "article_patterns", "exclude_patterns")


@dataclass(frozen=True)
class FixtureResult:
    """The outcome of one fixture check: `problems` is empty when it passed."""

    site: str
    file: str
    url: str
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


class _Reader:
    """Typed access to one table of a site file, raising SiteFileError on the first problem."""

    def __init__(self, path: str, prefix: str, table: Any, allowed: tuple[str, ...]) -> None:
        self.path, self.prefix = path, prefix
        if not isinstance(table, dict):
            raise SiteFileError(path, prefix, "expected a table")
        for key in table:
            if key not in allowed:
                raise SiteFileError(path, self.key(key),
                                    f"unknown key (allowed: {', '.join(allowed)})")
        self.table = table

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def string(self, name: str) -> str | None:
        value = self.table.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise SiteFileError(self.path, self.key(name),
                                f"expected a non-empty string, got {_kind(value)}")
        return value.strip()

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.table.get(name)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise SiteFileError(self.path, self.key(name),
                                f"expected a list of strings, got {_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise SiteFileError(self.path, f"{self.key(name)}[{index}]",
                                    f"expected a non-empty string, got {_kind(item)}")
        return tuple(item.strip() for item in value)

    def selector(self, name: str) -> str | None:
        value = self.string(name)
        if value is not None:
            check_selector(value, self.path, self.key(name))
        return value

    def selectors(self, name: str) -> tuple[str, ...]:
        values = self.strings(name)
        for index, value in enumerate(values):
            check_selector(value, self.path, f"{self.key(name)}[{index}]")
        return values


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def check_selector(selector: str, path: str, key: str) -> None:
    """Raise SiteFileError unless selectolax can run `selector`."""
    try:
        _PROBE.css(selector)
    except (SelectolaxError, ValueError, TypeError) as exc:
        raise SiteFileError(path, key, f"invalid CSS selector {selector!r} ({exc})") from exc


def _check_regexes(values: tuple[str, ...], path: str, key: str) -> None:
    for index, value in enumerate(values):
        try:
            re.compile(value)
        except re.error as exc:
            raise SiteFileError(path, f"{key}[{index}]",
                                f"invalid regular expression {value!r} ({exc})") from exc


def parse_site(data: dict[str, Any], path: str, default_name: str) -> SiteRules:
    """Validate the parsed TOML of one site file."""
    top = _Reader(path, "", data, ("site", "discovery", "article", "chrome", "related",
                                   "fixtures"))
    site = _Reader(path, "site", data.get("site", {}), ("name", "domains"))
    domains = tuple(d.lower().strip(".") for d in site.strings("domains"))
    for index, domain in enumerate(domains):
        if "/" in domain or ":" in domain or " " in domain:
            raise SiteFileError(path, f"site.domains[{index}]",
                                f"expected a host name like example.com, got {domain!r}")
    disc = _Reader(path, "discovery", data.get("discovery", {}), _DISCOVERY_LISTS)
    discovery = DiscoveryRules(**{name: disc.strings(name) for name in _DISCOVERY_LISTS})
    _check_regexes(discovery.article_patterns, path, "discovery.article_patterns")
    _check_regexes(discovery.exclude_patterns, path, "discovery.exclude_patterns")
    art = _Reader(path, "article", data.get("article", {}), _ARTICLE_KEYS)
    article = ArticleSelectors(**{name: art.selector(name) for name in _ARTICLE_KEYS})
    chr_ = _Reader(path, "chrome", data.get("chrome", {}), ("drop", "phrases"))
    chrome = ChromeSelectors(drop=chr_.selectors("drop"), phrases=chr_.strings("phrases"))
    rel = _Reader(path, "related", data.get("related", {}), _RELATED_KEYS)
    related = RelatedSelectors(**{name: rel.selector(name) for name in _RELATED_KEYS})
    raw_fixtures = top.table.get("fixtures", [])
    if not isinstance(raw_fixtures, list):
        raise SiteFileError(path, "fixtures", "expected an array of tables ([[fixtures]])")
    fixtures: list[Fixture] = []
    for index, raw in enumerate(raw_fixtures):
        fix = _Reader(path, f"fixtures[{index}]", raw, ("file", "url", "title", "with",
                                                         "without"))
        file, url = fix.string("file"), fix.string("url")
        if file is None:
            raise SiteFileError(path, fix.key("file"), "required")
        if url is None or urlsplit(url).scheme not in {"http", "https"}:
            raise SiteFileError(path, fix.key("url"), "required: an http(s) URL")
        fixtures.append(Fixture(file, url, fix.string("title"), fix.strings("with"),
                                fix.strings("without")))
    return SiteRules(
        name=site.string("name") or default_name, path=path, domains=domains,
        discovery=discovery, article=article, chrome=chrome, related=related,
        fixtures=tuple(fixtures),
    )


def load_site(path: str | Path) -> SiteRules:
    """Load and validate one site file; raises SiteFileError naming file, key and reason."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SiteFileError(str(path), "", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SiteFileError(str(path), "", f"not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SiteFileError(str(path), "", f"invalid TOML: {exc}") from exc
    return parse_site(data, str(path), file.stem)


def load_sites(directory: str | Path = "selectors") -> list[SiteRules]:
    """Every `*.toml` in `directory`, sorted by file name; raises on the first bad file."""
    root = Path(directory)
    if not root.is_dir():
        raise SiteFileError(str(root), "", "not a directory")
    return [load_site(path) for path in sorted(root.glob("*.toml"))]


def check_fixture(site: SiteRules, fixture: Fixture, root: str | Path | None = None
                  ) -> FixtureResult:
    """Extract one fixture page with its site's rules and compare with its expectations.

    Fixture paths are relative to `root`, by default the directory above the site file's
    (the repository, for `selectors/x.toml`)."""
    from archiver.extract import extract_article

    problems: list[str] = []
    base = Path(root) if root is not None else Path(site.path).resolve().parent.parent
    file = base / fixture.file
    try:
        content = file.read_bytes()
    except OSError as exc:
        return FixtureResult(site.name, fixture.file, fixture.url,
                             (f"cannot read fixture: {exc.strerror or exc}",))
    try:
        article = extract_article(content, fixture.url, rules=site)
    except ArchiverError as exc:
        return FixtureResult(site.name, fixture.file, fixture.url, (str(exc),))
    if fixture.title is not None and article.title != fixture.title:
        problems.append(f"title is {article.title!r}, expected {fixture.title!r}")
    for text in fixture.with_:
        if text not in article.body:
            problems.append(f"body lacks {text!r}")
    for text in fixture.without:
        if text in article.body:
            problems.append(f"body contains {text!r}")
    return FixtureResult(site.name, fixture.file, fixture.url, tuple(problems))


def check_fixtures(sites: list[SiteRules], root: str | Path | None = None
                   ) -> list[FixtureResult]:
    """Run every fixture of every site file (see check_fixture for where paths start)."""
    return [check_fixture(site, fixture, root) for site in sites for fixture in site.fixtures]
