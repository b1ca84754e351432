"""Where a crawl starts: the sources site files declare, or `--start` URLs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

from archiver.errors import ConfigError
from archiver.rules import SiteRules, rules_for_url
from archiver.urls import normalize_url


@dataclass(frozen=True)
class Source:
    """A URL a crawl starts from."""

    url: str
    kind: str  # feed, sitemap, section, start (told apart by content)
    site: str | None = None
    auto: bool = False  # also read the sitemaps its host's robots.txt names


def _absolute(url: str, domains: Sequence[str], path: str) -> str:
    if "://" in url:
        return url
    if not domains:
        raise ConfigError(f"{path}: discovery: {url!r} is relative but the site names no domains")
    return urljoin(f"https://{domains[0]}/", url)


def sources_for_site(site: SiteRules) -> list[Source]:
    """The sources a site file declares. A site that names no feeds or sitemaps is crawled from
    its sections (its home page when none are named), the feeds those pages link to, and the
    sitemaps in its robots.txt."""
    disc = site.discovery
    auto = not disc.feeds and not disc.sitemaps
    sources: list[Source] = []
    for kind, urls in (("feed", disc.feeds), ("sitemap", disc.sitemaps), ("section", disc.sections)):
        for url in urls:
            sources.append(Source(normalize_url(_absolute(url, site.domains, site.path)), kind, site.name, auto))
    if not sources and site.domains:
        sources.append(Source(normalize_url(f"https://{site.domains[0]}/"), "section", site.name, True))
    return sources


def plan_sources(
    sites: Sequence[SiteRules], names: Sequence[str] = (), start_urls: Sequence[str] = ()
) -> list[Source]:
    """The sources of a run: `start_urls` if given (plus the sites in `names`), else every site
    (or the named ones). Raises ConfigError for an unknown site name or a run with no sources."""
    by_name = {site.name: site for site in sites}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        have = ", ".join(sorted(by_name)) or "none"
        raise ConfigError(
            f"no site file named {', '.join(unknown)} (site files: {have}); "
            "see `archiver sites check`, or crawl any URL with --start URL"
        )
    chosen = [by_name[name] for name in names] if names else ([] if start_urls else list(sites))
    sources = [src for site in chosen for src in sources_for_site(site)]
    for url in start_urls:
        target = normalize_url(url)
        rules = rules_for_url(list(sites), target)
        sources.append(Source(target, "start", rules.name if rules else None))
    if not sources:
        raise ConfigError(
            "nothing to crawl: no site files declare sources; add feeds or sitemaps to "
            "selectors/<site>.toml, or pass --start URL"
        )
    return list({src.url: src for src in sources}.values())
