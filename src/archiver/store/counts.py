"""Counts the archive keeps as articles are written, so browsing a million articles costs what
browsing a thousand does (migration `archive_0008_browse_at_scale`, in `archiver.store.schema`).

    article_facets   each article's facet values: site, section, language, each author, and its
                     publication year, month and day in UTC (2024, 2024-05, 2024-05-31)
    facet_counts     articles per facet value, over all articles (within_facet '') and within
                     each value of another facet (the pairs FACET_PAIRS lists): the counts the
                     article list's facets show when nothing, or one of those values, narrows it
    site_stats       per site: articles, empty bodies, missing dates and authors, words (the
                     `extraction_health` query)
    column_counts    rows per value of the columns the log tables' facets show (fetches by
                     outcome, error kind, status and day; pages by status and media type;
                     versions by number), as LOG_FACETS lists them

Triggers keep them all exact on every insert, update and delete of `articles`, whatever writes
it (archiver's store, `reextract`, a user's own SQL), in the same transaction: they cannot
drift from the articles they count. The migration fills them for an existing archive in bulk.
Also here: the indexes behind the list's sorts and narrowings and the canned queries.

The year, month and day are those of `published_utc` (archive_0005_utc_dates), the sort key of
the article list.
"""

from __future__ import annotations

# what a narrowing to one value of `within` shows as facets (the date facet drills down: years,
# then the months of a year, then the days of a month)
SHOWN_WITHIN = {
    "site": ("section", "language", "author", "year"),
    "section": ("site", "language", "author", "year"),
    "language": ("site", "section", "author", "year"),
    "year": ("site", "section", "language", "author", "month"),
    "month": ("site", "section", "language", "author", "day"),
}
# (within, facet) pairs counted at write time. A narrowing not listed here (a day, two
# narrowings at once) holds few enough articles to count when asked.
FACET_PAIRS = [(within, facet) for within, shown in SHOWN_WITHIN.items() for facet in shown]
# added by archive_0009_author_counts: an author's sites, sections, languages, years and co-authors
# (a prolific author's thousands of articles took a second to count when asked)
AUTHOR_PAIRS = [("author", facet) for facet in ("site", "section", "language", "author", "year")]

UTC_STAMP = "{row}.published_utc"

# authors as a JSON array ('[]' when the column holds anything else)
_AUTHORS = """CASE WHEN json_valid({row}.authors)
    THEN CASE WHEN json_type({row}.authors) = 'array' THEN {row}.authors ELSE '[]' END
    ELSE '[]' END"""

# (facet, SQL of its value for the row {row}) for the one-value facets
_SIMPLE = (
    ("site", "{row}.site"),
    ("section", "{row}.section"),
    ("language", "{row}.language"),
    ("year", f"substr({UTC_STAMP}, 1, 4)"),
    ("month", f"substr({UTC_STAMP}, 1, 7)"),
    ("day", f"substr({UTC_STAMP}, 1, 10)"),
)

_FACETS_OF = "\n    UNION ALL ".join(
    [f"SELECT '{facet}' AS facet, {value} AS value" for facet, value in _SIMPLE]
    + ["SELECT 'author', j.value FROM json_each({authors}) AS j WHERE j.type = 'text'"]
)

_RECORD_FACETS = """
        INSERT OR IGNORE INTO article_facets (article_id, facet, value)
        SELECT NEW.id, facet, value FROM ({facets}) WHERE value IS NOT NULL AND value != '';
""".format(facets=_FACETS_OF.format(row="NEW", authors=_AUTHORS.format(row="NEW")))

# the same for every article of an existing archive (a subquery in FROM cannot see the outer row)
_BACKFILL_FACETS = "\n".join(
    f"INSERT OR IGNORE INTO article_facets (article_id, facet, value) SELECT a.id, '{facet}', v "
    f"FROM (SELECT id, {value.format(row='articles')} AS v FROM articles) AS a WHERE v IS NOT NULL AND v != '';"
    for facet, value in _SIMPLE
) + """
        INSERT OR IGNORE INTO article_facets (article_id, facet, value)
        SELECT a.id, 'author', j.value FROM articles AS a, json_each({authors}) AS j
        WHERE j.type = 'text' AND j.value != '';
""".format(authors=_AUTHORS.format(row="a"))

