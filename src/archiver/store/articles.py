"""Articles, their versions and related links, pages and fetch records: the archive's writes.

`store_result` stores what became of one URL (its page, its article as new, changed or unchanged,
the fetch row) in one transaction; `save_reextracted` stores what the current extractors made of
a stored page; `store_imported` stores a page read from a WARC file once. A changed article gets
a new version with a unified diff against the previous one; a change of any other field it was
extracted with (authors, dates, related links ...) is a row of the change log
(`archiver.store.changes`). Nothing an extraction decides is dropped.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from archiver.errors import StoreError
from archiver.models import Article, Fetched, FetchResult
from archiver.store.bodies import insert_page
from archiver.store.changes import RELATED, field_changes, record_changes, stored_related
from archiver.store.transactions import Transactions
from archiver.timestamps import parse_date
from archiver.urls import site_of, url_host


@dataclass(frozen=True)
class StoreOutcome:
    """What storing one fetch result did."""

    outcome: str  # new, changed, unchanged, not-modified, failed
    article_id: int | None = None
    page_id: int | None = None
    version: int | None = None  # the article's version of its title and body, once stored
    changed: tuple[str, ...] = ()  # the fields that changed: title, body, authors, related ...
    related: int = 0  # related links the archive holds for the article, once stored


@dataclass(frozen=True)
class ReextractTarget:
    """A stored page to run the extractors over again, and the article it gave (if any)."""

    page_id: int
    article_id: int | None  # None: the page's extraction failed when it was fetched
    site: str | None


def content_hash(article: Article) -> str:
    return hashlib.sha256(f"{article.title}\n\n{article.body}".encode()).hexdigest()


def body_diff(old: str, new: str, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        old.split("\n\n"), new.split("\n\n"), old_label, new_label, lineterm="", n=1
    )
    return "\n".join(lines)


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
        # the same moments in UTC, the form that sorts in time order (schema: utc dates)
        "published_utc": parse_date(article.published_at),
        "modified_utc": parse_date(article.modified_at),
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
    archive: Transactions, conn: sqlite3.Connection, article: Article, fields: dict[str, Any], seen_at: str
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
    archive._index_later(article_id, article)
    # links stored earlier that point at this URL now have their target. The unary + keeps
    # SQLite on the url index: left to itself it walks every untargeted link (the target index)
    # on each insert, which grows with the archive.
    conn.execute(
        "UPDATE related_links SET target_article_id = ? WHERE url IN (?, ?) "
        "AND +target_article_id IS NULL",
        (article_id, key, article.url),
    )
    return article_id


def _update_article(archive: Transactions, conn: sqlite3.Connection, article_id: int, fields: dict[str, Any]) -> None:
    archive._index_pending()  # the update trigger replaces the article's index row: it must be there
    assigns = ", ".join(f"{name} = ?" for name in fields)
    conn.execute(f"UPDATE articles SET {assigns} WHERE id = ?", (*fields.values(), article_id))


def _save_article(
    archive: Transactions,
    conn: sqlite3.Connection,
    article: Article,
    page_id: int | None,
    seen_at: str,
    site: str | None,
    cause: str = "fetch",
) -> StoreOutcome:
    """Store an article extracted from a page captured at `seen_at` (`cause`: fetch, for a
    fetch, crawl or import; reextract, for a stored page extracted again)."""
    key = article.key_url
    fields = _article_fields(article, site or site_of(key), page_id)
    cur = conn.execute("SELECT * FROM articles WHERE url = ?", (key,))
    row = cur.fetchone()
    if row is None:
        article_id = _insert_article(archive, conn, article, fields, seen_at)
        version = _add_version(conn, article_id, article, page_id, seen_at)
        _replace_related(conn, article_id, article)
        return StoreOutcome("new", article_id, page_id, version, related=len(article.related))
    current = dict(zip([d[0] for d in cur.description], row))
    return _apply_extraction(archive, conn, current, article, fields, at=seen_at, cause=cause)


_BOOKKEEPING = ("extractor", "extractor_version", "site", "published_utc", "modified_utc")


def _apply_extraction(
    archive: Transactions,
    conn: sqlite3.Connection,
    current: dict[str, Any],
    article: Article,
    fields: dict[str, Any],
    *,
    at: str,
    cause: str,
) -> StoreOutcome:
    """Store what an extraction made of an archived article's page (`current`: its row): a new
    title or body is a new version with its diff, any other field that differs is a row of the
    change log (`archiver.store.changes`), and both move `last_changed_at`. A new capture
    (`cause` fetch) also moves `last_fetched_at`; a re-extraction keeps it and `fetched_url`."""
    article_id = int(current["id"])
    page_id = fields["page_id"]
    old_related = stored_related(conn, article_id)
    changes = field_changes(current, fields, old_related, article)
    text_changed = fields["content_hash"] != current["content_hash"]
    fetched = {"last_fetched_at": at} if cause == "fetch" else {"fetched_url": current["fetched_url"]}
    related = len(json.loads(old_related))
    if not text_changed and not changes:
        if cause == "fetch":
            conn.execute(
                "UPDATE articles SET last_fetched_at = ?, fetched_url = ? WHERE id = ?",
                (at, article.url, article_id),
            )
        elif any(current[k] != fields[k] for k in _BOOKKEEPING):
            # which code read the page, and the UTC forms derived from the stated dates (filled
            # in archives stored before they existed), are bookkeeping, not a change of the article
            _update_article(archive, conn, article_id, {k: fields[k] for k in _BOOKKEEPING})
        return StoreOutcome("unchanged", article_id, page_id, current["versions"], related=related)
    version = current["versions"]
    if text_changed:
        version = _add_version(conn, article_id, article, page_id, at)
    _update_article(archive, conn, article_id,
                    {**fields, **fetched, "last_changed_at": at, "versions": version})
    if any(change.field == RELATED for change in changes):
        _replace_related(conn, article_id, article)
        related = len(article.related)
    record_changes(conn, article_id, version, changes, page_id=page_id, at=at, cause=cause)
    names = [name for name in ("title", "body") if current[name] != fields[name]]
    return StoreOutcome("changed", article_id, page_id, version,
                        changed=(*names, *(change.field for change in changes)), related=related)


class Articles(Transactions):
    """The archive's writes of articles and pages (a part of `archiver.store.Archive`)."""

    def store_result(
        self,
        result: FetchResult,
        *,
        site: str | None = None,
        crawl_run_id: int | None = None,
    ) -> StoreOutcome:
        """Store one fetch result (page, article, version, related links, fetch row) atomically."""
        with self.transaction() as conn:
            page_id = None
            fetched = result.fetched
            if fetched is not None and fetched.status != 304:
                page_id = insert_page(conn, fetched, result.body)
            if result.article is not None:
                stored = _save_article(
                    self, conn, result.article, page_id, fetched.fetched_at if fetched else result.started_at, site
                )
            elif result.failure is not None:
                stored = StoreOutcome("failed", None, page_id)
            else:
                stored = StoreOutcome("not-modified", None, None)
            failure = result.failure
            conn.execute(
                """INSERT INTO fetches (url, host, started_at, status, outcome, error_kind, error_message,
                       attempts, duration, page_id, article_id, crawl_run_id)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?)""",
                (
                    result.url,
                    url_host(result.url),
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

    def save_reextracted(
        self,
        target: ReextractTarget,
        article: Article,
        *,
        at: str,
        site: str | None = None,
    ) -> StoreOutcome:
        """Store what the current extractors made of a stored page.

        A different title or body becomes a new version with its diff; other differences
        (metadata, related links) are recorded in the change log with cause `reextract`; either
        way the outcome is `changed`, with the fields in `changed`. The same result changes
        nothing (`unchanged`). A page that gave no article before is stored as one (`new`, or
        `changed`/`unchanged` when its article is already archived under another URL).
        `last_fetched_at` never moves: nothing was fetched.
        """
        with self.transaction() as conn:
            page = conn.execute("SELECT fetched_at FROM pages WHERE id = ?", (target.page_id,)).fetchone()
            if page is None:
                raise StoreError(f"no stored page with id {target.page_id}")
            if target.article_id is None:
                return _save_article(self, conn, article, target.page_id, page[0], site, "reextract")
            cur = conn.execute("SELECT * FROM articles WHERE id = ?", (target.article_id,))
            row = cur.fetchone()
            if row is None:  # deleted meanwhile
                return _save_article(self, conn, article, target.page_id, page[0], site, "reextract")
            current = dict(zip([d[0] for d in cur.description], row))
            fields = _article_fields(article, site or current["site"], target.page_id)
            return _apply_extraction(self, conn, current, article, fields, at=at, cause="reextract")

    def page_stored(self, fetched: Fetched, digest: str | None = None) -> bool:
        """Whether this capture (URL, body sha256, fetch time) is already a stored page."""
        digest = digest or hashlib.sha256(fetched.content).hexdigest()
        row = self.execute(
            "SELECT 1 FROM pages WHERE url = ? AND sha256 = ? AND fetched_at = ? LIMIT 1",
            [fetched.url, digest, fetched.fetched_at],
        ).fetchone()
        return row is not None

    def store_imported(self, result: FetchResult, *, site: str | None = None) -> StoreOutcome | None:
        """Store an imported page as `store_result` would, in one transaction with the check that
        it is not stored already; None (and nothing written) when it is."""
        assert result.fetched is not None, "an imported result always has its page"
        with self.transaction():
            if self.page_stored(result.fetched, result.body.sha256 if result.body else None):
                return None
            return self.store_result(result, site=site)
