"""Small archives for the in-process tests of `archiver serve` (test_serve, test_serve_views):
articles stored through the archive's own `store_result`, as a fetch would store them, and the
Datasette app asked for a page."""

from __future__ import annotations

import asyncio
from typing import Any

from archiver import store
from archiver.models import Article, Fetched, FetchResult

HTML = "text/html; charset=utf-8"


def captured(url: str, at: str, body: bytes | None = None, kind: str = HTML) -> Fetched:
    """A 200 response for `url` fetched `at`: `body`, or a page that names the URL."""
    content = body if body is not None else f"<html><body><p>{url}</p></body></html>".encode()
    return Fetched(url, url, 200, (("Content-Type", kind),), content, at, 0.1)


def store_article(
    db: store.Archive, article: Article, at: str, *, body: bytes | None = None, site: str | None = None
) -> store.StoreOutcome:
    """Store `article` as extracted from a capture of its URL `at` (the page: `body`)."""
    fetched = captured(article.url, at, body)
    return db.store_result(FetchResult(article.url, at, 0.1, fetched=fetched, article=article), site=site)


def response(ds: Any, path: str, status: int = 200) -> Any:
    """The app's response to GET `path`, checked to have `status`."""
    got = asyncio.run(ds.client.get(path))
    assert got.status_code == status, (path, got.status_code, got.text[:500])
    return got
