"""The archive as Datasette opens it: tables counted from the counts the archive keeps, and the
article list's count narrowed by an author read from their index entries.

Datasette's index and database pages count the rows of every table, each under a few
milliseconds' time limit; but SQLite counts a table in one step that no time limit interrupts,
and at a million articles the big tables take 10-50 ms each on every page load, the full-text
index's own tables (`articles_fts_data` holds gigabytes) a second or more. Tables whose rows the
archive keeps counts of (`archiver.store.counts.TABLE_ROWS`) are read from those counts; tables
Datasette hides (the FTS5 shadow tables and those metadata marks hidden) are listed without a
count; the others are counted as Datasette counts them.

Every statement passes through `kept_count` (`archiver.datasette.narrowing`), which answers
Datasette's count of the article list from the kept counts where they hold it, and changes no
other statement.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from datasette.database import Database, QueryInterrupted

from archiver.datasette.narrowing import kept_count
from archiver.store.counts import TABLE_ROWS


class ArchiveDatabase(Database):
    async def table_counts(self, limit: int = 10) -> dict[str, Any]:
        hidden = set(await self.hidden_table_names())
        tables = await self.table_names()
        counts: dict[str, Any] = {}
        for table in tables:
            if table in hidden:
                counts[table] = None  # not counted: Datasette says "many rows"
                continue
            kept = TABLE_ROWS.get(table) if "column_counts" in tables else None
            try:
                answer = await self.execute(kept or f"select count(*) from [{table}]", custom_time_limit=limit)
                counts[table] = answer.rows[0][0]
            except (QueryInterrupted, sqlite3.DatabaseError):
                counts[table] = None
        return counts

    async def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        return await super().execute(kept_count(sql), *args, **kwargs)
