"""`archiver serve` in real headless Chromium, on an archive built by the real fetch path.

The archive holds two fixture articles (one fetched again after an edit, so it has two versions)
and a page whose scraped title, author and body carry HTML that would run if it were not escaped.
Chromium is Debian's (`scripts/test` installs it); Playwright drives it and never downloads one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
HOSTILE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
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
</article></body></html>
"""

SEED_EDIT = ("The planned meeting comes amid", "The long-planned meeting comes amid")
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
        db.close()
    yield db_path, urls


@pytest.fixture(scope="module")
def served(archive: tuple[Path, dict[str, str]]) -> Iterator[str]:
    """`archiver serve --port 0` in a subprocess; yields its base URL."""
    db_path, _ = archive
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver", "serve", "--db", str(db_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "serving ... read-only at http://127.0.0.1:PORT/ ..."
        if "http://" not in line:
            proc.kill()
            pytest.fail(f"archiver serve did not start: {line}{proc.communicate(timeout=10)[1]}")
        yield line.split(" at ", 1)[1].split()[0].rstrip("/")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
    """A fresh page that records every dialog (alert, confirm, prompt) and dismisses it."""
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.dialogs = []

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
