"""Extraction: every saved page against its expected record, and the layers one by one."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urljoin

import pytest

from archiver.encoding import decode_html
from archiver.errors import ExtractError
from archiver.extract import EXTRACTOR_VERSION, extract_article
from archiver.extract.authors import clean_authors

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
CASES = sorted(p for p in PAGES.glob("*.html") if p.with_suffix(".expected.json").exists())


def _resolve(base: str, value: str | None) -> str | None:
    return urljoin(base, value) if value else value


@pytest.mark.parametrize("base", ["https://news.example.org/2025/story/",
                                  "http://127.0.0.1:8765/some/where"])
@pytest.mark.parametrize("page", CASES, ids=[p.stem for p in CASES])
def test_page_matches_expected_record(page: Path, base: str) -> None:
    expected = json.loads(page.with_suffix(".expected.json").read_text(encoding="utf-8"))
    article = extract_article(page.read_bytes(), base)
    if "title" in expected:
        assert article.title == expected["title"]
    if "body" in expected:
        assert article.paragraphs == expected["body"]
        assert article.body == "\n\n".join(expected["body"])
    if "related" in expected:
        got = [(r.title, r.url, r.summary) for r in article.related]
        want = [(r["title"], _resolve(base, r["url"]), r.get("summary"))
                for r in expected["related"]]
        assert got == want
    if "canonical_url" in expected:
        assert article.canonical_url == _resolve(base, expected["canonical_url"])
    for key in ("published_at", "modified_at", "language", "site_name", "subtitle", "section"):
        if key in expected:
            assert getattr(article, key) == expected[key], key
    for key in ("authors", "tags"):
        if key in expected:
            assert list(getattr(article, key)) == expected[key], key
    assert article.extractor and article.extractor_version == EXTRACTOR_VERSION
    assert article.url == base


def test_seed_pages_are_in_the_corpus() -> None:
    names = {p.stem for p in CASES}
    assert {"seed-elementor", "seed-plain"} <= names


# --- encoding ---------------------------------------------------------------------------

def test_decode_prefers_bom_then_http_then_meta() -> None:
    text = "Café Straße"
    assert decode_html(b"\xef\xbb\xbf" + text.encode("utf-8"), "iso-8859-1") == text
    assert decode_html(text.encode("cp1252"), "windows-1252") == text
    page = b'<meta charset="windows-1252"><p>' + text.encode("cp1252") + b"</p>"
    assert text in decode_html(page)
    http_wins = b'<meta charset="utf-8"><p>' + "Ça".encode("iso-8859-15") + b"</p>"
    assert "Ça" in decode_html(http_wins, "iso-8859-15")


def test_decode_never_raises_and_ignores_unsafe_labels() -> None:
    assert decode_html(b"<p>+ADw-script+AD4-</p>", "utf-7") == "<p>+ADw-script+AD4-</p>"
    mixed = decode_html(b"<p>bad \xff\xfe\xfa bytes</p>", "utf-8")
    assert mixed.startswith("<p>bad ") and mixed.endswith(" bytes</p>")
    assert isinstance(decode_html(b"\x80\x81\x82\xff" * 50, "no-such-charset"), str)
    assert decode_html("already text") == "already text"


def test_decode_detects_undeclared_legacy_encoding() -> None:
    text = "Привет, как дела? Это длинный русский текст для определения кодировки." * 3
    assert decode_html(("<p>" + text + "</p>").encode("cp1251")) == "<p>" + text + "</p>"


def test_latin1_label_on_utf8_bytes_is_read_as_utf8() -> None:
    assert decode_html("naïve café".encode(), "iso-8859-1") == "naïve café"


# --- structured data --------------------------------------------------------------------

ARTICLE_TEXT = " ".join(["The council met on Tuesday to discuss the new budget."] * 12)
SECOND_TEXT = " ".join(["Members voted seven to two, and the plan takes effect in June."] * 9)
BODY = ARTICLE_TEXT + "\n\n" + SECOND_TEXT


def _page(head: str = "", body: str = "", lang: str = "en") -> str:
    return (f"<html lang='{lang}'><head>{head}</head><body><main><article>"
            f"<h1>Budget Approved</h1>{body}<p>{ARTICLE_TEXT}</p><p>{SECOND_TEXT}</p>"
            f"</article></main></body></html>")


def test_json_ld_graph_gives_metadata() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "@id": "/#site", "name": "Town Crier"},
            {"@type": "Person", "@id": "/#jane", "name": "Jane Roe"},
            {"@type": ["ReportageNewsArticle"], "headline": "Budget Approved",
             "author": [{"@id": "/#jane"}, {"@type": "Person", "name": "By John Poe"}],
             "datePublished": "2025-03-04T10:00:00Z", "dateModified": "2025-03-04 12:30:00+0100",
             "articleSection": ["Politics"], "keywords": "budget, council",
             "image": {"@type": "ImageObject", "url": "/img/budget.jpg"},
             "publisher": {"@id": "/#site"}},
        ],
    }
    head = f'<script type="application/ld+json">{json.dumps(graph)}</script>'
    article = extract_article(_page(head), "https://crier.example/politics/budget-approved")
    assert article.title == "Budget Approved"
    assert article.authors == ("Jane Roe", "John Poe")
    assert article.published_at == "2025-03-04T10:00:00+00:00"
    assert article.modified_at == "2025-03-04T12:30:00+01:00"
    assert article.section == "Politics"
    assert article.tags == ("budget", "council")
    assert article.image == "https://crier.example/img/budget.jpg"
    assert article.site_name == "Town Crier"
    assert article.language == "en"


def test_complete_json_ld_article_body_is_used_and_truncated_is_not() -> None:
    full = {"@type": "NewsArticle", "headline": "Budget Approved",
            "articleBody": BODY}
    head = f'<script type="application/ld+json">{json.dumps(full)}</script>'
    article = extract_article(_page(head), "https://crier.example/a/budget-approved")
    assert article.extractor == "json-ld"
    short = dict(full, articleBody=ARTICLE_TEXT[:200] + "...")
    head = f'<script type="application/ld+json">{json.dumps(short)}</script>'
    article = extract_article(_page(head), "https://crier.example/a/budget-approved")
    assert article.extractor == "generic"
    assert article.body == BODY


def test_broken_json_ld_is_ignored() -> None:
    head = '<script type="application/ld+json">{"@type": "NewsArticle", "headline": </script>'
    article = extract_article(_page(head), "https://crier.example/a/budget-approved")
    assert article.title == "Budget Approved"


def test_opengraph_and_canonical() -> None:
    head = ('<meta property="og:title" content="Budget Approved | Town Crier">'
            '<meta property="og:site_name" content="Town Crier">'
            '<meta property="article:published_time" content="2025-03-04T10:00:00-05:00">'
            '<meta property="article:tag" content="budget"><meta property="article:tag" '
            'content="council"><link rel="canonical" href="/politics/budget">')
    article = extract_article(_page(head, lang="en-GB"), "https://crier.example/amp/budget")
    assert article.title == "Budget Approved"
    assert article.canonical_url == "https://crier.example/politics/budget"
    assert article.published_at == "2025-03-04T10:00:00-05:00"
    assert article.tags == ("budget", "council")
    assert article.language == "en"


def test_title_not_in_body_and_headings_kept() -> None:
    page = _page(body="<h2>What comes next</h2>")
    article = extract_article(page, "https://crier.example/a/budget-approved")
    assert article.paragraphs[0] == "What comes next"
    assert "Budget Approved" not in article.body


# --- authors and dates ------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "names"), [
    (["By Jane Roe"], ("Jane Roe",)),
    (["By Jane Roe and John Poe"], ("Jane Roe", "John Poe")),
    (["Jane Roe, John Poe"], ("Jane Roe", "John Poe")),
    (["by Jane Roe | July 10, 2025"], ("Jane Roe",)),
    (["Jane Roe Updated 10:32 AM"], ("Jane Roe",)),
    (["https://www.facebook.com/janeroe"], ()),
    (["Jane Roe", "jane roe"], ("Jane Roe",)),
    (["Von Hans Meier"], ("Hans Meier",)),
])
def test_authors_cleanup(raw: list[str], names: tuple[str, ...]) -> None:
    assert clean_authors(raw) == names


# --- related links ----------------------------------------------------------------------

RELATED_PAGE = f"""<html><body>
<nav><ul><li><a href="/world/big-story-about-the-world-today">Big story about the world today</a></li>
<li><a href="/world/another-big-story-in-the-menu">Another big story in the menu</a></li></ul></nav>
<main><article><h1>Budget Approved</h1><p>{ARTICLE_TEXT}</p><p>{SECOND_TEXT}</p></article>
<section><h2>Read Next</h2>
<div class="card"><h3><a href="/politics/mayor-announces-new-plan">Mayor announces new plan</a></h3>
<p class="dek">The mayor set out a plan for the next four years.</p></div>
<div class="card"><h3><a href="/politics/council-elections-set-for-may">Council elections set for May</a></h3>
<p class="dek">Voters will elect nine councillors.</p></div>
</section></main>
<footer><ul><li><a href="/about/our-team-of-reporters">Our team of reporters</a></li>
<li><a href="/news/archive-of-older-stories">Archive of older stories</a></li></ul></footer>
</body></html>"""


def test_related_block_is_read_as_records_without_nav_or_footer() -> None:
    article = extract_article(RELATED_PAGE, "https://crier.example/politics/budget-approved")
    assert [(r.title, r.url, r.summary) for r in article.related] == [
        ("Mayor announces new plan", "https://crier.example/politics/mayor-announces-new-plan",
         "The mayor set out a plan for the next four years."),
        ("Council elections set for May",
         "https://crier.example/politics/council-elections-set-for-may",
         "Voters will elect nine councillors."),
    ]
    assert "Mayor announces" not in article.body
    assert "Read Next" not in article.body


SEED_PLAIN = PAGES / "seed-plain.html"
# The seed page's related cards written with less and less markup: no card wrapper, the summary
# as bare text beside the link, the cards loose in the article after their heading.
CLASS_POOR_CARDS = {
    "heading-and-paragraph": ('<div>{}</div>', '<h4><a href="{u}">{t}</a></h4>\n<p>{s}</p>'),
    "list-item-with-line-break": ('<ul>{}</ul>', '<li><a href="{u}">{t}</a><br>{s}</li>'),
    "link-then-text": ('<div>{}</div>', '<div><a href="{u}">{t}</a> {s}</div>'),
    "links-and-text-in-one-block": ('<div>{}</div>', '<a href="{u}">{t}</a><br>{s}<br>'),
    "loose-in-the-article": ('{}', '<h4><a href="{u}">{t}</a></h4>\n<p>{s}</p>'),
    "loose-paragraphs": ('{}', '<p><a href="{u}">{t}</a></p>\n<p>{s}</p>'),
}


@pytest.mark.parametrize("variant", sorted(CLASS_POOR_CARDS))
def test_class_poor_seed_variants_keep_their_related_summaries(variant: str) -> None:
    expected = json.loads(SEED_PLAIN.with_suffix(".expected.json").read_text(encoding="utf-8"))
    html = SEED_PLAIN.read_text(encoding="utf-8")
    start, end = html.index("<h3>Related Articles</h3>"), html.index("<p>No More Articles</p>")
    wrap, card = CLASS_POOR_CARDS[variant]
    cards = "\n".join(card.format(u=r["url"], t=r["title"], s=r["summary"])
                      for r in expected["related"])
    page = html[:start] + "<h3>Related Articles</h3>\n" + wrap.format(cards) + "\n" + html[end:]
    base = "https://levantdispatch.example/2025/07/taliban/"
    article = extract_article(page, base)
    assert [(r.title, r.url, r.summary) for r in article.related] == [
        (r["title"], urljoin(base, r["url"]), r["summary"]) for r in expected["related"]]
    assert article.paragraphs == expected["body"]


def test_no_related_block_means_no_related_links() -> None:
    article = extract_article(_page(), "https://crier.example/a/budget-approved")
    assert article.related == ()


# --- chrome -----------------------------------------------------------------------------

def test_chrome_phrases_and_markup_are_removed() -> None:
    body = ("<p><a href='/wp-admin/post.php?post=1'>Edit Content</a></p>"
            "<p>By Jane Roe | March 4, 2025</p>"
            "<div class='social-share'><a href='https://facebook.com/sharer.php?u=x'>Facebook</a></div>"
            "<p>Advertisement</p><p>Share this story</p>"
            "<div class='newsletter-signup'><p>Get the best stories in your inbox.</p></div>"
            "<p>Subscribe to our newsletter for daily updates.</p>")
    article = extract_article(_page(body=body), "https://crier.example/a/budget-approved")
    assert article.body == BODY


# --- failures ---------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"   ", "<html><head></head><body></body></html>",
                                     ("<html><body><nav><a href='/a'>Home</a> <a href='/b'>About"
                                     "</a></nav><footer>© 2025</footer></body></html>")])
def test_non_article_pages_raise(content: bytes | str) -> None:
    with pytest.raises(ExtractError) as info:
        extract_article(content, "https://crier.example/")
    assert "https://crier.example/" in str(info.value)


def test_absurdly_deep_page_is_an_extract_error_not_a_crash() -> None:
    page = "<html><body>" + "<div>" * 5000 + "<p>deep text</p>" + "</div>" * 5000 + "</body></html>"
    with pytest.raises(ExtractError, match="nest"):
        extract_article(page, "https://crier.example/deep")
