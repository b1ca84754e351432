"""What `archiver serve` shows beyond Datasette's defaults, in process on a real archive: the
captured page (inert), canned queries that lead to archived articles, default grid columns,
dates in words in the stated offset, and corrections in an article's history.
(`test_browser.py` drives the same in real Chromium.)"""

from __future__ import annotations

import gzip
import re
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path
import pytest

from archiver import store
from archiver.datasette.captured import FRAME_POLICY, clean_page
from archiver.datasette.columns import DEFAULT_COLUMNS
from archiver.datasette.display import human_date
from archiver.datasette.history import article_history
from archiver.models import Article, FetchFailure, FetchResult, RelatedLink
from archiver.serve import make_datasette
from support.servearchive import captured, response, store_article

PLANTED = """<!DOCTYPE html><html><head><meta charset="utf-8">
<base href="https://evil.example/">
<meta http-equiv="refresh" content="0; url=https://evil.example/away">
<link rel="stylesheet" href="https://evil.example/style.css"><link rel="dns-prefetch" href="//evil.example">
<script>document.title = "ran"; fetch("https://evil.example/beacon");</script>
<script src="https://evil.example/app.js"></script>
<style>body { font-family: serif }</style>
</head><body onload="document.body.dataset.ran = 1">
<h1 id="headline">Tokyo harbour reopens</h1>
<p onclick="alert(1)">The harbour reopened on Monday.</p>
<img src="https://evil.example/pixel.gif" srcset="https://evil.example/a.jpg 2x" alt="pixel">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="inline">
<a href="javascript:alert(2)">js link</a> <a href="https://evil.example/next" ping="https://evil.example/ping">next</a>
<iframe src="https://evil.example/frame"></iframe><object data="https://evil.example/o.swf"></object>
<form action="https://evil.example/post"><input name="q"><button formaction="https://evil.example/b">Go</button></form>
<svg><script>alert(3)</script><image href="https://evil.example/svg.png"/></svg>
</body></html>"""

TOKYO = Article(
    url="https://tokyo.example/harbour", title="Tokyo harbour reopens",
    body="The harbour reopened on Monday.\n\nShips returned.", authors=("Aiko Sato",),
    published_at="2025-09-01T09:00:00+09:00",  # 00:00 UTC
    related=(RelatedLink("New York port", "https://ny.example/port", None),
             RelatedLink("Elsewhere", "https://elsewhere.example/x", None)),
    extractor="generic", extractor_version="1",
)
NEW_YORK = Article(
    url="https://ny.example/port", title="New York port expands",
    body="The port expanded.", authors=("Sam Lee",),
    published_at="2025-08-31T21:00:00-04:00",  # 01:00 UTC on 1 Sep: newer than Tokyo's
    extractor="generic", extractor_version="1",
)


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("views") / "news.db"
    db = store.Archive(path)
    store_article(db, TOKYO, "2026-01-01T10:00:00Z", body=PLANTED.encode())  # page 1
    store_article(db, NEW_YORK, "2026-01-01T10:01:00Z")  # page 2
    # a correction of the byline and the related links only, then a new text
    corrected = replace(TOKYO, authors=("Aiko Sato", "Ken Mori"), related=TOKYO.related[:1])
    store_article(db, corrected, "2026-01-02T10:00:00Z")  # page 3
    store_article(db, replace(corrected, body=TOKYO.body + "\n\nTrade resumed."), "2026-01-03T10:00:00Z")  # page 4
    # the New York page is gone from the live site: a failed revisit of an archived article
    db.store_result(FetchResult(NEW_YORK.url, "2026-01-04T00:00:00Z", 0.1,
                                failure=FetchFailure(NEW_YORK.url, "http-status", "HTTP 404", 404)))
    pdf = captured("https://tokyo.example/report.pdf", "2026-01-04T01:00:00Z", b"%PDF-1.4 ...", "application/pdf")
    db.store_result(FetchResult(pdf.url, pdf.fetched_at, 0.1, fetched=pdf,
                                failure=FetchFailure(pdf.url, "not-html", "not an HTML page")))  # page 5
    # a page stored before zstd: gzip, as old archives hold them
    db.execute("INSERT INTO pages (url, final_url, status, content_type, body, body_codec, body_size, sha256, "
               "fetched_at) VALUES ('https://old.example/', 'https://old.example/', 200, 'text/html', ?, "
               "'gzip', 30, 'x', '2024-01-01T00:00:00Z')",  # page 6
               [gzip.compress(b"<p>stored <b>before</b> zstd</p>")])
    db.conn.commit()
    db.close()
    return path


