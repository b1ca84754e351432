"""`archiver demo`: serve the bundled demo site on 127.0.0.1 and archive it into the archive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import sqlite_utils

from archiver.config import Settings
from archiver.localserver import serve
from archiver.models import FetchResult
from archiver.pipeline import archive_urls
from archiver.sites import SiteRules
from archiver.store import StoreOutcome

SITE = Path(__file__).resolve().parent / "site"


def article_paths(root: Path = SITE) -> list[str]:
    """URL paths of the demo site's article pages (folders holding an index.html)."""
    return sorted(
        "/" + str(p.parent.relative_to(root)).replace("\\", "/") + "/"
        for p in root.rglob("index.html")
        if p.parent != root
    )


def run_demo(
    db: sqlite_utils.Database,
    settings: Settings,
    *,
    sites: Sequence[SiteRules] = (),
    port: int = 0,
) -> list[tuple[FetchResult, StoreOutcome]]:
    """Serve the demo site on 127.0.0.1 and fetch every article of it into `db`."""
    local = replace(settings, allow_private=True)  # the demo server is on loopback by design
    with serve(SITE, port=port) as server:
        urls = [server.base_url + path for path in article_paths()]
        return archive_urls(db, urls, local, sites=sites)
