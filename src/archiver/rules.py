"""The rules of one site file (`selectors/<site>.toml`) as plain frozen records.

`archiver.sites` reads and validates the files into these; extraction, discovery and the crawl
only read them, so they live apart from the loading (and from extraction: no import cycle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from archiver.urls import matching_domain, same_site


@dataclass(frozen=True)
class DiscoveryRules:
    """Where a site lists its articles, and which of its links are articles."""

    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    article_patterns: tuple[str, ...] = ()
    exclude_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArticleSelectors:
    title: str | None = None
    subtitle: str | None = None
    body: str | None = None
    published: str | None = None
    modified: str | None = None
    authors: str | None = None
    section: str | None = None
    tags: str | None = None
    image: str | None = None


@dataclass(frozen=True)
class ChromeSelectors:
    drop: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RelatedSelectors:
    block: str | None = None
    card: str | None = None
    title: str | None = None
    url: str | None = None
    summary: str | None = None


@dataclass(frozen=True)
class Fixture:
    """A saved page of the site and what extracting it must give."""

    file: str
    url: str
    title: str | None = None
    with_: tuple[str, ...] = ()
    without: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteRules:
    """One validated site file."""

    name: str
    path: str
    domains: tuple[str, ...] = ()
    discovery: DiscoveryRules = field(default_factory=DiscoveryRules)
    article: ArticleSelectors = field(default_factory=ArticleSelectors)
    chrome: ChromeSelectors = field(default_factory=ChromeSelectors)
    related: RelatedSelectors = field(default_factory=RelatedSelectors)
    fixtures: tuple[Fixture, ...] = ()

    def matches(self, url: str) -> bool:
        """Whether `url`'s host is one of the domains or a subdomain of one."""
        return same_site(url, self.domains)


def rules_for_url(sites: Sequence[SiteRules], url: str) -> SiteRules | None:
    """The site file for a URL: the one whose longest domain matches the URL's host."""
    best: tuple[int, SiteRules] | None = None
    for site in sites:
        domain = matching_domain(url, site.domains)
        if domain is not None and (best is None or len(domain) > best[0]):
            best = (len(domain), site)
    return best[1] if best else None
