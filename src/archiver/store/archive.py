"""Articles, pages, versions, related links and fetch records: the archive's reads and writes.

The archive is one SQLite file in WAL mode (readers such as Datasette never block the writer for
long), with foreign keys on and a busy timeout. Every write goes through `transaction`, one short
`BEGIN IMMEDIATE` ... `COMMIT` (or an item of a `GroupCommit`, which commits a crawl's outcomes
together), so a crash or kill at any moment leaves either all of a stored result or none of it.
New articles join the full-text index at the end of their transaction (`_index_new_articles`).

Opening an archive applies the schema migrations it lacks (see `archiver.store.schema`).
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils
import zstandard

from archiver.config import DEFAULT_DB
from archiver.errors import StoreError
from archiver.models import Article, Fetched, FetchResult, PackedBody
from archiver.store import schema

BUSY_TIMEOUT_MS = 30_000


# --- migrations ---------------------------------------------------------------------------------


# --- connection and transactions -----------------------------------------------------------------


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


def _recorded_migrations(conn: sqlite3.Connection) -> set[str]:
    """The migrations an archive records, read without writing anything."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    ).fetchone()
    return {row[0] for row in conn.execute("SELECT name FROM migrations")} if has_table else set()


def open_archive(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
    """Open (creating and migrating as needed) the archive at `path`. Refuses an archive written
    by a newer archiver (StoreError, nothing written), and a path whose folder does not exist
    (see `check_archive_path`)."""
    path = Path(path)
    if not create and not path.exists():
        raise StoreError(f"{path}: no archive there; run `archiver fetch` or `archiver crawl` first")
    check_archive_path(path)
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        newer = schema.newer_migrations(_recorded_migrations(conn))
        if newer:  # before anything is written, the journal mode included
            conn.close()
            raise _newer(path, newer)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn)
        schema.migrate(db)
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
    return db


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
            done = _recorded_migrations(conn)
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
    db = open_archive(path, create=False)
    try:
        return [name for name in schema.applied_migrations(db) if name not in done]
    finally:
        db.close()


@dataclass
class _Open:
    """What this module keeps of a connection's open write transaction (see `transaction`)."""

    conn: sqlite3.Connection  # held, so its id is not reused while this is kept
    savepoints: int = 0  # nested `transaction`s open inside it
    grouped: bool = False  # inside a `GroupCommit.item`
    unindexed: list[tuple[int, str, str | None, str]] = field(default_factory=list)


_open: dict[int, _Open] = {}  # id(connection) -> its open write transaction


def _state(conn: sqlite3.Connection) -> _Open | None:
    """The open transaction this module began on `conn`, if it is still open."""
    state = _open.get(id(conn))
    if state is not None and not conn.in_transaction:  # ended behind our back (closed, say)
        del _open[id(conn)]
        return None
    return state


def _begin(conn: sqlite3.Connection) -> _Open:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot start a write on the archive: {_why(exc)}") from exc
    state = _open[id(conn)] = _Open(conn)
    return state


def _commit(conn: sqlite3.Connection) -> None:
    """Index the transaction's new articles, then COMMIT (rolled back, StoreError, on failure)."""
    try:
        _index_new_articles(conn)
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        _rollback(conn)
        raise StoreError(f"cannot write to the archive: {_why(exc)}") from exc
    _open.pop(id(conn), None)


def _rollback(conn: sqlite3.Connection) -> None:
    _open.pop(id(conn), None)
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _index_new_articles(conn: sqlite3.Connection) -> None:
    """Add the articles inserted in this transaction to the full-text index.

    Their index rows are written together, at the end of the transaction, rather than as each
    article goes in (by a trigger, say): FTS5 writes out the index data it holds in memory
    whenever a statement or a savepoint may need rolling back, so indexing an article and then
    writing anything else gives every article an index segment of its own, and merging those
    costs three times the indexing. (Updates and deletes are kept in step by triggers; an update
    first indexes what is waiting, so the trigger finds the article's row to replace.)"""
    state = _state(conn)
    if state is not None and state.unindexed:
        rows, state.unindexed = state.unindexed, []
        conn.executemany("INSERT INTO articles_fts (rowid, title, subtitle, body) VALUES (?, ?, ?, ?)", rows)


