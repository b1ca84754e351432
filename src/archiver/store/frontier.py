"""The crawl's SQL: the frontier (every URL the crawl knows, its state and when it is next due),
crawl runs, cached robots.txt answers, and the few reads of the archive the crawl needs.

States of a frontier row::

    queued   found, never fetched yet (due at next_attempt_at)
    done     fetched; next_attempt_at is the next revisit, NULL for never
    failed   the last attempt failed; attempts counts them, next_attempt_at is the retry (NULL:
             given up)
    blocked  robots.txt forbids it (looked at again once the robots.txt cache expires)

A row is due when ``next_attempt_at <= now``, whatever its state. Every write is one short
transaction (`Archive.transaction`), so a crawl killed at any moment leaves the frontier
consistent with the archive.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from archiver.store.archive import Archive

KINDS = ("article", "feed", "sitemap", "section", "start")
SOURCE_KINDS = frozenset(KINDS) - {"article"}

_COLUMNS = (
    "url, host, kind, site, state, depth, source_url, published_at, modified_at, discovered_at, "
    "next_attempt_at, attempts, last_attempt_at, last_status, last_error, etag, last_modified, "
    "revisits, article_id"
)
_UPDATABLE = frozenset(
    {
        "state", "site", "kind", "depth", "published_at", "modified_at", "next_attempt_at",
        "attempts", "last_attempt_at", "last_status", "last_error", "etag", "last_modified",
        "revisits", "article_id", "crawl_run_id",
    }
)


@dataclass(frozen=True)
class FrontierEntry:
    """One frontier row."""

    url: str
    host: str
    kind: str
    site: str | None
    state: str
    depth: int
    source_url: str | None
    published_at: str | None
    modified_at: str | None
    discovered_at: str
    next_attempt_at: str | None
    attempts: int
    last_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    etag: str | None
    last_modified: str | None
    revisits: int
    article_id: int | None

    @property
    def is_source(self) -> bool:
        return self.kind in SOURCE_KINDS


@dataclass(frozen=True)
class NewURL:
    """A URL to put in the frontier."""

    url: str
    host: str
    kind: str
    site: str | None = None
    depth: int = 0
    source_url: str | None = None
    published_at: str | None = None
    modified_at: str | None = None


@dataclass(frozen=True)
class Archived:
    """An article already in the archive for a URL."""

    article_id: int
    fetched_at: str
    first_seen_at: str
    published_at: str | None


# Plans when an archived article is next revisited: (published_at, first_seen_at, revisits,
# last fetched_at) -> ISO time or None for never.
RevisitPlan = Callable[[str | None, str, int, str], str | None]


def _entry(row: Sequence[Any]) -> FrontierEntry:
    return FrontierEntry(*row)


def get(db: Archive, url: str) -> FrontierEntry | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM frontier WHERE url = ?", [url]).fetchone()
    return _entry(row) if row else None


def entries(db: Archive, where: str = "1", params: Sequence[Any] = ()) -> list[FrontierEntry]:
    """Frontier rows matching a WHERE clause (for reports and tests)."""
    return [
        _entry(row)
        for row in db.execute(f"SELECT {_COLUMNS} FROM frontier WHERE {where} ORDER BY id", list(params))
    ]


def archived(db: Archive, url: str) -> Archived | None:
    """The article stored from (or under) `url`, if any: by article URL, then by past fetches."""
    return _archived_conn(db.conn, url)


def stored_since(db: Archive, url: str, since: str) -> int | None:
    """The article id of a successful fetch of `url` stored at or after `since` (closes the gap
    between storing a result and marking its frontier row when a crawl is killed in between)."""
    row = db.execute(
        """SELECT article_id FROM fetches WHERE url = ? AND article_id IS NOT NULL
           AND started_at >= ? ORDER BY id DESC LIMIT 1""",
        [url, since],
    ).fetchone()
    return int(row[0]) if row else None


def page_validators(db: Archive, url: str) -> tuple[str | None, str | None]:
    """ETag and Last-Modified of the latest page stored for `url` (for a conditional GET)."""
    row = db.execute(
        "SELECT etag, last_modified FROM pages WHERE url = ? AND status = 200 ORDER BY id DESC LIMIT 1",
        [url],
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


# --- writes ---------------------------------------------------------------------------------------


def add_sources(db: Archive, sources: Iterable[NewURL], now: str) -> None:
    """Put configured sources in the frontier and make them due now (they are read every run)."""
    with db.transaction() as conn:
        for src in sources:
            conn.execute(
                """INSERT INTO frontier (url, host, kind, site, depth, discovered_at, next_attempt_at)
                   VALUES (?,?,?,?,0,?,?)
                   ON CONFLICT(url) DO UPDATE SET kind = excluded.kind, site = excluded.site,
                       depth = 0, next_attempt_at = excluded.next_attempt_at""",
                (src.url, src.host, src.kind, src.site, now, now),
            )


def add_urls(
    db: Archive,
    items: Iterable[NewURL],
    now: str,
    revisit: RevisitPlan,
    crawl_run_id: int | None = None,
) -> list[str]:
    """Add discovered URLs; return the ones new to the frontier.

    A URL already in the frontier keeps its state, gains dates it lacked, and is made due again
    when its source says it changed since it was last fetched. A new article URL that the archive
    already holds goes in as done (never fetched again needlessly), due at its next revisit."""
    added: list[str] = []
    with db.transaction() as conn:
        for item in items:
            row = conn.execute(
                "SELECT state, last_attempt_at, next_attempt_at, modified_at FROM frontier WHERE url = ?",
                (item.url,),
            ).fetchone()
            if row is not None:
                state, last_attempt, next_attempt, old_modified = row
                due = next_attempt
                if (
                    item.modified_at
                    and state == "done"
                    and last_attempt
                    and item.modified_at > last_attempt
                    and (old_modified is None or item.modified_at > old_modified)
                ):
                    due = now  # the source says it changed since we fetched it
                conn.execute(
                    """UPDATE frontier SET published_at = COALESCE(published_at, ?),
                           modified_at = COALESCE(?, modified_at), next_attempt_at = ?
                       WHERE url = ?""",
                    (item.published_at, item.modified_at, due, item.url),
                )
                continue
            known = _archived_conn(conn, item.url) if item.kind == "article" else None
            if known is None:
                conn.execute(
                    """INSERT INTO frontier (url, host, kind, site, depth, source_url, published_at,
                           modified_at, discovered_at, next_attempt_at, crawl_run_id)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
                    (item.url, item.host, item.kind, item.site, item.depth, item.source_url,
                     item.published_at, item.modified_at, now, now, crawl_run_id),
                )
                added.append(item.url)
            else:
                published = known.published_at or item.published_at
                due = revisit(published, known.first_seen_at, 0, known.fetched_at)
                if item.modified_at and item.modified_at > known.fetched_at:
                    due = now
                conn.execute(
                    """INSERT INTO frontier (url, host, kind, site, state, depth, source_url,
                           published_at, modified_at, discovered_at, next_attempt_at,
                           last_attempt_at, article_id, crawl_run_id)
                       VALUES (?,?,?,?,'done',?,?,?,?,?,?,?,?,?)""",
                    (item.url, item.host, item.kind, item.site, item.depth, item.source_url,
                     published, item.modified_at, now, due, known.fetched_at, known.article_id,
                     crawl_run_id),
                )
    return added


