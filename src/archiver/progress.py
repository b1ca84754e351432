"""How a crawl shows what it does: a live rich display on a terminal, plain log lines under cron,
or JSON lines (`--log-format json`). Each is a callable taking `archiver.crawl.CrawlEvent`s.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import deque
from typing import IO, Any

from archiver.crawl import CrawlEvent
from archiver.logs import JsonLogFormatter, stamp
from archiver.models import CrawlReport

FORMATS = ("auto", "rich", "plain", "json")

events_log = logging.getLogger("archiver.crawl.events")


def counters(report: CrawlReport | None) -> str:
    if report is None:
        return ""
    return (
        f"fetched {report.fetched}  new {report.new}  changed {report.changed}  "
        f"unchanged {report.unchanged}  304 {report.not_modified}  failed {report.failed}  "
        f"blocked {report.robots_blocked}  discovered {report.discovered}"
    )


class PlainProgress:
    """One log line per event (for cron mail and log files)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr

    def __call__(self, event: CrawlEvent) -> None:
        if event.kind in ("fetched", "discovered", "failed", "blocked"):
            status = f" {event.status}" if event.status is not None else ""
            detail = f"  {event.detail}" if event.detail else ""
            line = f"{event.outcome or event.kind}{status} {event.url}{detail}"
        elif event.kind in ("start", "stop"):
            line = f"crawl {event.kind}: {event.detail}"
        else:
            return  # "done": the summary line is printed by the command
        self.stream.write(f"{stamp()} {line}\n")
        self.stream.flush()

    def close(self) -> None:
        return None


class JsonProgress:
    """One JSON object per event."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr

    def __call__(self, event: CrawlEvent) -> None:
        if event.kind == "done":
            return
        record: dict[str, Any] = {"time": stamp(), "event": event.kind}
        for key in ("url", "outcome", "status", "detail"):
            value = getattr(event, key)
            if value not in ("", None):
                record[key] = value
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()

    def close(self) -> None:
        return None


class RichProgress:
    """A live display: counters, rate, and the last few URLs."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.recent: deque[str] = deque(maxlen=8)
        self.report: CrawlReport | None = None
        self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)
        self.live.start()

    def _render(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        report = self.report
        rate = ""
        if report is not None and report.duration > 0:
            rate = f"  {report.fetched / report.duration:.1f}/s  {report.duration:.0f}s"
        lines = [Text(f"crawling  {counters(report)}{rate}", style="bold")]
        lines += [Text(line, overflow="ellipsis", no_wrap=True) for line in self.recent]
        return Group(*lines)

    def __call__(self, event: CrawlEvent) -> None:
        self.report = event.report
        if event.kind in ("fetched", "discovered", "failed", "blocked"):
            self.recent.append(f"{event.outcome or event.kind:>13} {event.url}")
        elif event.kind == "stop":
            self.recent.append(f"{'stopping':>13} {event.detail}")
        self.live.update(self._render())

    def close(self) -> None:
        self.live.stop()


def make_progress(fmt: str, stream: IO[str] | None = None) -> PlainProgress | JsonProgress | RichProgress:
    """The reporter for a log format: 'auto' is rich on a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    if fmt == "json":
        return JsonProgress(stream)
    if fmt == "rich" or (fmt == "auto" and stream.isatty()):
        return RichProgress()
    return PlainProgress(stream)


def configure_logging(fmt: str, progress: object) -> None:
    """Make the root log handlers fit the display: JSON lines for json, rich's own console
    under the live display (so log lines print above it, not through it)."""
    root = logging.getLogger()
    if isinstance(progress, RichProgress):
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=progress.console, show_path=False)
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(handler)
    elif fmt == "json":
        if not root.handlers:
            root.addHandler(logging.StreamHandler(sys.stderr))
        for handler in root.handlers:
            handler.setFormatter(JsonLogFormatter())
