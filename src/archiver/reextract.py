"""Re-extraction: run the current extractors over the raw pages already in the archive.

    reextract(db, sites, site=None) -> ReextractReport

For each article, its newest stored page goes through `extract_fetched` again (no network). A
different title or body becomes a new version with its diff; different metadata or related links
update the article in place; an identical result changes nothing. Pages whose extraction failed
when they were fetched are tried again too, and become articles when the extractors now succeed.
Each article is written in its own short transaction, so a crawl can run at the same time and an
interrupted run keeps what it finished.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlite_utils

from archiver import store
from archiver.errors import ArchiverError, NotHTML
from archiver.export import check_site
from archiver.fetch import utc_now
from archiver.pipeline import extract_fetched
from archiver.sites import SiteRules, rules_for_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReextractReport:
    """What a re-extraction did, page by page counted by outcome."""

    examined: int
    outcomes: dict[str, int] = field(default_factory=dict)  # changed, updated, unchanged, new, ...
    failures: tuple[tuple[int, str], ...] = ()  # (page id, why) for pages that still fail

    def count(self, outcome: str) -> int:
        return self.outcomes.get(outcome, 0)

    @property
    def changed(self) -> int:
        """Articles that got a new version (or were archived for the first time)."""
        return self.count("changed") + self.count("new")


def reextract(
    db: sqlite_utils.Database,
    sites: Sequence[SiteRules] = (),
    *,
    site: str | None = None,
) -> ReextractReport:
    """Re-extract the stored pages of every article (or of one site's); see the module doc."""
    check_site(db, site)
    targets = store.reextract_targets(db, site)
    outcomes: Counter[str] = Counter()
    failures: list[tuple[int, str]] = []
    at = utc_now()
    for target in targets:
        fetched = store.load_page(db, target.page_id)
        try:
            article = extract_fetched(fetched, sites)
        except NotHTML:
            outcomes["skipped"] += 1  # a stored PDF or feed: nothing for the extractors
            continue
        except ArchiverError as exc:
            outcomes["failed"] += 1
            failures.append((target.page_id, str(exc)))
            log.info("page %d (%s) still fails: %s", target.page_id, fetched.url, exc)
            continue
        rules = rules_for_url(list(sites), fetched.final_url)
        stored = store.save_reextracted(
            db, target, article, at=at, site=rules.name if rules else target.site
        )
        outcomes[stored.outcome] += 1
        if stored.outcome in ("changed", "new"):
            log.info("article %s: %s (version %s)", stored.article_id, stored.outcome, stored.version)
    return ReextractReport(len(targets), dict(outcomes), tuple(failures))
