"""Schema migrations of the archive.

A migration is a (name, step) pair; `step` is SQL (run as one script inside its own
transaction) or a function that runs statements with `conn.execute` (never `executescript`,
which commits). Applied names are recorded in the `migrations` table, so applying twice is a
no-op and an older archive upgrades in place. Append new migrations at the end of MIGRATIONS
with a new name; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import sqlite_utils

from archiver.store.counts import ARCHIVE_0008_BROWSE_AT_SCALE, ARCHIVE_0009_AUTHOR_COUNTS
from archiver.timestamps import utc_now
from archiver.urls import url_host

# Shipped migrations are never edited: later ones change what they made (pages.elapsed is
# pages.duration since archive_0007_page_duration, which also mends the body comment).
M001_INITIAL = """
        CREATE TABLE pages (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            final_url TEXT NOT NULL,
            status INTEGER NOT NULL,
            content_type TEXT,
            charset TEXT,
            etag TEXT,
            last_modified TEXT,
            content_length INTEGER,
            body BLOB NOT NULL,          -- gzip of the body as received (after transfer decoding)
            body_size INTEGER NOT NULL,  -- bytes before compression
            sha256 TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            elapsed REAL
        );
        CREATE INDEX idx_pages_url ON pages(url);
        CREATE INDEX idx_pages_final_url ON pages(final_url);
        CREATE INDEX idx_pages_fetched_at ON pages(fetched_at);

        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,      -- canonical URL when the page names one
            fetched_url TEXT NOT NULL,     -- the URL it was last fetched from
            canonical_url TEXT,
            site TEXT NOT NULL,
            title TEXT NOT NULL,
            subtitle TEXT,
            authors TEXT NOT NULL DEFAULT '[]',   -- JSON array of names
            published_at TEXT,
            modified_at TEXT,
            language TEXT,
            site_name TEXT,
            section TEXT,
            tags TEXT NOT NULL DEFAULT '[]',      -- JSON array
            image TEXT,
            body TEXT NOT NULL,
            word_count INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            extractor TEXT NOT NULL,
            extractor_version TEXT NOT NULL,
            page_id INTEGER REFERENCES pages(id),
            first_seen_at TEXT NOT NULL,
            last_fetched_at TEXT NOT NULL,
            last_changed_at TEXT NOT NULL,
            versions INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX idx_articles_site ON articles(site);
        CREATE INDEX idx_articles_published_at ON articles(published_at);
        CREATE INDEX idx_articles_last_changed_at ON articles(last_changed_at);
        CREATE INDEX idx_articles_section ON articles(section);
        CREATE INDEX idx_articles_language ON articles(language);

        CREATE TABLE article_versions (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            page_id INTEGER REFERENCES pages(id),
            created_at TEXT NOT NULL,
            diff TEXT,                     -- unified diff against the previous version
            UNIQUE (article_id, version)
        );

        CREATE TABLE related_links (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            title TEXT NOT NULL,
            url TEXT NOT NULL,
            summary TEXT,
            target_article_id INTEGER REFERENCES articles(id) ON DELETE SET NULL,
            UNIQUE (article_id, position)
        );
        CREATE INDEX idx_related_links_url ON related_links(url);
        CREATE INDEX idx_related_links_target ON related_links(target_article_id);

        CREATE TABLE crawl_runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            command TEXT,
            discovered INTEGER NOT NULL DEFAULT 0,
            fetched INTEGER NOT NULL DEFAULT 0,
            new INTEGER NOT NULL DEFAULT 0,
            changed INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            not_modified INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            robots_blocked INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'running'
        );

        CREATE TABLE fetches (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            started_at TEXT NOT NULL,
            status INTEGER,
            outcome TEXT NOT NULL,          -- new, changed, unchanged, not-modified, failed
            error_kind TEXT,
            error_message TEXT,
            attempts INTEGER NOT NULL DEFAULT 1,
            duration REAL,
            page_id INTEGER REFERENCES pages(id),
            article_id INTEGER REFERENCES articles(id) ON DELETE SET NULL,
            crawl_run_id INTEGER REFERENCES crawl_runs(id)
        );
        CREATE INDEX idx_fetches_url ON fetches(url);
        CREATE INDEX idx_fetches_started_at ON fetches(started_at);
        CREATE INDEX idx_fetches_outcome ON fetches(outcome);

        CREATE TABLE sites (
            name TEXT PRIMARY KEY,
            domains TEXT NOT NULL DEFAULT '[]',
            last_crawled_at TEXT
        );

        CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, subtitle, body,
            content='articles', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
            INSERT INTO articles_fts(rowid, title, subtitle, body)
            VALUES (new.id, new.title, new.subtitle, new.body);
        END;
        CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, subtitle, body)
            VALUES ('delete', old.id, old.title, old.subtitle, old.body);
        END;
        CREATE TRIGGER articles_au AFTER UPDATE OF title, subtitle, body ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, subtitle, body)
            VALUES ('delete', old.id, old.title, old.subtitle, old.body);
            INSERT INTO articles_fts(rowid, title, subtitle, body)
            VALUES (new.id, new.title, new.subtitle, new.body);
        END;
