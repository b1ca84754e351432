"""Write transactions of an archive: short, whole or nothing, and committed in groups by a crawl.

Every write goes through `Transactions.transaction` (one `BEGIN IMMEDIATE` ... `COMMIT`, nested
uses joining it through a savepoint) or an item of a `GroupCommit` (a crawl's outcomes, committed
together), so a crash or kill at any moment leaves either all of a stored result or none of it.
The archive object holds the state of its open transaction itself, as sqlite-utils' `Database`
holds its connection: nothing is kept per connection anywhere else.

Not sqlite-utils' own `atomic()`: a write takes the lock at BEGIN (IMMEDIATE: no deadlock
between two writers that both read first), savepoints are named by depth (a fresh name per
savepoint pushes the archive's statements out of sqlite3's statement cache), and new articles
join the full-text index together at the end of the transaction (`_index_pending`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlite_utils

from archiver.errors import StoreError
from archiver.models import Article

FTS_INSERT = "INSERT INTO articles_fts (rowid, title, subtitle, body) VALUES (?, ?, ?, ?)"


@dataclass
class _Open:
    """What an archive keeps of its open write transaction (see `Transactions.transaction`)."""

    savepoints: int = 0  # nested `transaction`s open inside it
    grouped: bool = False  # inside a `GroupCommit.item`
    unindexed: list[tuple[int, str, str | None, str]] = field(default_factory=list)


def why(exc: sqlite3.DatabaseError) -> str:
    """SQLite's message, with what to do for the failures users meet."""
    text = str(exc)
    if "full" in text:
        return f"{text}; nothing of this write was kept: free disk space, then run again"
    if "readonly" in text or "read-only" in text:
        return f"{text}; check the archive file and its folder are writable"
    if "locked" in text or "busy" in text:
        return f"{text}; another process held the archive too long: run again"
    return text


class Transactions(sqlite_utils.Database):
    """An archive's connection with its write transactions (the base of `archiver.store.Archive`)."""

    _tx: _Open | None = None  # the write transaction this archive began, while it is open

    def _current(self) -> _Open | None:
        """The open transaction this archive began, if it is still open."""
        if self._tx is not None and not self.conn.in_transaction:  # ended behind our back
            self._tx = None
        return self._tx

    def _begin(self) -> _Open:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot start a write on the archive: {why(exc)}") from exc
        self._tx = _Open()
        return self._tx

    def _commit(self) -> None:
        """Index the transaction's new articles, then COMMIT (rolled back, StoreError, on failure)."""
        try:
            self._index_pending()
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise StoreError(f"cannot write to the archive: {why(exc)}") from exc
        self._tx = None

    def _rollback(self) -> None:
        self._tx = None
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def _index_pending(self) -> None:
        """Add the articles inserted in this transaction to the full-text index.

        Their index rows are written together, at the end of the transaction, rather than as each
        article goes in (by a trigger, say): FTS5 writes out the index data it holds in memory
        whenever a statement or a savepoint may need rolling back, so indexing an article and then
        writing anything else gives every article an index segment of its own, and merging those
        costs three times the indexing. (Updates and deletes are kept in step by triggers; an
        update first indexes what is waiting, so the trigger finds the article's row to replace.)"""
        state = self._current()
        if state is not None and state.unindexed:
            rows, state.unindexed = state.unindexed, []
            self.conn.executemany(FTS_INSERT, rows)

    def _index_later(self, article_id: int, article: Article) -> None:
        row = (article_id, article.title, article.subtitle, article.body)
        state = self._current()
        if state is None:  # a transaction this archive did not open: index at once
            self.conn.execute(FTS_INSERT, row)
        else:
            state.unindexed.append(row)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; rolled back on any error, SQLite errors as StoreError.

        Nested use joins the outer transaction through a savepoint, so a caller can make several
        writes (an article and the crawl frontier's state, say) one atomic commit. Inside a
        `GroupCommit` item it joins the item as it is: the item is the unit that fails whole.
        """
        conn = self.conn
        state = self._current()
        if state is not None and state.grouped:
            yield conn
            return
        if conn.in_transaction:
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
                    raise StoreError(f"cannot write to the archive: {why(exc)}") from exc
                raise
            finally:
                if state:
                    state.savepoints = depth - 1
            conn.execute(f"RELEASE {name}")
            return
        self._begin()
        try:
            yield conn
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"cannot write to the archive: {why(exc)}") from exc
            raise
        self._commit()


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
    SQLite's full-text index write out what it holds in memory, once per article.

    `on_commit` runs after each group is committed, `on_rollback` after one is dropped (what was
    counted for it was not kept)."""

    def __init__(
        self,
        archive: Transactions,
        *,
        max_items: int = 100,
        max_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        on_commit: Callable[[], None] | None = None,
        on_rollback: Callable[[], None] | None = None,
    ) -> None:
        self.archive = archive
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
        return self.archive.conn.in_transaction

    @contextmanager
    def item(self) -> Iterator[sqlite3.Connection]:
        """One unit of writes inside the group (opened here when none is); when it fails, the
        open group is rolled back with it (see the class notes)."""
        state = self.archive._current()
        if state is None:
            state = self.archive._begin()
            self.items = 0
            self.opened_at = self.clock()
        elif state.grouped or state.savepoints:
            raise RuntimeError("GroupCommit.item inside another item or transaction")
        state.grouped = True
        try:
            yield self.archive.conn
        except BaseException as exc:
            self.rollback()
            self.dropped += 1
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"cannot write to the archive: {why(exc)}") from exc
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
        if not self.archive.conn.in_transaction:  # nothing open: everything written is committed
            if self.on_commit is not None:
                self.on_commit()
            return
        self.items = 0
        try:
            self.archive._commit()
        except StoreError:
            if self.on_rollback is not None:
                self.on_rollback()
            raise
        self.commits += 1
        if self.on_commit is not None:
            self.on_commit()

    def rollback(self) -> None:
        self.archive._rollback()
        self.items = 0
        if self.on_rollback is not None:
            self.on_rollback()
