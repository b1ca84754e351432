"""Small archives for the Datasette tests: articles stored through archiver's own store."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from archiver import store
from archiver.models import Article, Fetched, FetchResult


def article(url: str, title: str, body: str, **fields: object) -> Article:
    return Article(url=url, title=title, body=body, extractor="generic", extractor_version="1", **fields)  # type: ignore[arg-type]


def build(path: Path, articles: Iterable[tuple[Article, str]], at: str = "2026-01-01T00:00:00Z") -> Path:
    """An archive at `path` holding `articles` ((article, site) pairs), stored as fetched."""
    with store.Archive(path) as db:
        for item, site in articles:
            fetched = Fetched(item.url, item.url, 200, (("Content-Type", "text/html"),), b"<p>x</p>", at, 0.1)
            db.store_result(FetchResult(item.url, at, 0.1, fetched=fetched, article=item), site=site)
    return path