def _index_article(conn: sqlite3.Connection, article_id: int, article: Article) -> None:
    row = (article_id, article.title, article.subtitle, article.body)
    state = _state(conn)
    if state is None:  # a transaction this module did not open: index at once
        conn.execute("INSERT INTO articles_fts (rowid, title, subtitle, body) VALUES (?, ?, ?, ?)", row)
    else:
        state.unindexed.append(row)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """One short write transaction; rolled back on any error, SQLite errors as StoreError.

    Nested use joins the outer transaction through a savepoint, so a caller can make several
    writes (an article and the crawl frontier's state, say) one atomic commit. Inside a
    `GroupCommit` item it joins the item as it is: the item is the unit that fails whole.
    """
    conn = db.conn
    state = _state(conn)
    if state is not None and state.grouped:
        yield conn
        return
    if conn.in_transaction:
        # named by depth, not uniquely: the sqlite3 module caches statements by their text, and
        # a fresh name per savepoint would push the archive's own statements out of that cache
        depth = (state.savepoints if state else 0) + 1
        if state:
            state.savepoints = depth
        unindexed = len(state.unindexed) if state else 0
        name = f"nested_{depth}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException as exc:
            if conn.in_transaction:  # SQLite may have rolled the whole transaction back itself
                try:
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                except sqlite3.DatabaseError:
                    pass  # the savepoint went with that transaction
                if state:
                    del state.unindexed[unindexed:]  # the articles rolled back with it
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"cannot write to the archive: {_why(exc)}") from exc
            raise
        finally:
            if state:
                state.savepoints = depth - 1
        conn.execute(f"RELEASE {name}")
        return
    _begin(conn)
    try:
        yield conn
    except BaseException as exc:
        _rollback(conn)
        if isinstance(exc, sqlite3.DatabaseError):
            raise StoreError(f"cannot write to the archive: {_why(exc)}") from exc
        raise
    _commit(conn)


