"""The metadata layer: dates as pages write them, datelines, bylines, headlines."""

from __future__ import annotations

from datetime import date

import pytest
from selectolax.lexbor import LexborHTMLParser

from archiver.extract import extract_article
from archiver.extract.authors import clean_authors
from archiver.extract.dateline import collect_dates
from archiver.extract.dates import find_dates, machine_date
from archiver.extract.metadata import read_metadata

BODY = ("<p>The council approved the budget on Tuesday night after a long debate that ran past "
        "midnight, and members said the plan would take effect in June.</p>"
        "<p>Officials said the vote was seven to two, with two members absent, and that the "
        "budget keeps the library open on weekends for the first time since 2019.</p>")


def _page(head: str = "", header: str = "", body: str = BODY, before: str = "") -> str:
    return (f"<html><head><title>Budget approved | The Crier</title>{head}</head><body>"
            f"<header class='site-header'><h1 class='site-title'>The Crier</h1></header>{before}"
            f"<main><article><h1>Budget approved</h1>{header}{body}</article></main></body></html>")


def _extract(page: str, url: str = "https://crier.example/news/budget-approved"):
    return extract_article(page, url)


@pytest.mark.parametrize(("text", "days"), [
    ("Updated: 14. August 2025, 10:32", ["2025-08-14"]),
    ("August 19, 2025", ["2025-08-19"]),
    ("Dec 12, 2025", ["2025-12-12"]),
    ("December 15th 2025", ["2025-12-15"]),
    ("8 Oct 2022", ["2022-10-08"]),
    ("12.12.2025", ["2025-12-12"]),
    ("14 de agosto de 2025", ["2025-08-14"]),
    ("20 mars 2023", ["2023-03-20"]),
    ("2025年8月19日", ["2025-08-19"]),
    ("Last Updated: 2025-02-22", ["2025-02-22"]),
    ("Sept. 5, 2024 and 8/14/2025", ["2024-09-05", "2025-08-14"]),
    ("May 2025", []),  # no day
    ("version 1.2.3", []),
    ("31/02/2025", []),  # no such day
])
def test_find_dates_reads_the_ways_pages_write_a_day(text: str, days: list[str]) -> None:
    assert [d.day.isoformat() for d in find_dates(text)] == days


def test_find_dates_keeps_both_readings_of_an_ambiguous_numeric_date() -> None:
    [found] = find_dates("03/04/2025")
    assert found.day == date(2025, 3, 4) and found.other == date(2025, 4, 3)
    [found] = find_dates("25/04/2025")  # the day cannot be the month: one reading
    assert found.day == date(2025, 4, 25) and found.other is None


@pytest.mark.parametrize(("raw", "iso"), [
    ("2025-07-10T09:15:00+03:00", "2025-07-10T09:15:00+03:00"),
    ("2025-07-10T06:15:00Z", "2025-07-10T06:15:00+00:00"),
    ("2025-07-10", "2025-07-10"),
    ("2025-07-10 09:15:00+0300", "2025-07-10T09:15:00+03:00"),
    ("Thu, 10 Jul 2025 09:15:00 +0300", "2025-07-10T09:15:00+03:00"),
    ("not a date", None),
    ("", None),
    ("2025-07-10T09:15:00+0300", "2025-07-10T09:15:00+03:00"),
    ("2025-07-10T09:15:00.123Z", "2025-07-10T09:15:00+00:00"),
    ("20250710", "2025-07-10"),
    ("Tue, 10 Jul 2025 09:15:00 GMT", "2025-07-10T09:15:00+00:00"),
    ("July 10, 2025", "2025-07-10"),
    ("1700-01-01", None),
    ("2025-02-31", None),
])
def test_machine_dates(raw: str, iso: str | None) -> None:
    assert machine_date(raw) == iso


def test_the_dateline_beside_the_headline_beats_a_stale_meta_date() -> None:
    head = '<meta property="article:published_time" content="2019-01-01T08:00:00+00:00">'
    article = _extract(_page(head, "<p class='meta'>By Jane Roe · March 3, 2025</p>"))
    assert article.published_at == "2025-03-03"