_STATS = """
        INSERT INTO site_stats (site, articles, empty_bodies, missing_dates, missing_authors, words)
        VALUES ({row}.site, {sign}1, {sign}({row}.word_count = 0),
                {sign}({row}.published_at IS NULL OR {row}.published_at = ''),
                {sign}({row}.authors IS NULL OR {row}.authors IN ('', '[]')), {sign}{row}.word_count)
        ON CONFLICT (site) DO UPDATE SET
            articles = articles + excluded.articles,
            empty_bodies = empty_bodies + excluded.empty_bodies,
            missing_dates = missing_dates + excluded.missing_dates,
            missing_authors = missing_authors + excluded.missing_authors,
            words = words + excluded.words;
"""

# one facet value of an article recorded or removed: its count over all articles, and its
# pairs with the article's other values (both ways) that facet_pairs lists
_COUNT = """
        INSERT INTO facet_counts (within_facet, within_value, facet, value, articles)
        VALUES ('', '', {row}.facet, {row}.value, {sign}1)
        ON CONFLICT DO UPDATE SET articles = articles + excluded.articles;
        INSERT INTO facet_counts (within_facet, within_value, facet, value, articles)
        SELECT o.facet, o.value, {row}.facet, {row}.value, {sign}1
        FROM article_facets o JOIN facet_pairs p ON p.within_facet = o.facet AND p.facet = {row}.facet
        WHERE o.article_id = {row}.article_id AND NOT (o.facet = {row}.facet AND o.value = {row}.value)
        ON CONFLICT DO UPDATE SET articles = articles + excluded.articles;
        INSERT INTO facet_counts (within_facet, within_value, facet, value, articles)
        SELECT {row}.facet, {row}.value, o.facet, o.value, {sign}1
        FROM article_facets o JOIN facet_pairs p ON p.within_facet = {row}.facet AND p.facet = o.facet
        WHERE o.article_id = {row}.article_id AND NOT (o.facet = {row}.facet AND o.value = {row}.value)
        ON CONFLICT DO UPDATE SET articles = articles + excluded.articles;
"""

# table -> {column: SQL of the value counted, from the row {row}}: the log tables' facets
LOG_FACETS: dict[str, dict[str, str]] = {
    "fetches": {"outcome": "{row}.outcome", "error_kind": "{row}.error_kind", "status": "{row}.status",
                "started_at": "date({row}.started_at)"},
    "pages": {"status": "{row}.status", "content_type": "{row}.content_type"},
    "article_versions": {"version": "{row}.version"},
}


# Rows of the tables these counts cover, each the sum of one NOT NULL column's (or facet's)
# counts: what the index and archive pages show without counting a million rows on every load.
TABLE_ROWS = {
    "articles": "SELECT coalesce(sum(articles), 0) FROM facet_counts "
                "WHERE within_facet = '' AND within_value = '' AND facet = 'site'",
    **{
        table: "SELECT coalesce(sum(rows), 0) FROM column_counts "
               f"WHERE table_name = '{table}' AND column_name = '{column}'"
        for table, column in (("fetches", "outcome"), ("pages", "status"), ("article_versions", "version"))
    },
}


def _column_count(table: str, column: str, value: str, sign: str) -> str:
    return (
        "INSERT INTO column_counts (table_name, column_name, value, rows) "
        f"SELECT '{table}', '{column}', v, {sign}1 FROM (SELECT {value} AS v) WHERE v IS NOT NULL "
        "ON CONFLICT DO UPDATE SET rows = rows + excluded.rows;"
    )


