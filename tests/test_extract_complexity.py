"""Extraction work grows no faster than the page: a complexity check, not a wall-clock limit.

Each page shape is generated with 1,000, 10,000 and 100,000 links or nodes and extracted; the
CPU time (best of two runs; one for the largest) may grow at most 25-fold for each tenfold step
(a quadratic pass grows a hundredfold). CPU time of this process, not wall time, so other work on a shared
machine does not count. Pages past `guard.MAX_TAGS` tags are cut there before parsing, so the
100,000 step also checks that the cut bounds the work.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from archiver.errors import ExtractError
from archiver.extract import extract_article
from archiver.extract.guard import MAX_DEPTH, MAX_TAGS, bounded, nesting_depth, too_deep

TEXT = "The council approved the budget on Tuesday night after a long debate, officials said. "
SIZES = (1_000, 10_000, 100_000)
GROWTH = 25.0  # allowed growth for ten times the input (linear: 10, n log n: ~13)
FLOOR = 0.01  # seconds: below this, timer resolution and warm-up decide a ratio, not the code


def _page(inner: str) -> str:
    return (f"<html><head><title>Budget approved</title></head><body><main><article>"
            f"<h1>Budget approved</h1><p>{TEXT * 3}</p>{inner}<p>{TEXT * 2}</p>"
            f"</article></main></body></html>")


def _cards(n: int) -> str:
    return "".join(f'<div><h3><a href="/2025/07/story-{i}-slug-words">Story {i} title words</a>'
                   f"</h3><p>Summary of story {i}: {TEXT}</p></div>" for i in range(n))


SHAPES: dict[str, Callable[[int], str]] = {
    "share-links": lambda n: _page("<div>" + "".join(
        f'<a href="https://www.facebook.com/sharer/sharer.php?u={i}">Share</a> '
        for i in range(n)) + "</div>"),
    "nested-divs": lambda n: _page(("<div>" * 40 + f"<p>{TEXT}</p>" + "</div>" * 40)
                                   * max(1, n // 41)),
    "stray-end-tags": lambda n: _page("<div></x>" * n),
    "long-list": lambda n: _page("<ul>" + "".join(
        f'<li><a href="/news/{i}-some-story-slug">Story number {i} title</a></li>'
        for i in range(n)) + "</ul>"),
    "paragraphs": lambda n: _page("".join(f"<p>{TEXT} {i}</p>" for i in range(n))),
    "related-cards": lambda n: _page('<section class="related-posts"><h2>Related Articles</h2>'
                                     + _cards(n // 4) + "</section>"),
    "loose-related-cards": lambda n: _page("<h3>Related Articles</h3>" + "".join(
        f'<h4><a href="/2025/07/story-{i}-slug-words">Story {i} title</a></h4>'
        f"<p>Summary of story {i}: {TEXT}</p>" for i in range(n // 2))),
    "related-headings": lambda n: _page("".join(
        f'<div><h3>Related Articles</h3><a href="/2025/07/story-{i}-a-b">Story {i} a</a>'
        f'<a href="/2025/07/story-{i}-c-d">Story {i} c</a></div>' for i in range(n // 4))),
}


def _cpu_seconds(page: str, runs: int) -> float:
    """CPU time of the best of `runs` extractions of `page` (an ExtractError is a result too)."""
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        try:
            extract_article(page, "https://news.example/2025/07/budget-approved")
        except ExtractError:
            pass
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.timeout(300)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_extraction_grows_no_faster_than_the_page(shape: str) -> None:
    seconds = [_cpu_seconds(SHAPES[shape](n), 1 if n == SIZES[-1] else 2) for n in SIZES]
    for (small, n_small), (large, n_large) in zip(zip(seconds, SIZES), zip(seconds[1:], SIZES[1:])):
        ratio = max(large, FLOOR) / max(small, FLOOR)
        assert ratio < GROWTH, (
            f"{shape}: {n_small:,} -> {n_large:,} took {small:.3f}s -> {large:.3f}s CPU "
            f"({ratio:.1f}x for 10x input): some pass is worse than n log n")


def test_the_nesting_guard_counts_what_the_parser_builds() -> None:
    # Stray end tags close nothing: the parser nests every <div>.
    assert too_deep("<div></x>" * 200_000) and too_deep("<div>" * 200_000)
    # The adoption agency leaves the <div> open when its <b> closes.
    assert too_deep("<b><div></b>" * 200_000)
    # What closes, or cannot nest, is not depth.
    assert not too_deep("<div><span>x</span></div>" * 20_000)
    assert not too_deep("<p>one<p>two<li>three" * 20_000)
    assert not too_deep("<a href='/x'>link" * 20_000)
    assert nesting_depth("<!-- <div><div> -->" * 5_000) == 0
    assert nesting_depth("<script>if (a<b) x='<div><div>';</script><div>") == 1
    assert nesting_depth("<div><span></div>" * 3) == 2  # </div> pops the open <span> too
    assert nesting_depth("<span><div></span>" * 3) == 6  # </span> cannot close past a <div>
    assert nesting_depth("<div>" * 50, stop_at=10) == 10


def test_a_hostile_nesting_page_is_refused_in_linear_time() -> None:
    started = time.process_time()
    with pytest.raises(ExtractError, match="nest"):
        extract_article("<html><body>" + "<div></x>" * 200_000, "https://news.example/deep")
    assert time.process_time() - started < 30  # ~0.5 s; minutes before the guard followed it


def test_pages_past_the_tag_limit_are_cut_there() -> None:
    page = "<p>x</p>" * (MAX_TAGS // 2 + 500)
    cut = bounded(page)
    assert cut.count("<") == MAX_TAGS and page.startswith(cut)
    assert bounded("<p>short</p>") == "<p>short</p>"
    assert MAX_DEPTH < MAX_TAGS