def test_a_dateline_takes_time_and_offset_from_structured_data_of_the_same_moment() -> None:
    # The page shows its local day (the 2nd, in New York); the data says 01:30 UTC on the 3rd.
    head = '<meta property="article:published_time" content="2025-03-03T01:30:00+00:00">'
    article = _extract(_page(head, "<p>March 2, 2025</p>"))
    assert article.published_at == "2025-03-03T01:30:00+00:00"


def test_an_update_line_is_the_modification_date_and_the_stated_publication_date_stays() -> None:
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Budget '
            'approved", "datePublished": "2024-11-02T10:00:00-04:00"}</script>')
    article = _extract(_page(head, "<p>Updated March 3, 2025</p>"))
    assert article.published_at == "2024-11-02T10:00:00-04:00"
    assert article.modified_at == "2025-03-03"


def test_dates_from_json_ld_web_pages_time_elements_and_the_url() -> None:
    graph = ('<script type="application/ld+json">{"@graph": [{"@type": "WebPage", '
             '"datePublished": "2025-01-05T07:00:00+01:00", "dateModified": "2025-01-06"}]}'
             '</script>')
    article = _extract(_page(graph))
    assert (article.published_at, article.modified_at) == ("2025-01-05T07:00:00+01:00", "2025-01-06")
    article = _extract(_page(header='<time datetime="2025-02-01T09:00:00Z">Feb 1</time>'))
    assert article.published_at == "2025-02-01T09:00:00+00:00"
    article = _extract(_page(), "https://crier.example/2024/06/30/budget-approved/")
    assert article.published_at == "2024-06-30"


def test_a_date_after_the_page_last_changed_is_not_its_dateline() -> None:
    head = ('<meta property="article:published_time" content="2024-05-01T10:00:00+00:00">'
            '<meta property="article:modified_time" content="2024-05-02T10:00:00+00:00">')
    article = _extract(_page(head, before="<p>Offer ends December 31, 2030</p>"))
    assert article.published_at == "2024-05-01T10:00:00+00:00"



def test_of_several_datelines_the_one_the_data_confirms_else_the_nearest_dates_the_article() -> None:
    # Dates above the headline belong to other stories (a sidebar, a ticker).
    before = "".join(f"<p>Other story</p><p>December {d}, 2025</p>" for d in (16, 17))
    article = _extract(_page(header="<p>March 1, 2017</p>", before=before))
    assert article.published_at == "2017-03-01"
    head = '<meta property="article:published_time" content="2025-04-24T16:12:49+00:00">'
    article = _extract(_page(head, "<p>May 21, 2025</p><p>April 24, 2025</p>"))
    assert article.published_at == "2025-04-24T16:12:49+00:00"


def test_data_and_url_agreeing_outweigh_an_unlabelled_date_in_the_text() -> None:
    head = '<meta property="article:published_time" content="2021-01-18T19:55:00+01:00">'
    page = _page(head, "<p>Join us on August 9, 2021</p>")
    article = _extract(page, "https://crier.example/2021/01/18/budget-approved/")
    assert article.published_at == "2021-01-18T19:55:00+01:00"
    assert _extract(page).published_at == "2021-08-09"  # no date in the URL: the dateline wins


def test_a_date_in_the_url_written_in_words_dates_the_page_and_reads_an_ambiguous_dateline() -> None:
    url = "https://crier.example/blog/2023/october/03/budget-approved/"
    assert _extract(_page(), url).published_at == "2023-10-03"
    assert _extract(_page(header="<p>03/10/2023</p>"), url).published_at == "2023-10-03"
    assert _extract(_page(header="<p>03/10/2023</p>")).published_at == "2023-03-10"


def test_a_date_meta_tag_written_out_is_read_and_a_release_is_not_the_articles() -> None:
    article = _extract(_page('<meta name="published" content="July 17, 2025">'))
    assert article.published_at == "2025-07-17"
    article = _extract(_page(header="<p>by Amanda · Dec 20, 2025</p><p>A Far Better Thing. "
                                    "Released: June 17, 2025 by Tor Books</p>"))
    assert article.published_at == "2025-12-20"


