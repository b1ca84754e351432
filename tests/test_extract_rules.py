"""The general body rules, each on a small hand-written page: split bodies, teaser lists,
inline hover cards, related headings, and trimming edges that no second candidate supports."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from archiver.extract import extract_article
from archiver.extract.chrome import find_popups, is_teaser_list
from archiver.extract.split import join_split_body

URL = "https://news.example.org/2025/07/story"
PROSE = ("The council met on Tuesday evening to vote on the harbour plan, which has divided "
         "the town for a year, and the result surprised almost everyone in the room.")


def _page(body: str, title: str = "Harbour plan passes after long night") -> str:
    return (f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f"{body}</body></html>")


def _paras(n: int, tag: str = "Chunk") -> str:
    return "".join(f"<p>{tag} paragraph {i}: {PROSE}</p>" for i in range(n))


def test_split_body_chunks_are_joined_in_order() -> None:
    html = _page(
        '<article><div class="wrap"><div class="body rich">' + _paras(3, "First") + "</div>"
        '<aside class="rail">Advertisement</aside></div>'
        '<div class="wrap"><div class="body rich">' + _paras(6, "Second") + "</div></div>"
        "</article>"
    )
    body = extract_article(html, URL).body
    assert "First paragraph 0" in body and "Second paragraph 5" in body
    assert body.index("First paragraph 2") < body.index("Second paragraph 0")


def test_split_body_with_utility_class_tokens_is_joined() -> None:
    # Class tokens from utility CSS frameworks are not valid in a CSS selector; the chunks
    # are still found (and nothing raises) whatever punctuation the tokens hold.
    punctuation = "".join(c for c in map(chr, range(33, 127)) if not c.isalnum())
    classes = f'body md:mr-[25%] u-mt@s !hidden x{punctuation.replace(chr(39), "")}'
    html = _page(
        f"<article><div class='wrap'><div class='{classes}'>" + _paras(3, "First") + "</div>"
        "<aside class='rail'>Advertisement</aside></div>"
        f"<div class='wrap'><div class='{classes}'>" + _paras(6, "Second") + "</div></div>"
        "</article>"
    )
    body = extract_article(html, URL).body
    assert "First paragraph 0" in body and "Second paragraph 5" in body


def test_split_join_keeps_appended_articles_apart() -> None:
    tree = LexborHTMLParser(
        "<main><article><h1>One</h1><div class='body'>" + _paras(4) + "</div></article>"
        "<article><h1>Two</h1><div class='body'>" + _paras(2) + "</div></article></main>"
    )
    main = tree.css_first("article div.body")
    joined = join_split_body(tree, main)
    assert joined is main
    assert len(tree.css("div.body")) == 2


def test_split_join_needs_like_wrappers() -> None:
    tree = LexborHTMLParser(
        "<div class='intro'><div class='text'>" + _paras(1, "Quote") + "</div></div>"
        "<div class='story'><div class='text'>" + _paras(5) + "</div></div>"
    )
    main = tree.css_first("div.story div.text")
    assert join_split_body(tree, main) is main
    assert "Quote" not in main.text()


def test_teaser_list_is_chrome_but_a_prose_list_is_not() -> None:
    teasers = LexborHTMLParser(
        "<ul>" + "".join(
            f"<li><a href='/s/{i}'><img src='x.jpg'></a><h3><a href='/s/{i}'>Headline {i}</a>"
            f"</h3><h4>A one-line summary {i}</h4></li>" for i in range(4)) + "</ul>"
    ).css_first("ul")
    prose = LexborHTMLParser(
        "<ul><li>Bring water and <a href='/a'>a map</a>.</li><li>Check the tide.</li>"
        "<li>Tell someone <a href='/b'>your route</a>.</li></ul>"
    ).css_first("ul")
    assert is_teaser_list(teasers)
    assert not is_teaser_list(prose)


def test_teaser_list_inside_the_body_is_removed() -> None:
    cards = "".join(
        f"<li><h3><a href='/2025/07/other-{i}'>Other story {i}</a></h3>"
        f"<p>What happened next in story {i}</p></li>" for i in range(4))
    html = _page('<div class="story">' + _paras(5) + f"<ul>{cards}</ul></div>")
    body = extract_article(html, URL).body
    assert "Chunk paragraph 4" in body
    assert "Other story" not in body and "What happened next" not in body


def test_hover_card_is_removed_but_its_trigger_link_stays() -> None:
    html = _page(
        '<div class="story"><p>The bill was sponsored by Rep. <span class="person">'
        '<a href="/people/jane-doe">Jane Doe</a><span class="card"><a href="/people/jane-doe">'
        'Jane Doe</a><a href="/news/1">Doe backs the harbour plan</a> <a href="/news/2">'
        'Doe questions the budget</a></span></span>, who spoke for an hour.</p>'
        + _paras(4) + "</div>"
    )
    body = extract_article(html, URL).body
    assert "sponsored by Rep. Jane Doe, who spoke for an hour." in body
    assert "backs the harbour plan" not in body and "questions the budget" not in body


def test_links_with_words_between_are_not_a_hover_card() -> None:
    tree = LexborHTMLParser(
        "<p>They sailed to <span><a href='/a'>France</a>, then on to <a href='/b'>Italy</a> "
        "and finally <a href='/c'>Spain</a></span> before the storm.</p>"
    )
    assert find_popups(tree) == []


def test_related_heading_with_two_words_between_is_found() -> None:
    items = "".join(f"<li><a href='/2025/07/more-{i}'>Further story number {i}</a></li>"
                    for i in range(3))
    html = _page('<div class="story">' + _paras(5)
                 + f"<div>More Great Harbour Stories</div><ul>{items}</ul></div>")
    article = extract_article(html, URL)
    assert "Further story" not in article.body
    assert [r.title for r in article.related][:1] == ["Further story number 0"]


def test_related_label_line_is_removed_whole() -> None:
    html = _page('<div class="story">' + _paras(3) + "<p><strong>Related: </strong>"
                 "<a href='/2025/07/other-story'>Seven other harbour towns</a></p>"
                 + _paras(3, "Later") + "</div>")
    body = extract_article(html, URL).body
    assert "Seven other harbour towns" not in body
    assert "Later paragraph 2" in body


def test_join_moves_later_chunks_into_the_first() -> None:
    tree = LexborHTMLParser(
        "<article><div class='g'><div class='body rich'>" + _paras(2, "First") + "</div></div>"
        "<div class='g'><div class='body rich'>" + _paras(4, "Second") + "</div></div></article>"
    )
    main = tree.css("div.body")[1]  # the scorer picked the longer, second chunk
    joined = join_split_body(tree, main)
    assert joined is not None and len(tree.css("div.body")) == 1
    text = joined.text()
    assert text.index("First paragraph 1") < text.index("Second paragraph 0")
    assert "Second paragraph 3" in text


def test_related_label_found_earlier_still_dooms_its_whole_line() -> None:
    from archiver.extract.chrome import strip_chrome

    tree = LexborHTMLParser("<div class='story'>" + _paras(3) + "<p><strong>Related: </strong>"
                            "<a href='/x'>Seven other harbour towns</a></p></div>")
    main = tree.css_first("div.story")
    label = tree.css_first("strong")
    strip_chrome(tree, main, also=[label])
    assert "Seven other harbour towns" not in (tree.html or "")
    assert "Chunk paragraph 2" in (tree.html or "")
