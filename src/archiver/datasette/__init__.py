"""The Datasette site that `archiver serve` runs: metadata, canned queries, templates, a plugin.

    metadata.json       titles, descriptions, facets, sort order, full-text search, queries
    queries/*.sql       the canned queries' SQL (also runnable in the sqlite3 shell)
    templates/          the article reading view and the version view
    plugin.py           read-only connections, the data the article and version views need
    cells.py            grid and query cells: links to archived articles, dates in words, excerpts
    captured.py         the captured page from the stored bytes, inert (sandboxed, cleaned, CSP)
    columns.py          the columns a grid shows by default
    history.py          an article's versions and field changes as one history
    display.py          dates, text, links and diffs as a reader sees them (pure)
    errors.py           error pages without Datasette's console traceback dump
    facets.py           the article list's facets from the counts the archive keeps
    narrowing.py        how the article list is narrowed (site, section, language, author, date)
    search.py           the search page: bm25 relevance or date order, snippets, a bound on counting
    ftsquery.py         what readers type as an FTS5 query (pure)
    snippets.py         a results page's headlines and snippets, matches marked
    tablecounts.py      the archive's Database: hidden tables listed without a count

Configured for Datasette 0.65 (configuration lives in metadata; 1.0 moves it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
QUERIES = HERE / "queries"

DB_NAME = "archive"  # the archive is always served as /archive, whatever its file is called


def load_metadata() -> dict[str, Any]:
    """Datasette metadata for the archive, canned queries' SQL read from queries/*.sql."""
    metadata: dict[str, Any] = json.loads((HERE / "metadata.json").read_text(encoding="utf-8"))
    queries = metadata["databases"][DB_NAME]["queries"]
    for name, query in queries.items():
        query["sql"] = (QUERIES / f"{name}.sql").read_text(encoding="utf-8")
    return metadata