def _log_counts() -> str:
    """column_counts, its backfill and the triggers that keep it."""
    sql = ["""
        CREATE TABLE column_counts (
            table_name TEXT NOT NULL,
            column_name TEXT NOT NULL,
            value NOT NULL,              -- as the column holds it (a day for a time column)
            rows INTEGER NOT NULL,       -- 0 once the last one is gone
            PRIMARY KEY (table_name, column_name, value)
        ) WITHOUT ROWID;
    """]
    for table, columns in LOG_FACETS.items():
        for column, value in columns.items():
            plain = value.format(row=table)
            sql.append(
                "INSERT INTO column_counts (table_name, column_name, value, rows) "
                f"SELECT '{table}', '{column}', {plain}, count(*) FROM [{table}] "
                f"WHERE {plain} IS NOT NULL GROUP BY {plain};"
            )
        added = "\n".join(_column_count(table, c, v.format(row="NEW"), "+") for c, v in columns.items())
        removed = "\n".join(_column_count(table, c, v.format(row="OLD"), "-") for c, v in columns.items())
        watched = ", ".join(columns)
        sql.append(f"CREATE TRIGGER {table}_column_counts_ai AFTER INSERT ON [{table}] BEGIN\n{added}\nEND;")
        sql.append(f"CREATE TRIGGER {table}_column_counts_ad AFTER DELETE ON [{table}] BEGIN\n{removed}\nEND;")
        sql.append(
            f"CREATE TRIGGER {table}_column_counts_au AFTER UPDATE OF {watched} ON [{table}] "
            f"BEGIN\n{removed}\n{added}\nEND;"
        )
    return "\n".join(sql)