def _archived_conn(conn: Any, url: str) -> Archived | None:
    row = conn.execute(
        "SELECT id, last_fetched_at, first_seen_at, published_at FROM articles WHERE url = ?", (url,)
    ).fetchone()
    if row is None:
        row = conn.execute(
            """SELECT a.id, f.started_at, a.first_seen_at, a.published_at
               FROM fetches f JOIN articles a ON a.id = f.article_id
               WHERE f.url = ? AND f.article_id IS NOT NULL ORDER BY f.id DESC LIMIT 1""",
            (url,),
        ).fetchone()
    return Archived(*row) if row else None


def update(db: Archive, url: str, **values: Any) -> None:
    """Set columns of one frontier row."""
    unknown = set(values) - _UPDATABLE
    if unknown:
        raise ValueError(f"not frontier columns: {sorted(unknown)}")
    assigns = ", ".join(f"{name} = ?" for name in values)
    with db.transaction() as conn:
        conn.execute(f"UPDATE frontier SET {assigns} WHERE url = ?", (*values.values(), url))


def add_alias(db: Archive, item: NewURL, article_id: int, now: str) -> None:
    """Record another URL of an archived article (its canonical URL) as done, so finding it later
    does not fetch the article again."""
    with db.transaction() as conn:
        conn.execute(
            """INSERT INTO frontier (url, host, kind, site, state, depth, source_url, discovered_at,
                   last_attempt_at, article_id)
               VALUES (?,?,?,?,'done',?,?,?,?,?) ON CONFLICT(url) DO NOTHING""",
            (item.url, item.host, item.kind, item.site, item.depth, item.source_url, now, now,
             article_id),
        )


# --- what is due ----------------------------------------------------------------------------------


def due_hosts(db: Archive, now: str, limit: int = 1000) -> list[str]:
    """Hosts with URLs due, the most overdue first."""
    rows = db.execute(
        """SELECT host, MIN(next_attempt_at) AS first FROM frontier
           WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?
           GROUP BY host ORDER BY first LIMIT ?""",
        [now, limit],
    )
    return [row[0] for row in rows]