def test_a_page_dated_only_by_its_last_update_is_dated_by_it() -> None:
    page = _page(body=BODY + "<p style='text-align:right'>Last updated: November 13, 2025</p>")
    tree = LexborHTMLParser(page)
    evidence = collect_dates(tree, None, read_metadata(tree, "https://crier.example/"),
                             "https://crier.example/", page)
    assert evidence.page_day == date(2025, 11, 13)  # before htmldate, the last resort
    assert _extract(page).published_at == "2025-11-13"


def test_a_labelled_dateline_beats_a_publication_date_told_in_running_text() -> None:
    note = ("<p>Editor's note: this guide was first published on June 21, 2017 and has been "
            "revised since by our staff to keep each of its recommendations current.</p>")
    footer = "<div class='post-footer'><span>Posted on April 13, 2023</span></div>"
    page = _page(body=BODY * 3 + note + footer)
    assert _extract(page).published_at == "2023-04-13"
    assert _extract(_page(body=BODY * 3 + note)).published_at == "2017-06-21"


def test_a_headline_in_any_element_anchors_the_dateline() -> None:
    page = ("<html><head><title>Blog: Advent of Code week 2</title><meta property='og:title' "
            "content='Advent of Code week 2'></head><body><h1>Blog</h1><h1>Day 7</h1><fieldset>"
            f"<legend>Advent of Code week 2</legend> 20 December 2025 {BODY}</fieldset>"
            "</body></html>")
    assert _extract(page).published_at == "2025-12-20"

@pytest.mark.parametrize(("header", "authors"), [
    (("<p class='byline'>By <a href='/people/jane-roe'>Jane Roe</a> and "
      "<a href='/people/john-poe'>John Poe</a></p>"), ("Jane Roe", "John Poe")),
    ("<div>Written by: Jane Roe</div><div>Reviewed by Dr. Max Moe</div>", ("Jane Roe",)),
    ("<div class='author-name'>Jane Roe</div><div class='author-role'>Senior Editor</div>",
     ("Jane Roe",)),
    ("<p>By</p><p>Jane Roe</p><p>March 3, 2025</p>", ("Jane Roe",)),
    # After "By" alone, a name joins the list only after a separator: not the section or
    # the photo credit that follow in the same line.
    ("<p>By</p><p>Jane Roe</p><p>Middle East</p><p>Illustrative photo</p>", ("Jane Roe",)),
    ("<p>By</p><p>Jane Roe</p><p>,</p><p>John Poe</p><p>Transport</p>", ("Jane Roe", "John Poe")),
])
def test_the_visible_byline_names_the_authors(header: str, authors: tuple[str, ...]) -> None:
    assert _extract(_page(header=header)).authors == authors


def test_a_byline_naming_everyone_the_meta_tag_names_and_more_is_the_fuller_list() -> None:
    meta = '<meta name="author" content="Marna van der Merwe">'
    byline = ("<div class='hero-author'>Written by <span>Dr Marna van der Merwe</span>, "
              "<span>Dr Dieter Veldsman</span>, <span>Erik van Vulpen</span></div>")
    assert _extract(_page(meta, byline)).authors == (
        "Dr Marna van der Merwe", "Dr Dieter Veldsman", "Erik van Vulpen")
    # A byline that leaves out someone the page declares, or names someone else, does not
    # replace what is declared.
    assert _extract(_page('<meta name="author" content="Max Moe">',
                          "<p>By Jane Roe and John Poe</p>")).authors == ("Max Moe",)
    declared = ('<meta name="author" content="Jane Roe">'
                '<meta name="author" content="John Poe">')
    assert _extract(_page(declared, "<p>By Jane Roe</p>")).authors == ("Jane Roe", "John Poe")