"""

Step = str | Callable[[sqlite3.Connection], None]


class NewerArchive(Exception):
    """The archive was written by a newer archiver (it has migrations this one does not know)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(sorted(names)))
        self.names = names


ARCHIVE_0002_PAGE_HEADERS = """
        -- every response header as received, JSON [[name, value], ...], for faithful WARC export;
        -- NULL for pages stored before this migration (export rebuilds them from the columns)
        ALTER TABLE pages ADD COLUMN headers TEXT;
        -- indexes behind the Datasette views, canned queries, stats and foreign keys
        CREATE INDEX IF NOT EXISTS idx_articles_first_seen_at ON articles(first_seen_at);
        CREATE INDEX IF NOT EXISTS idx_articles_page_id ON articles(page_id);
        CREATE INDEX IF NOT EXISTS idx_article_versions_page_id ON article_versions(page_id);
        CREATE INDEX IF NOT EXISTS idx_article_versions_created_at ON article_versions(created_at);
        CREATE INDEX IF NOT EXISTS idx_fetches_article_id ON fetches(article_id);
        CREATE INDEX IF NOT EXISTS idx_fetches_page_id ON fetches(page_id);
"""

ARCHIVE_0003_BODY_CODEC = """
        -- how pages.body is compressed: 'zstd' for pages stored from this migration on, 'gzip'
        -- for those stored before (archiver.store.decompress reads both)
        ALTER TABLE pages ADD COLUMN body_codec TEXT NOT NULL DEFAULT 'gzip';
"""

CRAWL_0001_FRONTIER = """
        -- the crawl's persistent frontier: every URL the crawl knows, its state and when it is due
        CREATE TABLE frontier (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,        -- normalised (archiver.urls.normalize_url)
            host TEXT NOT NULL,              -- host[:port]: politeness and robots.txt key
            kind TEXT NOT NULL,              -- article, feed, sitemap, section, start
            site TEXT,                       -- site file name, when one applies
            state TEXT NOT NULL DEFAULT 'queued',  -- queued, done, failed, blocked
            depth INTEGER NOT NULL DEFAULT 0,      -- 0: configured source; n: found n hops away
            source_url TEXT,                 -- where it was found
            published_at TEXT,               -- from the source or the article, ISO-8601 UTC
            modified_at TEXT,                -- lastmod / updated from the source
            discovered_at TEXT NOT NULL,
            next_attempt_at TEXT,            -- due when <= now; NULL: nothing planned
            attempts INTEGER NOT NULL DEFAULT 0,   -- failed attempts in a row
            last_attempt_at TEXT,
            last_status INTEGER,
            last_error TEXT,
            etag TEXT,                       -- validators for the next conditional GET
            last_modified TEXT,
            revisits INTEGER NOT NULL DEFAULT 0,   -- re-crawls done since first archived
            article_id INTEGER REFERENCES articles(id) ON DELETE SET NULL,
            crawl_run_id INTEGER REFERENCES crawl_runs(id) ON DELETE SET NULL
        );
        CREATE INDEX idx_frontier_due ON frontier(next_attempt_at, host)
            WHERE next_attempt_at IS NOT NULL;
        CREATE INDEX idx_frontier_host_due ON frontier(host, next_attempt_at)
            WHERE next_attempt_at IS NOT NULL;
        CREATE INDEX idx_frontier_state ON frontier(state);
        CREATE INDEX idx_frontier_article_id ON frontier(article_id);

        -- robots.txt answers worth keeping (2xx and 4xx), for at most a day (RFC 9309)
        CREATE TABLE robots_txt (
            origin TEXT PRIMARY KEY,
            status INTEGER NOT NULL,
            body TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );

        ALTER TABLE crawl_runs ADD COLUMN duration REAL;
        ALTER TABLE crawl_runs ADD COLUMN stop_reason TEXT;  -- complete, max-pages, max-duration, signal
        ALTER TABLE crawl_runs ADD COLUMN pid INTEGER;
        CREATE INDEX IF NOT EXISTS idx_fetches_crawl_run_id ON fetches(crawl_run_id);
"""