class GroupCommit:
    """Commits many short transactions together: a crawl's outcomes, one after another.

    Each `item()` joins the open group (opening one when none is); the group is committed once it
    holds `max_items` items or has been open `max_seconds` (`commit_if_due`), and by `commit`. One
    COMMIT, and one write of the index and full-text pages the items share, per group instead of
    per item. The write lock is held while a group is open, so groups stay short.

    An item is applied whole or not at all, as `transaction` alone would be, but not alone: when
    an item fails, the open group is rolled back with it, the items before it included. That is
    what a crash does at any moment (consistent: the group's URLs are still due in the crawl
    frontier and are fetched again), and it keeps savepoints out of the group: each one would make
    SQLite's full-text index write out what it holds in memory, once per article."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        *,
        max_items: int = 100,
        max_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        on_commit: Callable[[], None] | None = None,
        on_rollback: Callable[[], None] | None = None,
    ) -> None:
        """`on_commit` runs after each group is committed, `on_rollback` after one is dropped
        (what was counted for it was not kept)."""
        self.db = db
        self.on_commit = on_commit
        self.on_rollback = on_rollback
        self.max_items = max_items
        self.max_seconds = max_seconds
        self.clock = clock
        self.items = 0
        self.opened_at = 0.0
        self.commits = 0
        self.dropped = 0  # groups rolled back because an item failed

    @property
    def open(self) -> bool:
        return self.db.conn.in_transaction

    @contextmanager
    def item(self) -> Iterator[sqlite3.Connection]:
        """One unit of writes inside the group (opened here when none is); when it fails, the
        open group is rolled back with it (see the class notes)."""
        conn = self.db.conn
        state = _state(conn)
        if state is None:
            state = _begin(conn)
            self.items = 0
            self.opened_at = self.clock()
        elif state.grouped or state.savepoints:
            raise RuntimeError("GroupCommit.item inside another item or transaction")
        state.grouped = True
        try:
            yield conn
        except BaseException as exc:
            self.rollback()
            self.dropped += 1
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"cannot write to the archive: {_why(exc)}") from exc
            raise
        state.grouped = False
        self.items += 1
        if self.items >= self.max_items:
            self.commit()

    def commit_if_due(self) -> None:
        if self.open and (self.items >= self.max_items or self.clock() - self.opened_at >= self.max_seconds):
            self.commit()

    def commit(self) -> None:
        """Commit the open group (StoreError, and nothing of it kept, when that fails)."""
        conn = self.db.conn
        if not conn.in_transaction:  # nothing open: everything written so far is committed
            if self.on_commit is not None:
                self.on_commit()
            return
        self.items = 0
        try:
            _commit(conn)
        except StoreError:
            if self.on_rollback is not None:
                self.on_rollback()
            raise
        self.commits += 1
        if self.on_commit is not None:
            self.on_commit()

    def rollback(self) -> None:
        _rollback(self.db.conn)
        self.items = 0
        if self.on_rollback is not None:
            self.on_rollback()


def _why(exc: sqlite3.DatabaseError) -> str:
    """SQLite's message, with what to do for the failures users meet."""
    text = str(exc)
    if "full" in text:
        return f"{text}; nothing of this write was kept: free disk space, then run again"
    if "readonly" in text or "read-only" in text:
        return f"{text}; check the archive file and its folder are writable"
    if "locked" in text or "busy" in text:
        return f"{text}; another process held the archive too long: run again"
    return text


# --- writes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreOutcome:
    """What storing one fetch result did."""

    outcome: str  # new, changed, unchanged, not-modified, failed
    article_id: int | None = None
    page_id: int | None = None
    version: int | None = None


def content_hash(article: Article) -> str:
    return hashlib.sha256(f"{article.title}\n\n{article.body}".encode()).hexdigest()


def site_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def body_diff(old: str, new: str, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        old.split("\n\n"), new.split("\n\n"), old_label, new_label, lineterm="", n=1
    )
    return "\n".join(lines)


BODY_CODEC = "zstd"  # pages.body_codec of new pages; pages stored before migration 0003: gzip
ZSTD_LEVEL = 3  # about gzip -6's size on HTML, at a quarter of its CPU
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_MAGIC = b"\x1f\x8b"


_codecs = threading.local()  # a compressor per thread: making one costs a third of a page's compression


def compress(content: bytes) -> bytes:
    """A page body as `pages.body` keeps it (zstd, one frame with its size in the header)."""
    compressor = getattr(_codecs, "zstd", None)
    if compressor is None:
        compressor = _codecs.zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return compressor.compress(content)


def decompress(blob: bytes) -> bytes:
    """A stored page body, whichever codec stored it (told apart by its magic bytes)."""
    if blob[:4] == _ZSTD_MAGIC:
        return zstandard.ZstdDecompressor().decompress(blob)
    if blob[:2] == _GZIP_MAGIC:
        return gzip.decompress(blob)
    raise StoreError("a stored page body is neither zstd nor gzip: the archive is damaged")


def pack_body(content: bytes) -> PackedBody:
    """A body as `pages` stores it (pure: workers call it so the writer does not have to)."""
    return PackedBody(compress(content), hashlib.sha256(content).hexdigest(), len(content), BODY_CODEC)


