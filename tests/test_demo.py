"""The bundled demo: two sites crawled into a fresh archive; a second run stores nothing new."""

from __future__ import annotations

import socket
import sqlite3
from dataclasses import replace

from archiver.demo import run as demo
from archiver.demo.run import COURIER, LEVANT, run_demo
from archiver.pools import inline_pool
from support.faultserver import FIXTURES

SEED = "2025/07/taliban-foreign-minister-tehran-visit-iran-terrorist-alliances"


def test_the_seed_article_page_is_the_fixture_byte_for_byte():
    assert (LEVANT / SEED / "index.html").read_bytes() == (FIXTURES / "pages" / "seed-elementor.html").read_bytes()


def test_demo_crawls_both_sites_then_stores_nothing_new(tmp_path, settings, monkeypatch):
    monkeypatch.setattr(demo, "run_crawl", lambda *a, **kw: _inline(*a, **kw))
    db = tmp_path / "archive.db"
    port = two_free_ports()  # fixed ports for both runs, as `archiver demo` has
    quick = replace(settings, extract_workers=1)
    articles = list(LEVANT.glob("20*/*/*/index.html")) + list(COURIER.glob("20*/*/*/index.html"))
    first = run_demo(db, quick, port=port)
    assert first.new == len(articles) == 16
    assert first.failed == 0 and first.robots_blocked == 1  # the members-only page
    with sqlite3.connect(db) as conn:
        pages = conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
        seed = conn.execute("SELECT title, versions FROM articles WHERE url LIKE ?", [f"%{SEED}/"]).fetchone()
        related = conn.execute(
            "SELECT COUNT(*), COUNT(target_article_id) FROM related_links r "
            "JOIN articles a ON a.id = r.article_id WHERE a.url LIKE ?", [f"%{SEED}/"]).fetchone()
        kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM frontier GROUP BY kind").fetchall())
    assert pages == 16
    assert seed == ("Taliban Foreign Minister’s Tehran Visit Highlights Iran’s Terrorist Alliances", 1)
    assert related == (8, 8)  # every related article is a real page, archived and linked
    assert kinds == {"article": 17, "feed": 3, "section": 3, "sitemap": 3}
    again = run_demo(db, quick, port=port)
    assert (again.new, again.changed, again.unchanged, again.failed) == (0, 0, 0, 0)
    assert again.not_modified == 4 and again.fetched == 4  # the four configured sources
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0] == pages


def two_free_ports() -> int:
    """A port P with P and P + 1 both free (the demo serves its two sites on them)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return int(port)
    raise RuntimeError("no two consecutive free ports")


def _inline(*args, **kwargs):  # type: ignore[no-untyped-def]
    from archiver.crawl import run_crawl

    return run_crawl(*args, **{**kwargs, "pool": inline_pool})
