"""archiver: scrape news articles into a clean, searchable SQLite archive."""

from __future__ import annotations

__version__ = "0.1.0"