@pytest.fixture(scope="module")
def ds(archive_path: Path):  # type: ignore[no-untyped-def]
    return make_datasette(archive_path)


def columns_of(html: str) -> list[str]:
    return re.findall(r'<th [^>]*data-column="([^"]+)"', html)


# --- the captured page ----------------------------------------------------------------------------


def test_the_frame_serves_the_stored_page_cleaned_under_a_strict_policy(ds):
    frame = response(ds, "/archive/-/captured/1/frame")
    assert frame.headers["content-security-policy"] == FRAME_POLICY
    assert "default-src 'none'" in FRAME_POLICY and FRAME_POLICY.endswith("sandbox")
    assert frame.headers["content-type"] == "text/html; charset=utf-8"
    html = frame.text
    assert "Tokyo harbour reopens" in html and "The harbour reopened on Monday." in html
    for gone in ("<script", "<base", "http-equiv", "<link", "<iframe", "<object", " onload=", " onclick=",
                 ' src="https:', ' href="', " srcset=", " action=", " formaction=", " ping="):
        assert gone not in html, gone
    assert 'data-archived-src="https://evil.example/pixel.gif"' in html  # kept, inert
    assert 'data-archived-href="https://evil.example/next"' in html
    assert 'src="data:image/gif;base64,R0lGODlhAQABAAAAACw="' in html  # an inline image loads nothing


def test_the_captured_page_frames_it_sandboxed_and_links_the_source(ds):
    html = response(ds, "/archive/-/captured/1").text
    assert re.search(r'<iframe [^>]*sandbox=""[^>]*src="/archive/-/captured/1/frame"', html)
    assert 'href="/archive/-/captured/1/source"' in html and 'href="/archive/articles/1"' in html
    assert "1 Jan 2026, 10:00 UTC" in html
    source = response(ds, "/archive/-/captured/1/source").text
    assert "&lt;script&gt;document.title = &#34;ran&#34;" in source  # the page's HTML, as text
    assert "<script>document.title" not in source


def test_every_stored_page_is_viewable_and_unknown_ones_are_404(ds):
    assert "stored &lt;b&gt;before&lt;/b&gt; zstd" in response(ds, "/archive/-/captured/6/source").text  # gzip
    assert "<b>before</b>" in response(ds, "/archive/-/captured/6/frame").text
    pdf = response(ds, "/archive/-/captured/5").text
    assert "application/pdf, not an HTML page" in pdf and "<iframe" not in pdf
    response(ds, "/archive/-/captured/5/frame", 404)
    for path in ("/archive/-/captured/99", "/archive/-/captured/99/frame", "/archive/-/captured/99/source"):
        response(ds, path, 404)


def test_each_version_and_the_article_link_their_captured_page(ds):
    article = response(ds, "/archive/articles/1").text
    assert 'href="/archive/-/captured/4" class="archiver-captured-link"' in article  # as it stands
    for page_id in (1, 3, 4):  # version 1, the correction, version 2
        assert f'<a href="/archive/-/captured/{page_id}">captured page</a>' in article
    pages = response(ds, "/archive/pages").text
    assert '<a href="/archive/-/captured/1">https://tokyo.example/harbour</a>' in pages


@pytest.mark.parametrize("variant", [
    '<a href=" JaVaScRiPt:alert(1)">x</a>',
    "<img src=x onerror=alert(1)>",
    '<svg onload="alert(1)"><a xlink:href="javascript:alert(1)">x</a></svg>',
    '<meta http-equiv="Refresh" content="0;url=https://evil.example/">',
    '<object data="https://evil.example/x"></object><embed src="https://evil.example/y">',
    '<video poster="https://evil.example/p.jpg"><source src="https://evil.example/v.mp4"></video>',
    '<table background="https://evil.example/bg.png"><tr><td>x</td></tr></table>',
    "<noscript><img src=https://evil.example/n.gif></noscript>",
])
def test_clean_page_leaves_nothing_that_runs_or_loads(variant):
    cleaned = clean_page(f"<html><body><p>kept</p>{variant}</body></html>")
    assert "kept" in cleaned
    assert not re.search(r"\s(on\w+|src|href|xlink:href|poster|background|data|http-equiv)=", cleaned), cleaned


