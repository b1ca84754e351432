"""The archive: one SQLite file, opened (created and migrated as needed) as an `Archive`.

`Archive` is a sqlite-utils `Database` that owns its connection, its write transactions and
their group commits (`archiver.store.transactions`), with the archive's writes
(`archiver.store.articles`) and reads (`archiver.store.reads`) as its methods. The file is in WAL
mode (readers such as Datasette never block the writer for long), with foreign keys on and a
busy timeout. Opening it applies the schema migrations it lacks (`archiver.store.schema`) and
registers the SQL functions the archive's queries use (`url_host`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from archiver.config import DEFAULT_DB
from archiver.errors import StoreError
from archiver.store import schema
from archiver.store.articles import Articles
from archiver.store.reads import Reads
from archiver.urls import url_host

BUSY_TIMEOUT_MS = 30_000


def check_archive_path(path: str | Path, *, make: bool = True) -> None:
    """Raise StoreError unless an archive can be created at `path`: its folder must exist. Only
    the default archive's folder (`data/`) is made when missing (unless not `make`: then it is
    only checked); a mistyped --db path is an error, never a tree of new folders."""
    path = Path(path)
    if path.parent.is_dir() or path.exists():
        return
    if path.parent == Path(DEFAULT_DB).parent:
        if not make:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path.parent}: cannot create the archive's folder ({exc.strerror or exc})") from exc
        return
    raise StoreError(
        f"{path}: the folder {path.parent} does not exist; create it first, or pass --db with "
        "the path of an archive in an existing folder"
    )


def _newer(path: Path, names: list[str]) -> StoreError:
    return StoreError(
        f"{path}: this archive was written by a newer archiver (schema steps this version does not "
        f"know: {', '.join(sorted(names))}); it was left untouched: upgrade archiver "
        f"(pip install -U archiver), or pass --db with another archive"
    )


def recorded_migrations(db: sqlite_utils.Database) -> set[str]:
    """The migrations an archive records, read without writing anything."""
    table = db.table("migrations")
    return {row["name"] for row in table.rows} if table.exists() else set()


class Archive(Articles, Reads):
    """An open archive (creating and migrating it as needed), as a sqlite-utils `Database`.

    Refuses an archive written by a newer archiver (StoreError, nothing written), and a path
    whose folder does not exist (see `check_archive_path`); `create=False` refuses a path with
    no archive. Close it with `close()`, or use it as a context manager."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        path = Path(path)
        if not create and not path.exists():
            raise StoreError(f"{path}: no archive there; run `archiver fetch` or `archiver crawl` first")
        check_archive_path(path)
        self.path = path
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            super().__init__(conn)
            newer = schema.newer_migrations(recorded_migrations(self))
            if newer:  # before anything is written, the journal mode included
                conn.close()
                raise _newer(path, newer)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self.register_function(url_host, deterministic=True)
            schema.migrate(self)
        except schema.NewerArchive as exc:  # a newer archiver migrated it meanwhile
            conn.close()
            raise _newer(path, exc.names) from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{path}: cannot open the archive ({exc}); check the path is a writable SQLite "
                "archive, or pass --db with another path"
            ) from exc
        except OSError as exc:
            raise StoreError(f"{path}: cannot create the archive ({exc.strerror or exc})") from exc

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def upgrade_archive(path: str | Path) -> list[str]:
    """Apply the migrations an existing archive lacks (and nothing else); return their names.

    For readers such as `archiver serve`: an up-to-date archive is only read, never written, so
    it may sit on a read-only disk.
    """
    path = Path(path)
    if not path.is_file():
        raise StoreError(
            f"{path}: no archive there; build one with `archiver demo` or `archiver fetch URL...`, "
            "or pass --db with the path of an archive"
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            done = recorded_migrations(sqlite_utils.Database(conn, execute_plugins=False))
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path}: cannot read the archive ({exc}); check it is an archiver SQLite file"
        ) from exc
    newer = schema.newer_migrations(done)
    if newer:
        raise _newer(path, newer)
    if {name for name, _ in schema.MIGRATIONS} <= done:
        return []
    archive = Archive(path, create=False)
    try:
        return [name for name in schema.applied_migrations(archive) if name not in done]
    finally:
        archive.close()