def _insert_page(conn: sqlite3.Connection, fetched: Fetched, packed: PackedBody | None = None) -> int:
    packed = packed or pack_body(fetched.content)
    length = fetched.header("content-length")
    cur = conn.execute(
        """INSERT INTO pages (url, final_url, status, content_type, charset, etag, last_modified,
               content_length, body, body_codec, body_size, sha256, fetched_at, elapsed, headers)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        (
            fetched.url,
            fetched.final_url,
            fetched.status,
            fetched.content_type or None,
            fetched.charset,
            fetched.header("etag"),
            fetched.header("last-modified"),
            int(length) if length and length.isdigit() else None,
            packed.blob,
            packed.codec,
            packed.size,
            packed.sha256,
            fetched.fetched_at,
            fetched.elapsed,
            json.dumps([[name, value] for name, value in fetched.headers], ensure_ascii=False),
        ),
    )
    return int(cur.lastrowid or 0)


def utc_form(stamp: str | None) -> str | None:
    """An ISO-8601 date or time as UTC, `YYYY-MM-DDTHH:MM:SSZ`, the form that sorts in time
    order (a date, or a time without an offset, is taken as UTC); None when unreadable."""
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp[:-1] + "+00:00" if stamp[-1:] in "Zz" else stamp)
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _article_fields(article: Article, site: str, page_id: int | None) -> dict[str, Any]:
    """The `articles` columns an extraction decides (everything but identity and timestamps)."""
    return {
        "fetched_url": article.url,
        "canonical_url": article.canonical_url,
        "site": site,
        "title": article.title,
        "subtitle": article.subtitle,
        "authors": json.dumps(list(article.authors), ensure_ascii=False),
        "published_at": article.published_at,
        "modified_at": article.modified_at,
        "published_utc": utc_form(article.published_at),
        "modified_utc": utc_form(article.modified_at),
        "language": article.language,
        "site_name": article.site_name,
        "section": article.section,
        "tags": json.dumps(list(article.tags), ensure_ascii=False),
        "image": article.image,
        "body": article.body,
        "word_count": article.word_count,
        "content_hash": content_hash(article),
        "extractor": article.extractor,
        "extractor_version": article.extractor_version,
        "page_id": page_id,
    }


def _add_version(
    conn: sqlite3.Connection,
    article_id: int,
    article: Article,
    page_id: int | None,
    at: str,
) -> int:
    """Record the article's content as its next version, with a diff against the previous one."""
    previous = conn.execute(
        "SELECT version, title, body FROM article_versions WHERE article_id = ? "
        "ORDER BY version DESC LIMIT 1",
        (article_id,),
    ).fetchone()
    if previous is None:
        version, diff = 1, None
    else:
        version = previous[0] + 1
        diff = body_diff(
            f"{previous[1]}\n\n{previous[2]}",
            f"{article.title}\n\n{article.body}",
            f"version {previous[0]}",
            f"version {version}",
        )
    conn.execute(
        """INSERT INTO article_versions (article_id, version, content_hash, title, body, page_id,
               created_at, diff) VALUES (?,?,?,?,?,?,?,?)""",
        (article_id, version, content_hash(article), article.title, article.body, page_id, at, diff),
    )
    return version


def _related_of(conn: sqlite3.Connection, article_id: int) -> list[tuple[str, str, str | None]]:
    return conn.execute(
        "SELECT title, url, summary FROM related_links WHERE article_id = ? ORDER BY position",
        (article_id,),
    ).fetchall()


def _replace_related(conn: sqlite3.Connection, article_id: int, article: Article) -> None:
    conn.execute("DELETE FROM related_links WHERE article_id = ?", (article_id,))
    conn.executemany(
        """INSERT INTO related_links (article_id, position, title, url, summary, target_article_id)
           VALUES (?, ?, ?, ?, ?, (SELECT id FROM articles WHERE url = ?))""",
        [
            (article_id, position, link.title, link.url, link.summary, link.url)
            for position, link in enumerate(article.related, start=1)
        ],
    )


def _insert_article(
    conn: sqlite3.Connection, article: Article, fields: dict[str, Any], seen_at: str
) -> int:
    key = article.key_url
    fields = {
        **fields,
        "url": key,
        "first_seen_at": seen_at,
        "last_fetched_at": seen_at,
        "last_changed_at": seen_at,
        "versions": 1,
    }
    names = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    cur = conn.execute(f"INSERT INTO articles ({names}) VALUES ({marks})", tuple(fields.values()))
    article_id = int(cur.lastrowid or 0)
    _index_article(conn, article_id, article)
    # links stored earlier that point at this URL now have their target. The unary + keeps
    # SQLite on the url index: left to itself it walks every untargeted link (the target index)
    # on each insert, which grows with the archive.
    conn.execute(
        "UPDATE related_links SET target_article_id = ? WHERE url IN (?, ?) "
        "AND +target_article_id IS NULL",
        (article_id, key, article.url),
    )
    return article_id


def _update_article(conn: sqlite3.Connection, article_id: int, fields: dict[str, Any]) -> None:
    _index_new_articles(conn)  # the update trigger replaces the article's index row: it must be there
    assigns = ", ".join(f"{name} = ?" for name in fields)
    conn.execute(f"UPDATE articles SET {assigns} WHERE id = ?", (*fields.values(), article_id))


def _save_article(
    conn: sqlite3.Connection,
    article: Article,
    page_id: int | None,
    seen_at: str,
    site: str | None,
) -> StoreOutcome:
    key = article.key_url
    fields = _article_fields(article, site or site_of(key), page_id)
    row = conn.execute(
        "SELECT id, content_hash, versions FROM articles WHERE url = ?", (key,)
    ).fetchone()
    if row is None:
        article_id = _insert_article(conn, article, fields, seen_at)
        version = _add_version(conn, article_id, article, page_id, seen_at)
        _replace_related(conn, article_id, article)
        return StoreOutcome("new", article_id, page_id, version)
    article_id, old_hash, versions = row
    if old_hash == fields["content_hash"]:
        conn.execute(
            "UPDATE articles SET last_fetched_at = ?, fetched_url = ? WHERE id = ?",
            (seen_at, article.url, article_id),
        )
        return StoreOutcome("unchanged", article_id, page_id, versions)
    version = _add_version(conn, article_id, article, page_id, seen_at)
    _update_article(
        conn,
        article_id,
        {**fields, "last_fetched_at": seen_at, "last_changed_at": seen_at, "versions": version},
    )
    _replace_related(conn, article_id, article)
    return StoreOutcome("changed", article_id, page_id, version)


def store_result(
    db: sqlite_utils.Database,
    result: FetchResult,
    *,
    site: str | None = None,
    crawl_run_id: int | None = None,
) -> StoreOutcome:
    """Store one fetch result (page, article, version, related links, fetch row) atomically."""
    with transaction(db) as conn:
        page_id = None
        fetched = result.fetched
        if fetched is not None and fetched.status != 304:
            page_id = _insert_page(conn, fetched, result.body)
        if result.article is not None:
            stored = _save_article(
                conn, result.article, page_id, fetched.fetched_at if fetched else result.started_at, site
            )
        elif result.failure is not None:
            stored = StoreOutcome("failed", None, page_id)
        else:
            stored = StoreOutcome("not-modified", None, None)
        failure = result.failure
        conn.execute(
            """INSERT INTO fetches (url, started_at, status, outcome, error_kind, error_message,
                   attempts, duration, page_id, article_id, crawl_run_id)
               VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
            (
                result.url,
                result.started_at,
                fetched.status if fetched else (failure.status if failure else None),
                stored.outcome,
                failure.kind if failure else None,
                failure.message if failure else None,
                fetched.attempts if fetched else (failure.attempts if failure else 1),
                result.duration,
                page_id,
                stored.article_id,
                crawl_run_id,
            ),
        )
    return stored


# --- reads ----------------------------------------------------------------------------------------


def article_record(db: sqlite_utils.Database, article_id: int) -> dict[str, Any]:
    """An article row with its related links, as a JSON-ready dict."""
    rows = list(db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
    if not rows:
        raise StoreError(f"no article with id {article_id}")
    record = dict(rows[0])
    record["authors"] = json.loads(record["authors"])
    record["tags"] = json.loads(record["tags"])
    record["related"] = list(
        db.query(
            "SELECT title, url, summary, target_article_id FROM related_links "
            "WHERE article_id = ? ORDER BY position",
            [article_id],
        )
    )
    return record


# --- re-extraction ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReextractTarget:
    """A stored page to run the extractors over again, and the article it gave (if any)."""

    page_id: int
    article_id: int | None  # None: the page's extraction failed when it was fetched
    site: str | None


def reextract_targets(db: sqlite_utils.Database, site: str | None = None) -> list[ReextractTarget]:
    """Each article's newest stored page, then the newest page of each URL that gave no article.

    `site` keeps the articles of that site (and pages that gave no article whose host is it).
    """
    articles = db.execute(
        """SELECT coalesce((SELECT max(f.page_id) FROM fetches f WHERE f.article_id = a.id),
                           a.page_id) AS page_id, a.id, a.site
           FROM articles a WHERE (? IS NULL OR a.site = ?) ORDER BY a.id""",
        (site, site),
    ).fetchall()
    targets = [ReextractTarget(page, article, name) for page, article, name in articles if page]
    orphans = db.execute(
        """SELECT max(p.id), p.url FROM pages p
           WHERE NOT EXISTS (SELECT 1 FROM fetches f WHERE f.url = p.url AND f.article_id IS NOT NULL)
             AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.page_id = p.id)
           GROUP BY p.url ORDER BY max(p.id)"""
    ).fetchall()
    for page_id, url in orphans:
        if site is None or site_of(url) == site:
            targets.append(ReextractTarget(page_id, None, None))
    return targets


def save_reextracted(
    db: sqlite_utils.Database,
    target: ReextractTarget,
    article: Article,
    *,
    at: str,
    site: str | None = None,
) -> StoreOutcome:
    """Store what the current extractors made of a stored page.

    A different title or body becomes a new version (outcome `changed`, with its diff); other
    differences (metadata, related links) update the article in place (`updated`); the same
    result changes nothing (`unchanged`). A page that gave no article before is stored as one
    (`new`, or `changed`/`unchanged` when its article is already archived under another URL).
    `last_fetched_at` never moves: nothing was fetched.
    """
    with transaction(db) as conn:
        page = conn.execute("SELECT fetched_at FROM pages WHERE id = ?", (target.page_id,)).fetchone()
        if page is None:
            raise StoreError(f"no stored page with id {target.page_id}")
        if target.article_id is None:
            return _save_article(conn, article, target.page_id, page[0], site)
        cur = conn.execute("SELECT * FROM articles WHERE id = ?", (target.article_id,))
        row = cur.fetchone()
        if row is None:  # deleted meanwhile
            return _save_article(conn, article, target.page_id, page[0], site)
        current = dict(zip([d[0] for d in cur.description], row))
        fields = _article_fields(article, site or current["site"], target.page_id)
        fields["fetched_url"] = current["fetched_url"]  # where it was fetched from has not changed
        related = [(link.title, link.url, link.summary) for link in article.related]
        if fields["content_hash"] != current["content_hash"]:
            version = _add_version(conn, target.article_id, article, target.page_id, at)
            _update_article(
                conn, target.article_id, {**fields, "last_changed_at": at, "versions": version}
            )
            _replace_related(conn, target.article_id, article)
            return StoreOutcome("changed", target.article_id, target.page_id, version)
        decided = {k: v for k, v in fields.items() if k != "page_id"}
        if any(current[k] != v for k, v in decided.items()) or related != [
            tuple(r) for r in _related_of(conn, target.article_id)
        ]:
            _update_article(conn, target.article_id, decided)
            _replace_related(conn, target.article_id, article)
            return StoreOutcome("updated", target.article_id, target.page_id, current["versions"])
        return StoreOutcome("unchanged", target.article_id, target.page_id, current["versions"])


# --- reads for export, re-extraction and stats ------------------------------------------------------


def _page_headers(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The page's response headers: as stored, or rebuilt from its columns for older pages."""
    if row.get("headers"):
        return tuple((str(name), str(value)) for name, value in json.loads(row["headers"]))
    headers: list[tuple[str, str]] = []
    if row["content_type"]:
        kind = row["content_type"]
        headers.append(("Content-Type", f"{kind}; charset={row['charset']}" if row["charset"] else kind))
    if row["etag"]:
        headers.append(("ETag", row["etag"]))
    if row["last_modified"]:
        headers.append(("Last-Modified", row["last_modified"]))
    return tuple(headers)


def load_page(db: sqlite_utils.Database, page_id: int) -> Fetched:
    """A stored page as the `Fetched` record it was stored from (body decompressed)."""
    rows = list(db.query("SELECT * FROM pages WHERE id = ?", [page_id]))
    if not rows:
        raise StoreError(f"no stored page with id {page_id}")
    return _fetched_of(rows[0])


def _fetched_of(row: dict[str, Any]) -> Fetched:
    return Fetched(
        url=row["url"],
        final_url=row["final_url"],
        status=row["status"],
        headers=_page_headers(row),
        content=decompress(row["body"]),
        fetched_at=row["fetched_at"],
        elapsed=row["elapsed"] or 0.0,
    )


@dataclass(frozen=True)
class StoredPage:
    """A stored response with its row id and recorded digest."""

    id: int
    sha256: str
    fetched: Fetched


def iter_pages(
    db: sqlite_utils.Database, *, site: str | None = None, since: str | None = None
) -> Iterator[StoredPage]:
    """Stored pages in the order they were fetched, one body in memory at a time.

    `site`: pages that gave an article of that site, or (for pages that gave none) whose host is
    that site. `since`: fetched at or after that ISO-8601 time.
    """
    selected: list[int] = []
    for page_id, url, fetch_site, article_site in db.execute(
        """SELECT p.id, p.url,
                  (SELECT a.site FROM fetches f JOIN articles a ON a.id = f.article_id
                   WHERE f.page_id = p.id LIMIT 1),
                  (SELECT a.site FROM articles a WHERE a.page_id = p.id LIMIT 1)
           FROM pages p WHERE (? IS NULL OR p.fetched_at >= ?) ORDER BY p.fetched_at, p.id""",
        (since, since),
    ).fetchall():
        sites = {fetch_site, article_site} - {None}
        if site is None or site in sites or (not sites and site_of(url) == site):
            selected.append(page_id)
    for page_id in selected:
        row = next(iter(db.query("SELECT * FROM pages WHERE id = ?", [page_id])), None)
        if row is not None:  # None: deleted while we were reading
            yield StoredPage(row["id"], row["sha256"], _fetched_of(row))


def iter_article_records(
    db: sqlite_utils.Database, *, site: str | None = None, since: str | None = None
) -> Iterator[dict[str, Any]]:
    """Article records (as `article_record`), oldest first; `since` compares `last_changed_at`."""
    ids = [
        row[0]
        for row in db.execute(
            "SELECT id FROM articles WHERE (? IS NULL OR site = ?) "
            "AND (? IS NULL OR last_changed_at >= ?) ORDER BY first_seen_at, id",
            (site, site, since, since),
        ).fetchall()
    ]
    for article_id in ids:
        try:
            yield article_record(db, article_id)
        except StoreError:  # deleted while we were reading
            continue


def site_names(db: sqlite_utils.Database) -> list[str]:
    """The sites that have articles in the archive, by name."""
    return [row[0] for row in db.execute("SELECT DISTINCT site FROM articles ORDER BY site")]


# SQL for the host of a URL (scheme://host[:port]/...), for grouping fetches by host
HOST_OF_URL = """lower(
    CASE WHEN instr(substr({col}, instr({col}, '://') + 3), '/') > 0
         THEN substr(substr({col}, instr({col}, '://') + 3), 1,
                     instr(substr({col}, instr({col}, '://') + 3), '/') - 1)
         ELSE substr({col}, instr({col}, '://') + 3) END)"""


def archive_stats(db: sqlite_utils.Database, *, days: int = 14) -> dict[str, Any]:
    """Counts by site and by day, failures by kind and host, and the database's size on disk."""

    def rows(sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in db.query(sql, params)]

    totals = rows(
        """SELECT (SELECT count(*) FROM articles) AS articles,
                  (SELECT count(*) FROM article_versions) AS versions,
                  (SELECT count(*) FROM articles WHERE versions > 1) AS changed_articles,
                  (SELECT count(*) FROM related_links) AS related_links,
                  (SELECT count(*) FROM pages) AS pages,
                  (SELECT count(*) FROM fetches) AS fetches,
                  (SELECT count(*) FROM fetches WHERE outcome = 'failed') AS failed_fetches,
                  (SELECT count(*) FROM crawl_runs) AS crawl_runs"""
    )[0]
    by_site = rows(
        """SELECT site, count(*) AS articles, sum(versions) AS versions,
                  sum(word_count = 0) AS empty_bodies,
                  sum(published_at IS NULL) AS missing_dates,
                  sum(authors = '[]') AS missing_authors,
                  min(first_seen_at) AS first_seen_at, max(last_fetched_at) AS last_fetched_at
           FROM articles GROUP BY site ORDER BY articles DESC, site"""
    )
    by_day = rows(
        """SELECT substr(started_at, 1, 10) AS day, count(*) AS fetches,
                  sum(outcome = 'new') AS new, sum(outcome = 'changed') AS changed,
                  sum(outcome IN ('unchanged', 'not-modified')) AS unchanged,
                  sum(outcome = 'failed') AS failed
           FROM fetches GROUP BY day ORDER BY day DESC LIMIT ?""",
        (days,),
    )
    failures_by_kind = rows(
        """SELECT error_kind AS kind, count(*) AS failures, count(DISTINCT url) AS urls
           FROM fetches WHERE outcome = 'failed' GROUP BY error_kind ORDER BY failures DESC"""
    )
    failures_by_host = rows(
        f"""SELECT {HOST_OF_URL.format(col='url')} AS host, count(*) AS failures,
                   count(DISTINCT url) AS urls, max(started_at) AS last_failed_at
            FROM fetches WHERE outcome = 'failed' GROUP BY host ORDER BY failures DESC LIMIT 20"""
    )
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    page_count = db.execute("PRAGMA page_count").fetchone()[0]
    freelist = db.execute("PRAGMA freelist_count").fetchone()[0]
    size: dict[str, Any] = {"pages_bytes": page_size * page_count, "free_bytes": page_size * freelist}
    path = next((row[2] for row in db.execute("PRAGMA database_list") if row[1] == "main"), "")
    if path:
        main_file, wal = Path(path), Path(path + "-wal")
        size["path"] = path
        size["file_bytes"] = main_file.stat().st_size if main_file.exists() else 0
        size["wal_bytes"] = wal.stat().st_size if wal.exists() else 0
    size["stored_body_bytes"] = db.execute("SELECT coalesce(sum(length(body)), 0) FROM pages").fetchone()[0]
    size["raw_body_bytes"] = db.execute("SELECT coalesce(sum(body_size), 0) FROM pages").fetchone()[0]
    return {
        "totals": totals,
        "by_site": by_site,
        "by_day": by_day,
        "failures_by_kind": failures_by_kind,
        "failures_by_host": failures_by_host,
        "size": size,
    }