# New articles are indexed by archiver.store at the end of their transaction, all together, not
# by a trigger row by row (see store.archive._index_new_articles); updates and deletes keep theirs.
ARCHIVE_0004_INDEX_NEW_ARTICLES_AT_COMMIT = """
        DROP TRIGGER IF EXISTS articles_ai;
"""

CRAWL_0002_RUN_OUTCOME = """
        ALTER TABLE crawl_runs ADD COLUMN error TEXT;  -- why a run ended in an error (status failed)
        -- hosts skipped because their robots.txt could not be fetched (unreachable, 5xx)
        ALTER TABLE crawl_runs ADD COLUMN unreachable INTEGER NOT NULL DEFAULT 0;
        -- links of section pages judged articles (queued) and judged not (navigation, tags ...)
        ALTER TABLE crawl_runs ADD COLUMN links_articles INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE crawl_runs ADD COLUMN links_rejected INTEGER NOT NULL DEFAULT 0;
"""

CRAWL_0003_DISCOVERY_LEARNS = """
        -- what discovery learns per host (archiver.store.discovery): URL shapes of pages that
        -- turned out to be articles and of those that did not, so later runs judge the host's
        -- section-page links by what its pages were; and its section links judged and rejected
        CREATE TABLE url_shapes (
            host TEXT NOT NULL,
            shape TEXT NOT NULL,              -- archiver.sections.url_shape, e.g. /news/<n>.html
            articles INTEGER NOT NULL DEFAULT 0,
            others INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (host, shape)
        );
        CREATE TABLE host_discovery (
            host TEXT PRIMARY KEY,
            site TEXT NOT NULL,               -- as articles.site names it
            links_articles INTEGER NOT NULL DEFAULT 0,
            links_rejected INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        );
"""

# Dates as pages state them keep their offset (2025-07-10T09:15:00+03:00), so they do not sort
# in time order as text; beside each, the same moment in UTC (SQLite's date functions apply the
# offset; a date or a time without one is taken as UTC), filled by archiver.store on every save.
ARCHIVE_0005_UTC_DATES = """
        ALTER TABLE articles ADD COLUMN published_utc TEXT;  -- YYYY-MM-DDTHH:MM:SSZ
        ALTER TABLE articles ADD COLUMN modified_utc TEXT;
        UPDATE articles SET published_utc = strftime('%Y-%m-%dT%H:%M:%SZ', published_at),
                            modified_utc = strftime('%Y-%m-%dT%H:%M:%SZ', modified_at);
        CREATE INDEX IF NOT EXISTS idx_articles_published_utc ON articles(published_utc);
"""

# Corrections to an article's fields other than title and body (archiver.store.changes): one
# row per field that changed on a later capture (cause 'fetch') or re-extraction ('reextract').
ARCHIVE_0006_ARTICLE_CHANGES = """
        CREATE TABLE article_changes (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,      -- the article's version (of title and body) from then on
            field TEXT NOT NULL,           -- subtitle, authors, published_at, ..., related
            old_value TEXT,                -- as articles holds it (JSON arrays: authors, tags, related)
            new_value TEXT,
            page_id INTEGER REFERENCES pages(id),
            changed_at TEXT NOT NULL,
            cause TEXT NOT NULL            -- fetch (a new capture) or reextract (same page, new extraction)
        );
        CREATE INDEX idx_article_changes_article_id ON article_changes(article_id, changed_at);
        CREATE INDEX idx_article_changes_changed_at ON article_changes(changed_at);
"""

