"""Storing pages read from WARC files (`archiver import`), at most once each.

A WARC response record is the same capture as a stored page when the page has its URL, its body's
sha256 and its fetch time (the record's WARC-Date): importing a file twice, or two files that
share records, stores each capture once.
"""

from __future__ import annotations

import hashlib

import sqlite_utils

from archiver.models import Fetched, FetchResult
from archiver.store.archive import StoreOutcome, store_result, transaction


def page_stored(db: sqlite_utils.Database, fetched: Fetched, digest: str | None = None) -> bool:
    """Whether this capture (URL, body sha256, fetch time) is already a stored page."""
    digest = digest or hashlib.sha256(fetched.content).hexdigest()
    row = db.execute(
        "SELECT 1 FROM pages WHERE url = ? AND sha256 = ? AND fetched_at = ? LIMIT 1",
        [fetched.url, digest, fetched.fetched_at],
    ).fetchone()
    return row is not None


def store_imported(
    db: sqlite_utils.Database, result: FetchResult, *, site: str | None = None
) -> StoreOutcome | None:
    """Store an imported page as `store_result` would, in one transaction with the check that
    it is not stored already; None (and nothing written) when it is."""
    assert result.fetched is not None, "an imported result always has its page"
    with transaction(db):
        if page_stored(db, result.fetched, result.body.sha256 if result.body else None):
            return None
        return store_result(db, result, site=site)


__all__ = ["page_stored", "store_imported"]
