"""Headlines and snippets with the search's matches marked, for one page of results.

FTS5's `snippet()` and `highlight()` evaluate the query again for each row they mark, and at a
million articles one evaluation of a prefix query (`harb*`: every word starting so, merged) or a
common phrase costs tens of milliseconds. So the page's few articles are indexed again in a
private in-memory FTS5 table with the archive's tokenizer, and marked there: the same matching
rules, a cost that does not grow with the archive.
"""

from __future__ import annotations

import sqlite3

# as the archive's articles_fts (archiver.store.schema, 0001_initial)
TOKENIZE = "unicode61 remove_diacritics 2"


def mark(rows: list[tuple[int, str, str | None, str]], query: str, open_: str, close: str,
         tokens: int) -> dict[int, tuple[str, str]]:
    """{id: (title, snippet)} for rows of (id, title, subtitle, body) that match `query`, each
    match between `open_` and `close`; the snippet comes from the body, or from the subtitle
    when only it matches there."""
    if not rows:
        return {}
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f"CREATE VIRTUAL TABLE page USING fts5(title, subtitle, body, tokenize='{TOKENIZE}')")
        conn.executemany("INSERT INTO page (rowid, title, subtitle, body) VALUES (?, ?, ?, ?)", rows)
        found = conn.execute(
            "SELECT rowid, highlight(page, 0, :o, :c), snippet(page, 2, :o, :c, '…', :n), "
            "snippet(page, 1, :o, :c, '…', :n) FROM page WHERE page MATCH :q",
            {"o": open_, "c": close, "n": tokens, "q": query},
        ).fetchall()
    finally:
        conn.close()
    marked = {}
    for rowid, title, body, subtitle in found:
        if open_ not in (body or "") and open_ in (subtitle or ""):
            body = subtitle  # the match is in the standfirst, not the body
        marked[rowid] = (title, body or "")
    return marked