def test_a_writer_in_the_byline_beats_the_site_named_as_its_own_author() -> None:
    head = ('<meta property="og:site_name" content="Rapid7">'
            '<meta name="author" content="Rapid7">')
    assert _extract(_page(head, "<p class='byline'>By Spencer McIntyre</p>")).authors == (
        "Spencer McIntyre",)
    # The site's own name in the byline too ("By Rapid7 on Tuesday"): still the site.
    assert _extract(_page(head, "<p>By Rapid7 on Tuesday</p>")).authors == ("Rapid7",)


def test_every_citation_authors_tag_is_an_author() -> None:
    tags = "".join(f'<meta name="citation_authors" content="{name}">'
                   for name in ("Jennifer Huberty", "Jeni Green", "Chong Lee"))
    assert _extract(_page('<meta name="DC.Creator" content="Jennifer Huberty">' + tags)
                    ).authors == ("Jennifer Huberty", "Jeni Green", "Chong Lee")


def test_the_publication_named_beside_its_writers_is_not_an_author() -> None:
    head = '<meta property="og:site_name" content="The Crier">'
    article = _extract(_page(head, "<p>By Jane Roe and John Poe, The Crier</p>"))
    assert article.authors == ("Jane Roe", "John Poe")
    assert _extract(_page(head, "<p>By The Crier</p>")).authors == ("The Crier",)
    assert _extract(_page(head, "<p>By Tom Davies, Associated Press</p>")).authors == ("Tom Davies",)
    assert _extract(_page(head, "<p>By Reuters</p>")).authors == ("Reuters",)


def test_json_ld_people_come_before_the_byline_and_organisations_after_it() -> None:
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", "author": '
          '[{"@type": "Organization", "name": "The Crier"}]}</script>')
    assert _extract(_page(ld, "<p>By Jane Roe</p>")).authors == ("Jane Roe",)
    assert _extract(_page(ld)).authors == ("The Crier",)
    people = ld.replace('"Organization", "name": "The Crier"', '"Person", "name": "Max Moe"')
    assert _extract(_page(people, "<p>By Jane Roe</p>")).authors == ("Max Moe",)


@pytest.mark.parametrize(("raw", "names"), [
    (["Jane Roe, Senior Editor"], ("Jane Roe",)),
    (["Keith Barry Senior Autos Reporter"], ("Keith Barry",)),
    (["Roe, Jane"], ("Jane Roe",)),  # citation style
    (["Jane Roe on Tuesday"], ("Jane Roe",)),
    (["Staff Writer"], ()),
    (["Reviewed by"], ()),
    (["Name"], ()),
    (["{{ author }}"], ()),
    (["page.head.extra.author"], ()),
    (["jane@crier.example"], ()),
    (["Podium Staff"], ("Podium Staff",)),
    (["Jane Roe (Staff Reporter)"], ("Jane Roe",)),
    (["Ilana Muhlstein, MS, RDN"], ("Ilana Muhlstein",)),  # credentials are not names
    (["Michael Greger, M.D. FACLM"], ("Michael Greger",)),
    (["BBC, CNN"], ("BBC", "CNN")),
])
def test_author_names_are_cleaned(raw: list[str], names: tuple[str, ...]) -> None:
    assert clean_authors(raw) == names


def test_the_title_is_the_headline_not_the_site_logo_and_entities_are_decoded() -> None:
    article = _extract(_page('<meta property="og:title" content="Budget approved &#8211; '
                             'The Crier">'))
    assert article.title == "Budget approved"
    page = _page().replace("<h1>Budget approved</h1>", "")
    assert _extract(page).title == "Budget approved"  # <title>, the site's name cut off


def test_without_any_h1_an_h2_repeating_the_stated_title_is_the_headline() -> None:
    page = _page('<meta property="og:title" content="Budget approved after long debate">')
    page = page.replace("<h1>Budget approved</h1>", "<h2>Budget approved after long debate</h2>"
                        "<p class='byline'>By Jane Roe</p>")
    article = _extract(page)
    assert article.title == "Budget approved after long debate"
    assert article.authors == ("Jane Roe",)
