"""URL normalisation and the article-URL heuristics (pure functions)."""

from __future__ import annotations

import pytest

from archiver.errors import InvalidURL
from archiver.urls import host_key, is_article_url, looks_like_article, normalize_url, origin


@pytest.mark.parametrize(
    "raw, want",
    [
        ("HTTP://News.Example.COM/a", "http://news.example.com/a"),
        ("https://news.example:443/a", "https://news.example/a"),
        ("http://news.example:80/a", "http://news.example/a"),
        ("http://news.example:8080/a", "http://news.example:8080/a"),
        ("https://news.example", "https://news.example/"),
        ("https://news.example./a", "https://news.example/a"),
        ("https://news.example/a#comments", "https://news.example/a"),
        ("https://news.example/a/b/../c/./d", "https://news.example/a/c/d"),
        ("https://news.example/%7euser/caf%c3%a9", "https://news.example/~user/caf%C3%A9"),
        ("https://news.example/a?utm_source=x&utm_medium=y&id=7", "https://news.example/a?id=7"),
        ("https://news.example/a?fbclid=1&gclid=2&page=2&UTM_Campaign=z", "https://news.example/a?page=2"),
        ("https://news.example/a?b=2&a=1&mc_cid=9", "https://news.example/a?b=2&a=1"),  # order kept
        ("https://news.example/a?q=caf%c3%a9+x", "https://news.example/a?q=caf%C3%A9+x"),
        ("https://bücher.example/a", "https://xn--bcher-kva.example/a"),
        ("  https://news.example/a  ", "https://news.example/a"),
    ],
)
def test_normalize(raw, want):
    assert normalize_url(raw) == want
    assert normalize_url(want) == want  # idempotent


def test_relative_urls_resolve_against_a_base():
    assert normalize_url("../b?utm_term=x#f", "https://news.example/x/y/") == "https://news.example/x/b"


@pytest.mark.parametrize("bad", ["ftp://news.example/a", "mailto:a@b.example", "https://", "http://[::1/a", "/relative"])
def test_invalid_urls_raise(bad):
    with pytest.raises(InvalidURL):
        normalize_url(bad)


def test_host_key_and_origin():
    assert host_key("https://News.example:443/a") == "news.example"
    assert host_key("http://127.0.0.1:8765/a") == "127.0.0.1:8765"
    assert origin("http://127.0.0.1:8765/a/b") == "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    "url, article",
    [
        ("https://n.example/2025/07/taliban-foreign-minister-tehran-visit/", True),
        ("https://n.example/news/world-middle-east-68731512", True),
        ("https://n.example/politics/council-approves-funding-for-new-bus-depot", True),
        ("https://n.example/2025/07/10/", False),
        ("https://n.example/category/middle-east/", False),
        ("https://n.example/tag/axis-of-resistance-and-friends/", False),
        ("https://n.example/author/daniel-katz/", False),
        ("https://n.example/page/2/", False),
        ("https://n.example/", False),
        ("https://n.example/wp-content/uploads/2025/07/big-photo-of-the-harbour.jpg", False),
        ("https://n.example/about/", False),
    ],
)
def test_looks_like_article(url, article):
    assert looks_like_article(url) is article


def test_site_patterns_override_the_heuristic():
    assert is_article_url("https://n.example/p/123", [r"/p/\d+$"])
    assert not is_article_url("https://n.example/2025/07/a-long-article-slug-here/", [r"/p/\d+$"])
    assert not is_article_url("https://n.example/2025/07/live-blog-of-the-day/", [], [r"/live-"])


def test_host_rules_are_one_set_of_functions():
    from archiver.urls import group_by_host, host_of, matching_domain, same_site, site_of

    assert host_of("https://WWW.News.Example.:8443/a") == "www.news.example"
    assert host_of("http://[::1") == ""  # unreadable: no host, no exception
    assert site_of("https://www.news.example/a") == "news.example"
    assert matching_domain("https://a.b.news.example/x", ["news.example", "b.news.example"]) == "b.news.example"
    assert matching_domain("https://notnews.example/x", ["news.example"]) is None
    assert same_site("https://m.news.example/x", ["news.example"])
    assert not same_site("https://news.example.evil/x", ["news.example"])
    assert group_by_host(["https://a.example/1", "https://b.example/1", "https://A.example/2"]) == {
        "a.example": ["https://a.example/1", "https://A.example/2"], "b.example": ["https://b.example/1"]}


def test_related_links_are_judged_more_leniently_than_section_links():
    from archiver.urls import is_article_url, is_related_article_url

    page = "https://news.example/2025/06/a-story-here/"
    assert is_related_article_url("https://news.example/local/ferry-fares-rise/", page)
    assert not is_article_url("https://news.example/local/ferry-fares-rise/")  # a short slug
    assert not is_related_article_url("https://news.example/tag/ferries/", page)
    assert not is_related_article_url("https://twitter.com/share?u=x-y-z", page)
    assert not is_related_article_url(page + "#comments", page)