def due_entries(
    db: Archive,
    host: str,
    now: str,
    *,
    exclude: Iterable[str] = (),
    limit: int = 50,
) -> list[FrontierEntry]:
    """Due URLs of one host in crawl order: sources first, then never-fetched articles newest
    first (by the date their source gave; undated ones after, in discovery order), then
    retries and revisits."""
    skip = list(exclude)
    marks = ",".join("?" for _ in skip)
    extra = f"AND url NOT IN ({marks})" if skip else ""
    rows = db.execute(
        f"""SELECT {_COLUMNS} FROM frontier
            WHERE host = ? AND next_attempt_at IS NOT NULL AND next_attempt_at <= ? {extra}
            ORDER BY CASE WHEN kind = 'article' THEN 1 ELSE 0 END,
                     depth,
                     CASE WHEN state = 'queued' THEN 0 ELSE 1 END,
                     COALESCE(published_at, modified_at) DESC NULLS LAST,
                     id
            LIMIT ?""",
        [host, now, *skip, limit],
    )
    return [_entry(row) for row in rows]


def due_count(db: Archive, now: str) -> int:
    """URLs due at `now`."""
    row = db.execute(
        "SELECT COUNT(*) FROM frontier WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?", [now]
    ).fetchone()
    return int(row[0])


def due_on_host(db: Archive, host: str, now: str) -> int:
    """URLs of one host due at `now`."""
    row = db.execute(
        "SELECT COUNT(*) FROM frontier WHERE host = ? AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?",
        [host, now],
    ).fetchone()
    return int(row[0])


def counts(db: Archive) -> dict[str, int]:
    """Frontier rows per state."""
    return {state: n for state, n in db.execute("SELECT state, COUNT(*) FROM frontier GROUP BY state")}


# --- crawl runs -----------------------------------------------------------------------------------


def start_run(db: Archive, command: str, now: str) -> int:
    """Record a new crawl run; runs left 'running' by a killed process become 'interrupted'.
    (Only one crawl holds the lock, so any other 'running' row is a dead run.)"""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE crawl_runs SET status = 'interrupted', stop_reason = COALESCE(stop_reason, 'killed') "
            "WHERE status = 'running'"
        )
        cur = conn.execute(
            "INSERT INTO crawl_runs (started_at, command, status, pid) VALUES (?, ?, 'running', ?)",
            (now, command, os.getpid()),
        )
        return int(cur.lastrowid or 0)


def record_sites(db: Archive, sites: Iterable[tuple[str, Sequence[str]]], crawled: Iterable[str], now: str) -> None:
    """Keep the `sites` table current: every site file a crawl loaded, (name, domains), with its
    domains as the file says them now; `crawled` (the sites this run crawls) get `now` as
    `last_crawled_at`. Sites no longer in the files keep their row (their articles do too)."""
    crawled = set(crawled)
    with db.transaction() as conn:
        conn.executemany(
            """INSERT INTO sites (name, domains, last_crawled_at) VALUES (?, ?, ?)
               ON CONFLICT(name) DO UPDATE SET domains = excluded.domains,
                   last_crawled_at = coalesce(excluded.last_crawled_at, sites.last_crawled_at)""",
            [(name, json.dumps(list(domains)), now if name in crawled else None) for name, domains in sites],
        )


def save_run(db: Archive, run_id: int, **values: Any) -> None:
    """Write a run's counters (as it goes, and at the end with status and finished_at)."""
    assigns = ", ".join(f"{name} = ?" for name in values)
    with db.transaction() as conn:
        conn.execute(f"UPDATE crawl_runs SET {assigns} WHERE id = ?", (*values.values(), run_id))


# --- robots.txt cache -----------------------------------------------------------------------------


def cached_robots(db: Archive, origin: str, now: str) -> tuple[int, str] | None:
    row = db.execute(
        "SELECT status, body FROM robots_txt WHERE origin = ? AND expires_at > ?", [origin, now]
    ).fetchone()
    return (int(row[0]), row[1]) if row else None


def cache_robots(
    db: Archive, origin: str, status: int, body: str, now: str, expires_at: str
) -> None:
    with db.transaction() as conn:
        conn.execute(
            """INSERT INTO robots_txt (origin, status, body, fetched_at, expires_at)
               VALUES (?,?,?,?,?) ON CONFLICT(origin) DO UPDATE SET status = excluded.status,
               body = excluded.body, fetched_at = excluded.fetched_at,
               expires_at = excluded.expires_at""",
            (origin, status, body, now, expires_at),
        )
