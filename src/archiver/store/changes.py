"""Corrections to an article's fields other than its text: what changed, recorded in
`article_changes`.

A change of title or body is a new version in `article_versions`, with its diff (see
`archiver.store.articles`). Any other field the extractors fill (standfirst, authors, dates,
section, tags, language, publication name, lead image, canonical URL, related links) is compared
too, and each one that differs becomes an `article_changes` row: the field, its old and new
value, the page it came from, when, and why (`fetch`: a new capture of the page, from fetch,
crawl or import; `reextract`: today's extractors reading the same stored page).

Why a change log rather than a version per metadata change: a version is a copy of the whole
text, and the fields that change most (related links, bylines, modification dates) change
without the text; a row per field says exactly what changed, old and new, in a few bytes, and
the article page shows versions and changes in one history.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archiver.models import Article, RelatedLink

# the `articles` columns that are article metadata, in the order a history lists them; `title`
# and `body` are versions, and the rest (hashes, counts, extractor, page) follow from those
METADATA_FIELDS = (
    "subtitle",
    "authors",
    "published_at",
    "modified_at",
    "section",
    "tags",
    "language",
    "site_name",
    "image",
    "canonical_url",
)
JSON_FIELDS = frozenset({"authors", "tags", "related"})
RELATED = "related"

CAUSES = ("fetch", "reextract")


@dataclass(frozen=True)
class FieldChange:
    """One field whose value changed: old and new as the archive stores them (JSON text for
    authors, tags and related links)."""

    field: str
    old: str | None
    new: str | None


def related_json(links: Sequence[RelatedLink] | Sequence[Mapping[str, Any]]) -> str:
    """Related links as the change log keeps them: a JSON array of {title, url, summary}."""
    items = [
        {"title": link.title, "url": link.url, "summary": link.summary}
        if isinstance(link, RelatedLink)
        else {"title": link["title"], "url": link["url"], "summary": link["summary"]}
        for link in links
    ]
    return json.dumps(items, ensure_ascii=False)


def _same(field: str, old: Any, new: Any) -> bool:
    if field in JSON_FIELDS:  # compared as values: an older archive may have spelled the JSON apart
        try:
            return bool(json.loads(old or "[]") == json.loads(new or "[]"))
        except ValueError:
            return False
    return (old or None) == (new or None)


def stored_related(conn: sqlite3.Connection, article_id: int) -> str:
    """The related links stored for an article, as `related_json` spells them."""
    cur = conn.execute(
        "SELECT title, url, summary FROM related_links WHERE article_id = ? ORDER BY position",
        (article_id,),
    )
    return related_json([{"title": t, "url": u, "summary": s} for t, u, s in cur.fetchall()])


def field_changes(
    current: Mapping[str, Any], fields: Mapping[str, Any], old_related: str, article: Article
) -> list[FieldChange]:
    """The metadata fields (and related links) in which `fields`, what an extraction decided,
    differ from the stored row `current`."""
    changes = [
        FieldChange(name, current[name], fields[name])
        for name in METADATA_FIELDS
        if not _same(name, current[name], fields[name])
    ]
    new_related = related_json(article.related)
    if not _same(RELATED, old_related, new_related):
        changes.append(FieldChange(RELATED, old_related, new_related))
    return changes


def record_changes(
    conn: sqlite3.Connection,
    article_id: int,
    version: int,
    changes: Sequence[FieldChange],
    *,
    page_id: int | None,
    at: str,
    cause: str,
) -> None:
    """Add one `article_changes` row per changed field (`version`: the article's version of its
    text once this store is done)."""
    assert cause in CAUSES, cause
    conn.executemany(
        """INSERT INTO article_changes (article_id, version, field, old_value, new_value, page_id,
               changed_at, cause) VALUES (?,?,?,?,?,?,?,?)""",
        [(article_id, version, c.field, c.old, c.new, page_id, at, cause) for c in changes],
    )
