"""The only package that touches SQLite: the archive (`Archive`, a sqlite-utils `Database` that
owns its connection and write transactions), its schema and migrations (`schema`), and the crawl's
tables (`frontier`, `discovery`). Everything else gets plain records in and out.

    archive       Archive: open (create, migrate), upgrade_archive, check_archive_path
    transactions  transaction(), GroupCommit: short writes, whole or nothing, committed in groups
    articles      store_result, save_reextracted, store_imported: the archive's writes
    changes       the change log of fields other than title and body (corrections kept)
    bodies        page bodies packed (zstd) and unpacked
    reads         article records, stored pages, re-extraction targets, stats
"""

from __future__ import annotations

from archiver.store import schema
from archiver.store.archive import BUSY_TIMEOUT_MS, Archive, check_archive_path, upgrade_archive
from archiver.store.articles import ReextractTarget, StoreOutcome, body_diff, content_hash
from archiver.store.bodies import compress, decompress, pack_body
from archiver.store.reads import StoredPage
from archiver.store.schema import MIGRATIONS, applied_migrations, migrate
from archiver.store.transactions import GroupCommit

__all__ = [
    "BUSY_TIMEOUT_MS",
    "MIGRATIONS",
    "Archive",
    "GroupCommit",
    "ReextractTarget",
    "StoreOutcome",
    "StoredPage",
    "applied_migrations",
    "body_diff",
    "check_archive_path",
    "compress",
    "content_hash",
    "decompress",
    "migrate",
    "pack_body",
    "schema",
    "upgrade_archive",
]
