"""How log lines look: plain lines and JSON lines, both stamped in one format (ISO-8601 UTC to
the second), whatever wrote them (the crawl's progress lines or the logging module)."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from archiver.timestamps import iso


def stamp(when: float | None = None) -> str:
    """ISO-8601 UTC to the second, `2026-03-01T08:00:00Z`: every timestamp a log line carries."""
    return iso(datetime.fromtimestamp(time.time() if when is None else when, UTC))


class PlainLogFormatter(logging.Formatter):
    """Log lines stamped as the progress lines are: ISO-8601 UTC to the second (`...Z`), so a
    log file under cron has one timestamp format throughout."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        return stamp(record.created)


class JsonLogFormatter(logging.Formatter):
    """Log records as JSON lines (beside the JSON progress events)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": stamp(record.created),
            "event": "log",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)
