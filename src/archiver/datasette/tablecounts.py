"""The archive as Datasette opens it, without counting its hidden tables on every page.

Datasette's index and database pages count the rows of every table, each under a few
milliseconds' time limit; but SQLite counts a table in one step that no time limit interrupts,
and the full-text index's own tables (`articles_fts_data` holds gigabytes at a million articles)
and the counts tables take a second or more. Tables Datasette hides (the FTS5 shadow tables and
those metadata marks hidden) are listed without a count; the others are counted as Datasette
counts them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from datasette.database import Database, QueryInterrupted


class ArchiveDatabase(Database):
    async def table_counts(self, limit: int = 10) -> dict[str, Any]:
        hidden = set(await self.hidden_table_names())
        counts: dict[str, Any] = {}
        for table in await self.table_names():
            if table in hidden:
                counts[table] = None  # not counted: Datasette says "many rows"
                continue
            try:
                answer = await self.execute(f"select count(*) from [{table}]", custom_time_limit=limit)
                counts[table] = answer.rows[0][0]
            except (QueryInterrupted, sqlite3.DatabaseError):
                counts[table] = None
        return counts