ARCHIVE_0008_BROWSE_AT_SCALE = (
    """
        -- Datasette orders a list by its sort column, then by the key ascending (published_utc
        -- DESC, id): an index in that order serves every page of the list, the later (_next) pages
        -- included, by reading it forward, where an ascending one leaves a sort of the whole
        -- table for every page. An index's entries end with the row id, in ascending order.
        CREATE INDEX IF NOT EXISTS idx_articles_published_desc ON articles(published_utc DESC);
        CREATE INDEX IF NOT EXISTS idx_articles_site_published ON articles(site, published_utc DESC);
        CREATE INDEX IF NOT EXISTS idx_articles_section_published ON articles(section, published_utc DESC);
        CREATE INDEX IF NOT EXISTS idx_articles_language_published ON articles(language, published_utc DESC);
        CREATE INDEX IF NOT EXISTS idx_fetches_started_desc ON fetches(started_at DESC);
        CREATE INDEX IF NOT EXISTS idx_pages_fetched_desc ON pages(fetched_at DESC);
        CREATE INDEX IF NOT EXISTS idx_article_versions_created_desc ON article_versions(created_at DESC);
        -- (these replace the indexes they cover)
        DROP INDEX IF EXISTS idx_articles_published_utc;
        DROP INDEX IF EXISTS idx_articles_site;
        DROP INDEX IF EXISTS idx_articles_section;
        DROP INDEX IF EXISTS idx_articles_language;
        DROP INDEX IF EXISTS idx_fetches_started_at;
        DROP INDEX IF EXISTS idx_pages_fetched_at;
        DROP INDEX IF EXISTS idx_article_versions_created_at;
        -- latest_articles' order; changed_articles reads only versions after the first
        CREATE INDEX IF NOT EXISTS idx_articles_published_or_seen
            ON articles(coalesce(published_utc, first_seen_at));
        CREATE INDEX IF NOT EXISTS idx_article_versions_changes
            ON article_versions(created_at) WHERE version > 1;

        CREATE TABLE article_facets (
            article_id INTEGER NOT NULL,  -- articles.id (kept by the triggers below)
            facet TEXT NOT NULL,          -- site, section, language, author, year, month, day
            value TEXT NOT NULL,          -- year, month, day: UTC (2024, 2024-05, 2024-05-31)
            PRIMARY KEY (article_id, facet, value)
        ) WITHOUT ROWID;
        -- the articles with a facet value (an author's, a year's ...)
        CREATE INDEX idx_article_facets_value ON article_facets(facet, value, article_id);

        CREATE TABLE facet_pairs (
            within_facet TEXT NOT NULL,
            facet TEXT NOT NULL,
            PRIMARY KEY (within_facet, facet)
        ) WITHOUT ROWID;

        CREATE TABLE facet_counts (
            within_facet TEXT NOT NULL,   -- '': over every article; else the facet narrowed on
            within_value TEXT NOT NULL,   -- ... and its value
            facet TEXT NOT NULL,
            value TEXT NOT NULL,
            articles INTEGER NOT NULL,    -- articles with both (0 once the last one is gone)
            PRIMARY KEY (within_facet, within_value, facet, value)
        ) WITHOUT ROWID;

        CREATE TABLE site_stats (
            site TEXT PRIMARY KEY,
            articles INTEGER NOT NULL DEFAULT 0,
            empty_bodies INTEGER NOT NULL DEFAULT 0,     -- word_count 0
            missing_dates INTEGER NOT NULL DEFAULT 0,    -- no published_at
            missing_authors INTEGER NOT NULL DEFAULT 0,  -- no authors
            words INTEGER NOT NULL DEFAULT 0             -- sum of word_count
        );
    """
    + "INSERT INTO facet_pairs (within_facet, facet) VALUES "
    + ", ".join(f"('{within}', '{facet}')" for within, facet in FACET_PAIRS)
    + ";\n"
    + _BACKFILL_FACETS
    + """
        -- an existing archive's counts, in bulk (the triggers below count one row at a time)
        INSERT INTO facet_counts (within_facet, within_value, facet, value, articles)
        SELECT '', '', facet, value, count(*) FROM article_facets GROUP BY facet, value;
        INSERT INTO facet_counts (within_facet, within_value, facet, value, articles)
        SELECT w.facet, w.value, f.facet, f.value, count(*)
        FROM facet_pairs AS p
        JOIN article_facets AS w ON w.facet = p.within_facet
        JOIN article_facets AS f ON f.article_id = w.article_id AND f.facet = p.facet
        GROUP BY w.facet, w.value, f.facet, f.value;
        INSERT INTO site_stats (site, articles, empty_bodies, missing_dates, missing_authors, words)
        SELECT site, count(*), sum(word_count = 0), sum(published_at IS NULL OR published_at = ''),
               sum(authors IS NULL OR authors IN ('', '[]')), sum(word_count)
        FROM articles GROUP BY site;
    """
    + f"""
        CREATE TRIGGER article_facets_ai AFTER INSERT ON article_facets BEGIN
            {_COUNT.format(row="NEW", sign="+")}
        END;
        CREATE TRIGGER article_facets_ad AFTER DELETE ON article_facets BEGIN
            {_COUNT.format(row="OLD", sign="-")}
        END;
        CREATE TRIGGER articles_counts_ai AFTER INSERT ON articles BEGIN
            {_RECORD_FACETS}
            {_STATS.format(row="NEW", sign="+")}
        END;
        CREATE TRIGGER articles_counts_ad AFTER DELETE ON articles BEGIN
            DELETE FROM article_facets WHERE article_id = OLD.id;
            {_STATS.format(row="OLD", sign="-")}
        END;
        CREATE TRIGGER articles_facets_au AFTER UPDATE OF site, section, language, authors, published_utc
        ON articles
        WHEN OLD.site IS NOT NEW.site OR OLD.section IS NOT NEW.section
          OR OLD.language IS NOT NEW.language OR OLD.authors IS NOT NEW.authors
          OR OLD.published_utc IS NOT NEW.published_utc
        BEGIN
            DELETE FROM article_facets WHERE article_id = OLD.id;
            {_RECORD_FACETS}
        END;
        CREATE TRIGGER articles_stats_au AFTER UPDATE OF site, word_count, published_at, authors ON articles
        WHEN OLD.site IS NOT NEW.site OR OLD.word_count IS NOT NEW.word_count
          OR OLD.published_at IS NOT NEW.published_at OR OLD.authors IS NOT NEW.authors
        BEGIN
            {_STATS.format(row="OLD", sign="-")}
            {_STATS.format(row="NEW", sign="+")}
        END;
    """
    + _log_counts()
)


ARCHIVE_0009_AUTHOR_COUNTS = (
    "INSERT INTO facet_pairs (within_facet, facet) VALUES "
    + ", ".join(f"('{within}', '{facet}')" for within, facet in AUTHOR_PAIRS)
    + """;
        INSERT INTO facet_counts (within_facet, within_value, facet, value, articles)
        SELECT w.facet, w.value, f.facet, f.value, count(*)
        FROM article_facets AS w
        JOIN article_facets AS f ON f.article_id = w.article_id
        WHERE w.facet = 'author' AND f.facet IN ('site', 'section', 'language', 'author', 'year')
          AND NOT (f.facet = 'author' AND f.value = w.value)
        GROUP BY w.facet, w.value, f.facet, f.value;
    """
)