OLD_BODY_COMMENT = "-- gzip of the body as received (after transfer decoding)"
NEW_BODY_COMMENT = "-- the body as received (after transfer decoding), zstd (gzip before archive_0003): see body_codec"


def archive_0007_page_duration(conn: sqlite3.Connection) -> None:
    """`pages.elapsed` becomes `pages.duration`, the name `fetches` and `crawl_runs` give the same
    idea (seconds from the first request to the last byte); and the comment on `pages.body`,
    which said gzip, says where the codec is told (zstd since archive_0003, gzip before)."""
    conn.execute("ALTER TABLE pages RENAME COLUMN elapsed TO duration")
    # the comment is text in sqlite_schema that only `.schema` shows; a comment is not part of
    # the table's structure, so editing it needs no rebuild (and no schema_version bump)
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.execute(
            "UPDATE sqlite_schema SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'pages'",
            (OLD_BODY_COMMENT, NEW_BODY_COMMENT),
        )
    finally:
        conn.execute("PRAGMA writable_schema = OFF")


def archive_0010_fetch_hosts(conn: sqlite3.Connection) -> None:
    """`fetches.host`: the host[:port] of the URL asked for (`archiver.urls.host_key`), stored when
    the fetch is recorded, so failures group by host from an index (the `failures_by_host` query)
    instead of parsing every failed fetch's URL in Python on each page load."""
    conn.create_function("url_host", 1, url_host, deterministic=True)
    conn.execute("ALTER TABLE fetches ADD COLUMN host TEXT")
    conn.execute("UPDATE fetches SET host = url_host(url)")
    conn.execute(
        "CREATE INDEX idx_fetches_failed_host ON fetches(host, error_kind, started_at, url) WHERE outcome = 'failed'"
    )


MIGRATIONS: list[tuple[str, Step]] = [
    ("0001_initial", M001_INITIAL),
    ("archive_0002_page_headers", ARCHIVE_0002_PAGE_HEADERS),
    ("crawl_0001_frontier", CRAWL_0001_FRONTIER),
    ("archive_0003_body_codec", ARCHIVE_0003_BODY_CODEC),
    ("archive_0004_index_new_articles_at_commit", ARCHIVE_0004_INDEX_NEW_ARTICLES_AT_COMMIT),
    ("crawl_0002_run_outcome", CRAWL_0002_RUN_OUTCOME),
    ("crawl_0003_discovery_learns", CRAWL_0003_DISCOVERY_LEARNS),
    ("archive_0005_utc_dates", ARCHIVE_0005_UTC_DATES),
    ("archive_0006_article_changes", ARCHIVE_0006_ARTICLE_CHANGES),
    ("archive_0007_page_duration", archive_0007_page_duration),
    ("archive_0008_browse_at_scale", ARCHIVE_0008_BROWSE_AT_SCALE),
    ("archive_0009_author_counts", ARCHIVE_0009_AUTHOR_COUNTS),
    ("archive_0010_fetch_hosts", archive_0010_fetch_hosts),
]



def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    db.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    return [row[0] for row in db.execute("SELECT name FROM migrations ORDER BY rowid")]


def newer_migrations(done: set[str] | list[str]) -> list[str]:
    """Migrations recorded in an archive that this version does not know: a newer archiver
    wrote it."""
    known = {name for name, _ in MIGRATIONS}
    return [name for name in done if name not in known]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations the archive lacks, each atomically; return the names applied.
    Raises NewerArchive (nothing written) when the archive has migrations this version lacks."""
    conn = db.conn
    done = set(applied_migrations(db))
    newer = newer_migrations(done)
    if newer:
        raise NewerArchive(newer)
    applied: list[str] = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        now = utc_now()
        record = f"INSERT INTO migrations (name, applied_at) VALUES ('{name}', '{now}')"
        try:
            if isinstance(step, str):
                # executescript commits first, so the script carries its own transaction
                conn.executescript(f"BEGIN IMMEDIATE;\n{step}\n;{record};\nCOMMIT;")
            else:
                conn.execute("BEGIN IMMEDIATE")
                if conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                    conn.execute("ROLLBACK")
                    continue
                step(conn)
                conn.execute(record)
                conn.execute("COMMIT")
        except sqlite3.DatabaseError:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if name in applied_migrations(db):  # another process applied it meanwhile
                continue
            raise
        applied.append(name)
    return applied