def test_clean_page_leaves_no_style_that_loads():
    cleaned = clean_page("""<html><head><style>@import url("https://evil.example/a.css");
@import 'https://evil.example/b.css' screen;
body { background: url( 'https://evil.example/bg.png' ) no-repeat; color: #333 }
.hero { background-image: -webkit-image-set("https://evil.example/1.png" 1x, url(https://evil.example/2.png) 2x) }
.dot { background: url(data:image/gif;base64,R0lGODlhAQABAAAAACw=) }</style></head>
<body><p style="background-image: URL(https://evil.example/inline.png); margin: 0">kept</p></body></html>""")
    assert "evil.example" not in cleaned and "@import" not in cleaned
    assert "body { background: none no-repeat; color: #333 }" in cleaned  # the rest of a rule stays
    assert 'style="background-image: none; margin: 0"' in cleaned
    assert "url(data:image/gif;base64,R0lGODlhAQABAAAAACw=)" in cleaned  # inline: loads nothing


# --- canned queries -----------------------------------------------------------------------------


def test_canned_queries_lead_to_archived_articles_and_have_human_titles(ds):
    titles = {
        "latest_articles": "Latest articles", "changed_articles": "Articles changed since first seen",
        "related_graph": "Related-link graph", "failures_by_host": "Failures by host",
        "extraction_health": "Extraction health by site",
    }
    for name, title in titles.items():
        html = response(ds, f"/archive/{name}").text
        assert re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip() == f"{title} · archive", name
    latest = response(ds, "/archive/latest_articles").text
    assert '<a href="/archive/articles/1">Tokyo harbour reopens</a>' in latest
    assert '<a href="/archive/articles/2">New York port expands</a>' in latest
    changed = response(ds, "/archive/changed_articles").text
    assert changed.count('<a href="/archive/articles/1">Tokyo harbour reopens</a>') == 2  # text, correction
    assert '<a href="/archive/article_versions/3">2</a>' in changed  # version 2 opens its page
    assert "authors, related" in changed  # a correction: its values in words
    for line in ("diff-del\">-authors: Aiko Sato<", "diff-add\">+authors: Aiko Sato, Ken Mori<",
                 "diff-del\">-related: 2 links<", "diff-add\">+related: 1 link<"):
        assert line in changed, line
    graph = response(ds, "/archive/related_graph").text
    assert '<a href="/archive/articles/2">New York port</a>' in graph  # the link's archived target
    failures = response(ds, "/archive/failures_by_host").text
    assert '<a href="/archive/articles/2">https://ny.example/port</a>' in failures  # gone live, kept here
    health = response(ds, "/archive/extraction_health").text
    assert '<a href="/archive/articles?site=tokyo.example">tokyo.example</a>' in health


# --- grids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["articles", "article_versions", "article_changes", "pages", "fetches",
                                   "related_links"])
def test_grids_show_their_usual_columns_and_all_of_them_one_click_away(ds, table):
    view = "_view=table&" if table == "articles" else ""
    html = response(ds, f"/archive/{table}?{view}").text
    api = response(ds, f"/archive/{table}.json").json()["columns"]
    usual = [name for name in DEFAULT_COLUMNS[table] if name in api]
    assert columns_of(html) == ["id", *usual], table
    every = re.search(r'<a href="([^"]+)">show all columns</a>', html).group(1).replace("&amp;", "&")
    everything = columns_of(response(ds, every).text)
    assert everything == api and len(api) > len(usual) + 1  # the API: every column
    # Datasette's own "Show all columns" drops _col and _nocol: every column too
    assert columns_of(response(ds, f"/archive/{table}?{view}_columns=default").text) == api


def test_the_utc_sort_key_shows_in_the_grid_as_a_date(archive_path, tmp_path):
    # published_utc as the UTC-dates migration (archive_0005_utc_dates, issue 13) fills it
    path = tmp_path / "utc.db"
    shutil.copy(archive_path, path)
    with sqlite3.connect(path) as conn:
        if "published_utc" not in {row[1] for row in conn.execute("PRAGMA table_info(articles)")}:
            conn.execute("ALTER TABLE articles ADD COLUMN published_utc TEXT")
        conn.execute("UPDATE articles SET published_utc = strftime('%Y-%m-%dT%H:%M:%SZ', published_at)")
    html = response(make_datasette(path), "/archive/articles?_view=table&_sort_desc=published_utc").text
    assert columns_of(html) == ["id", *DEFAULT_COLUMNS["articles"]]
    # New York's 21:00 UTC-4 is after Tokyo's 09:00 UTC+9, and reads as the UTC time it is
    assert html.index("New York port expands") < html.index("Tokyo harbour reopens")
    assert '<time datetime="2025-09-01T01:00:00Z" title="2025-09-01T01:00:00Z">1 Sep 2025, 01:00 UTC</time>' in html


