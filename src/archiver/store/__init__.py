"""The only package that touches SQLite: schema and migrations (`schema`), the archive's reads and
writes (`archive`). Everything else gets plain records in and out of these functions.
"""

from __future__ import annotations

from archiver.store import schema
from archiver.store.archive import (
    BUSY_TIMEOUT_MS,
    GroupCommit,
    ReextractTarget,
    StoredPage,
    StoreOutcome,
    archive_stats,
    article_record,
    body_diff,
    check_archive_path,
    compress,
    content_hash,
    decompress,
    iter_article_records,
    iter_pages,
    load_page,
    open_archive,
    reextract_targets,
    save_reextracted,
    site_names,
    site_of,
    store_result,
    transaction,
    upgrade_archive,
    utc_form,
)
from archiver.store.schema import MIGRATIONS, applied_migrations, migrate

__all__ = [
    "BUSY_TIMEOUT_MS",
    "GroupCommit",
    "MIGRATIONS",
    "ReextractTarget",
    "StoreOutcome",
    "StoredPage",
    "applied_migrations",
    "archive_stats",
    "article_record",
    "body_diff",
    "check_archive_path",
    "compress",
    "content_hash",
    "decompress",
    "iter_article_records",
    "iter_pages",
    "load_page",
    "migrate",
    "open_archive",
    "reextract_targets",
    "save_reextracted",
    "schema",
    "site_names",
    "site_of",
    "store_result",
    "transaction",
    "upgrade_archive",
    "utc_form",
]
