"""The archive's reads: article records, stored pages, what to re-extract, and the counts that
`archiver stats` shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from archiver.errors import StoreError
from archiver.models import Fetched
from archiver.store.articles import ReextractTarget
from archiver.store.bodies import fetched_of
from archiver.urls import site_of


@dataclass(frozen=True)
class StoredPage:
    """A stored response with its row id and recorded digest."""

    id: int
    sha256: str
    fetched: Fetched


class Reads(sqlite_utils.Database):
    """The archive's reads (a part of `archiver.store.Archive`)."""

    def article_record(self, article_id: int) -> dict[str, Any]:
        """An article row with its related links, as a JSON-ready dict."""
        rows = list(self.query("SELECT * FROM articles WHERE id = ?", [article_id]))
        if not rows:
            raise StoreError(f"no article with id {article_id}")
        record = dict(rows[0])
        record["authors"] = json.loads(record["authors"])
        record["tags"] = json.loads(record["tags"])
        record["related"] = list(
            self.query(
                "SELECT title, url, summary, target_article_id FROM related_links "
                "WHERE article_id = ? ORDER BY position",
                [article_id],
            )
        )
        return record

    def load_page(self, page_id: int) -> Fetched:
        """A stored page as the `Fetched` record it was stored from (body decompressed)."""
        rows = list(self.query("SELECT * FROM pages WHERE id = ?", [page_id]))
        if not rows:
            raise StoreError(f"no stored page with id {page_id}")
        return fetched_of(rows[0])

    def iter_pages(
        self, *, site: str | None = None, since: str | None = None
    ) -> Iterator[StoredPage]:
        """Stored pages in the order they were fetched, one body in memory at a time.

        `site`: pages that gave an article of that site, or (for pages that gave none) whose host is
        that site. `since`: fetched at or after that ISO-8601 time.
        """
        selected: list[int] = []
        for page_id, url, fetch_site, article_site in self.execute(
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
            row = next(iter(self.query("SELECT * FROM pages WHERE id = ?", [page_id])), None)
            if row is not None:  # None: deleted while we were reading
                yield StoredPage(row["id"], row["sha256"], fetched_of(row))

    def iter_article_records(
        self, *, site: str | None = None, since: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Article records (as `article_record`), oldest first; `since` compares `last_changed_at`."""
        ids = [
            row[0]
            for row in self.execute(
                "SELECT id FROM articles WHERE (? IS NULL OR site = ?) "
                "AND (? IS NULL OR last_changed_at >= ?) ORDER BY first_seen_at, id",
                (site, site, since, since),
            ).fetchall()
        ]
        for article_id in ids:
            try:
                yield self.article_record(article_id)
            except StoreError:  # deleted while we were reading
                continue

    def site_names(self) -> list[str]:
        """The sites that have articles in the archive, by name."""
        return [row[0] for row in self.execute("SELECT DISTINCT site FROM articles ORDER BY site")]

    def reextract_targets(self, site: str | None = None) -> list[ReextractTarget]:
        """Each article's newest stored page, then the newest page of each URL that gave no article.

        `site` keeps the articles of that site (and pages that gave no article whose host is it).
        """
        articles = self.execute(
            """SELECT coalesce((SELECT max(f.page_id) FROM fetches f WHERE f.article_id = a.id),
                               a.page_id) AS page_id, a.id, a.site
               FROM articles a WHERE (? IS NULL OR a.site = ?) ORDER BY a.id""",
            (site, site),
        ).fetchall()
        targets = [ReextractTarget(page, article, name) for page, article, name in articles if page]
        orphans = self.execute(
            """SELECT max(p.id), p.url FROM pages p
               WHERE NOT EXISTS (SELECT 1 FROM fetches f WHERE f.url = p.url AND f.article_id IS NOT NULL)
                 AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.page_id = p.id)
               GROUP BY p.url ORDER BY max(p.id)"""
        ).fetchall()
        for page_id, url in orphans:
            if site is None or site_of(url) == site:
                targets.append(ReextractTarget(page_id, None, None))
        return targets

    def stats(self, *, days: int = 14) -> dict[str, Any]:
        """Counts by site and by day, failures by kind and host, and the database's size on disk."""

        def rows(sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
            return [dict(r) for r in self.query(sql, params)]

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
            """SELECT host, count(*) AS failures,
                       count(DISTINCT url) AS urls, max(started_at) AS last_failed_at
                FROM fetches WHERE outcome = 'failed' GROUP BY host ORDER BY failures DESC LIMIT 20"""
        )
        page_size = self.execute("PRAGMA page_size").fetchone()[0]
        page_count = self.execute("PRAGMA page_count").fetchone()[0]
        freelist = self.execute("PRAGMA freelist_count").fetchone()[0]
        size: dict[str, Any] = {"pages_bytes": page_size * page_count, "free_bytes": page_size * freelist}
        path = next((row[2] for row in self.execute("PRAGMA database_list") if row[1] == "main"), "")
        if path:
            main_file, wal = Path(path), Path(path + "-wal")
            size["path"] = path
            size["file_bytes"] = main_file.stat().st_size if main_file.exists() else 0
            size["wal_bytes"] = wal.stat().st_size if wal.exists() else 0
        size["stored_body_bytes"] = self.execute("SELECT coalesce(sum(length(body)), 0) FROM pages").fetchone()[0]
        size["raw_body_bytes"] = self.execute("SELECT coalesce(sum(body_size), 0) FROM pages").fetchone()[0]
        return {
            "totals": totals,
            "by_site": by_site,
            "by_day": by_day,
            "failures_by_kind": failures_by_kind,
            "failures_by_host": failures_by_host,
            "size": size,
        }