def test_a_sort_keeps_the_usual_columns(ds):
    html = response(ds, "/archive/fetches").text
    sort = re.search(r'<a href="([^"]+)" rel="nofollow">outcome</a>', html).group(1).replace("&amp;", "&")
    assert columns_of(response(ds, sort).text) == ["id", *DEFAULT_COLUMNS["fetches"]]


# --- dates and history ------------------------------------------------------------------------------


def test_human_dates_keep_the_stated_offset():
    assert human_date("2025-03-03T14:05:00+01:00") == "3 Mar 2025, 14:05 UTC+1"
    assert human_date("2025-09-01T09:00:00+09:00") == "1 Sep 2025, 09:00 UTC+9"
    assert human_date("2025-08-31T21:00:00-04:00") == "31 Aug 2025, 21:00 UTC-4"
    assert human_date("2025-01-01T00:00:00+05:30") == "1 Jan 2025, 00:00 UTC+5:30"
    assert human_date("2026-01-01T10:00:00Z") == "1 Jan 2026, 10:00 UTC"
    assert human_date("2025-07-10T09:15:00") == "10 Jul 2025, 09:15"  # no offset stated
    assert human_date("2025-07-10") == "10 Jul 2025"
    for not_a_date in ("yesterday", "", None, "2025-13-45"):
        assert human_date(not_a_date) is None


def test_pages_show_dates_in_words(ds):
    article = response(ds, "/archive/articles/1").text
    assert '<time datetime="2025-09-01T09:00:00+09:00" title="2025-09-01T09:00:00+09:00">1 Sep 2025, 09:00 UTC+9</time>' in article
    listing = response(ds, "/archive/articles").text
    assert "31 Aug 2025, 21:00 UTC-4" in listing and "1 Sep 2025, 09:00 UTC+9" in listing
    version = response(ds, "/archive/article_versions/3").text
    assert "3 Jan 2026, 10:00 UTC" in version


def test_a_correction_shows_in_the_article_history(ds):
    html = response(ds, "/archive/articles/1").text
    history = html[html.index('id="versions"'):]
    entries = re.findall(r'<li class="archiver-(version|changes)">', history)
    assert entries == ["version", "changes", "version"]  # newest first
    correction = " ".join(history[history.index('<li class="archiver-changes">'):].split())
    assert "Corrected, <time" in correction and "2 Jan 2026, 10:00 UTC" in correction
    assert ('<strong>authors</strong>: <span class="old">Aiko Sato</span> → '
            '<span class="new">Aiko Sato, Ken Mori</span>') in correction
    assert "2 links → 1 link;" in correction and "removed “Elsewhere”" in correction
    assert "2 versions, 1 correction" in html


def test_a_correction_in_the_same_second_as_its_version_is_an_entry_of_its_own():
    # times are stored to the second: a page fetched and corrected within one second, and a
    # new version stored from one page with the field changes of that same store
    versions = [
        {"id": 10, "version": 1, "title": "T", "created_at": "2026-01-01T10:00:00Z", "page_id": 1, "diff": None},
        {"id": 11, "version": 2, "title": "T", "created_at": "2026-01-01T10:00:05Z", "page_id": 3,
         "diff": "--- 1\n+++ 2\n@@ -1 +1 @@\n-a\n+b"},
    ]
    change = {"version": 1, "old_value": '["A"]', "new_value": '["A", "B"]', "cause": "fetch", "field": "authors"}
    changes = [
        {**change, "page_id": 2, "changed_at": "2026-01-01T10:00:00Z"},
        {**change, "field": "section", "old_value": "x", "new_value": "y", "version": 2, "page_id": 3,
         "changed_at": "2026-01-01T10:00:05Z"},
    ]
    history = article_history(versions, changes, version_href=str, page_href=str)
    assert [(entry["kind"], entry["version"]) for entry in history] == [("version", 2), ("changes", 1), ("version", 1)]
    assert [change["field"] for change in history[0]["changes"]] == ["section"]
    assert [change["new"] for change in history[1]["changes"]] == ["A, B"]
    assert history[2]["changes"] == []
