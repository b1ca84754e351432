"""What discovery learns per host, kept in the archive so later runs use it:

- `url_shapes`: per host and URL shape (`archiver.sections.url_shape`), how many pages of that
  shape turned out to be articles and how many did not (extraction found no article, too few
  words, not HTML; a section page read as a source). Section pages' links are judged with it.
- `host_discovery`: per host, how many links of its section pages were judged articles and how
  many rejected, over all crawls (the `extraction_health` query shows them per site).

Every write joins the caller's transaction (`Archive.transaction`).
"""

from __future__ import annotations

from archiver.store.archive import Archive


def shape_counts(db: Archive, host: str) -> dict[str, tuple[int, int]]:
    """URL shape -> (pages that were articles, pages that were not), for one host."""
    rows = db.execute("SELECT shape, articles, others FROM url_shapes WHERE host = ?", [host])
    return {shape: (int(articles), int(others)) for shape, articles, others in rows}


def count_shape(db: Archive, host: str, shape: str, *, article: bool, now: str) -> None:
    """Count one page of `shape` on `host` as an article, or as not one."""
    with db.transaction() as conn:
        conn.execute(
            """INSERT INTO url_shapes (host, shape, articles, others, updated_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT(host, shape) DO UPDATE SET articles = articles + excluded.articles,
                   others = others + excluded.others, updated_at = excluded.updated_at""",
            (host, shape, int(article), int(not article), now),
        )


def count_links(db: Archive, host: str, site: str, *, articles: int, rejected: int, now: str) -> None:
    """Add one section page's judged links to its host's totals."""
    with db.transaction() as conn:
        conn.execute(
            """INSERT INTO host_discovery (host, site, links_articles, links_rejected, updated_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT(host) DO UPDATE SET site = excluded.site,
                   links_articles = links_articles + excluded.links_articles,
                   links_rejected = links_rejected + excluded.links_rejected,
                   updated_at = excluded.updated_at""",
            (host, site, articles, rejected, now),
        )
