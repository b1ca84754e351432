"""Fault injection on the fetch-and-extract stage: every hostile response has a clear outcome,
bounded memory, and never a crash."""

from __future__ import annotations

import asyncio
import tracemalloc
from dataclasses import replace

import pytest

from archiver import store
from archiver.fetch import make_client
from archiver.pipeline import fetch_and_extract
from support.faultserver import FaultHandler


def run(url, settings, sleeps):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with make_client(settings) as client:
            return await fetch_and_extract(client, url, settings, sleep=sleeps)

    return asyncio.run(go())


@pytest.mark.parametrize(
    "route, kind, words",
    [
        ("/pages/missing.html", "http-status", "HTTP 404"),
        ("/always-503", "http-status", "HTTP 503"),
        ("/pdf", "not-html", "application/pdf"),
        ("/image", "not-html", "image/png"),
        ("/empty", "extract", "empty"),
        ("/truncated", "transport", "broken"),
        ("/truncated-chunked", "transport", "broken"),
        ("/reset", "transport", "broken"),
        ("/redirect-loop", "transport", "redirects"),
        ("/huge", "too-large", "cap"),
        ("/huge-unannounced", "too-large", "cap"),
        ("/gzip-bomb", "too-large", "decompression"),
        ("/brotli-bomb", "too-large", "decompression"),
        ("/slow-drip", "transport", "deadline"),
    ],
)
def test_fault_has_a_clear_recorded_outcome(tmp_path, base_url, settings, sleeps, route, kind, words):
    db = store.Archive(tmp_path / "a.db")
    db.store_result(run(f"{base_url}/pages/seed-plain.html", settings, sleeps))
    before = db.execute("SELECT id, content_hash FROM articles").fetchall()
    fast = replace(settings, deadline=2.0, retries=1)
    FaultHandler.warm()
    tracemalloc.start()
    result = run(f"{base_url}{route}", fast, sleeps)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.failure is not None and result.article is None
    assert result.failure.kind == kind
    assert words in result.failure.message
    assert peak < 64 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"
    outcome = db.store_result(result)
    assert outcome.outcome == "failed"
    row = db.execute("SELECT error_kind, error_message FROM fetches ORDER BY id DESC LIMIT 1").fetchone()
    assert row == (kind, result.failure.message)
    assert db.execute("SELECT id, content_hash FROM articles").fetchall() == before
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize("route", ["/nul-bytes", "/invalid-utf8", "/latin1", "/utf16", "/utf16be"])
def test_damaged_text_still_extracts(base_url, settings, sleeps, route):
    result = run(f"{base_url}{route}", settings, sleeps)
    assert result.failure is None, result.failure
    article = result.article
    assert article is not None
    assert "Taliban Foreign Minister" in article.title
    assert "\0" not in article.title and "\0" not in article.body
    assert len(article.paragraphs) >= 25


def test_windows_1252_page_decodes_curly_quotes(base_url, settings, sleeps):
    article = run(f"{base_url}/latin1", settings, sleeps).article
    assert article is not None and "Minister’s" in article.title


def test_deeply_nested_page_does_not_crash(base_url, settings, sleeps):
    result = run(f"{base_url}/nested", settings, sleeps)
    # either a short article or a clear extract failure, never an exception
    assert (result.article is not None) or (result.failure is not None and result.failure.kind == "extract")


def test_utf7_is_never_decoded_as_utf7(base_url, settings, sleeps):
    result = run(f"{base_url}/utf7", settings, sleeps)
    if result.article is not None:
        assert "<script>" not in result.article.body
        assert "+ADw-script" in result.article.body


def test_nesting_guard_counts_only_elements_that_need_closing():
    from archiver.extract.guard import MAX_DEPTH, too_deep

    assert too_deep("<div>" * (MAX_DEPTH + 1))
    assert too_deep("<div>a<br><p>b" * (MAX_DEPTH + 1))  # <p> closes itself, the divs nest
    assert not too_deep("<p>a<br>b<img src=x><li>c" * (MAX_DEPTH * 2))
    assert not too_deep("<div>x</div>" * (MAX_DEPTH * 2))
    assert not too_deep("</div>" * MAX_DEPTH + "<div></div>" * MAX_DEPTH)


def test_declared_utf8_with_a_few_bad_bytes_stays_utf8():
    from archiver.encoding import decode_html

    page = "<p>Minister’s visit — café</p>".encode() * 50 + b"<p>\xff\xfe broken</p>"
    text = decode_html(page, "utf-8")
    assert "Minister’s visit — café" in text and "\ufffd" in text
    # a page that is not UTF-8 at all, mislabelled as UTF-8, goes to detection, not to U+FFFD
    latin = ("<p>Ça coûte très cher à Genève, déjà l’été.</p>" * 40).encode("cp1252")
    detected = decode_html(latin, "utf-8")
    assert "\ufffd" not in detected and detected.startswith("<p>Ça co")


def test_utf16_and_utf32_without_a_byte_order_mark_are_told_from_their_nul_bytes():
    from archiver.encoding import decode_html, sniff_wide

    page = "<html><head><title>Café</title></head><body><p>Minister’s visit</p></body></html>" * 20
    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        raw = page.encode(encoding)
        assert sniff_wide(raw) == encoding
        assert decode_html(raw, None) == page
        assert decode_html(raw, "utf-8") == page  # a wrong label loses to the bytes themselves
    assert sniff_wide(page.encode("utf-8")) is None
    assert sniff_wide(page.encode("utf-8").replace(b"<p>", b"<p>\0\0", 20)) is None  # stray NULs
