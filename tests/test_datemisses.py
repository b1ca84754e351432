"""The date-miss diagnosis sorts each wrong publication date by its cause, on synthetic pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from benchextract import load_pages
from datemisses import diagnose, format_report, half_of, main, read_page

BODY = ("<p>The council approved the budget on Tuesday night after a long debate that ran past "
        "midnight, and members said the plan would take effect in June.</p>")


def _page(head: str = "", header: str = "", body: str = BODY) -> str:
    return (f"<html><head><title>Budget approved</title>{head}</head><body><main><article>"
            f"<h1>Budget approved</h1>{header}{body}</article></main></body></html>")


def _ld(published: str, modified: str | None = None) -> str:
    data = {"@type": "NewsArticle", "headline": "Budget approved", "datePublished": published}
    if modified:
        data["dateModified"] = modified
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


STAMP = int(datetime(2024, 2, 9, 12, tzinfo=UTC).timestamp())
PAGES = {
    # shown and true
    "right": (_page(header="<p>March 3, 2025</p>"), "2025-03-03"),
    # the truth names a month only
    "month": (_page(header="<p>March 3, 2025</p>"), "2025-03"),
    # the true day is written nowhere
    "nowhere": (_page(header="<p>March 3, 2025</p>"), "2019-06-01"),
    # the true day is there only as an image's version stamp
    "stamp": (_page(header="<p>March 3, 2025</p>",
                    body=f"<img src='/a.jpg?v={STAMP}'>{BODY}"), "2024-02-09"),
    # "Updated X" shown beside an older publication in the data: the truth took X here ...
    "update": (_page(_ld("2023-01-05T10:00:00+00:00"), "<p>Updated May 2, 2025</p>"),
               "2025-05-02"),
    # ... and the publication date here (right: the extractor keeps it)
    "update-kept": (_page(_ld("2023-01-06T10:00:00+00:00"), "<p>Updated May 3, 2025</p>"),
                    "2023-01-06"),
    # an unlabelled date shown that the data calls the modification; the truth is the publication
    "modified": (_page(_ld("2022-04-01T09:00:00+00:00", "2025-07-01T09:00:00+00:00"),
                       "<p>July 1, 2025</p>"), "2022-04-01"),
    # the page's stamp read in another time zone
    "zone": (_page(_ld("2025-05-14T19:30:00-07:00")), "2025-05-15"),
}


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    (tmp_path / "html").mkdir()
    truth: dict[str, dict[str, str | None]] = {}
    for pid, (markup, day) in PAGES.items():
        (tmp_path / "html" / f"{pid}.html").write_text(markup, encoding="utf-8")
        truth[pid] = {"articleBody": "x", "url": f"https://{pid}.example/news/budget",
                      "publish_date": day}
    truth["undated"] = {"articleBody": "x", "url": "https://undated.example/", "publish_date": None}
    (tmp_path / "html" / "undated.html").write_text(_page(), encoding="utf-8")
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth), encoding="utf-8")
    return tmp_path


def test_each_miss_is_counted_under_its_cause(dataset: Path) -> None:
    pages = [p for p in map(read_page, load_pages(dataset)) if p is not None]
    assert {p.id for p in pages} == set(PAGES)  # a page whose truth has no date is not scored
    report = diagnose(pages)
    assert {cause: ids for cause, ids in report.pages.items()} == {
        "not a day": ["month"], "nowhere": ["nowhere"], "timestamp only": ["stamp"],
        "update shown": ["update"], "modification shown": ["modified"], "time zone": ["zone"]}
    assert report.contested["update shown"] == {"shown": 1, "publication": 1}
    assert report.contested["modification shown"] == {"publication": 1}
    assert sum(r for r, _ in report.right) == 2  # "right" and "update-kept"
    assert sum(n for _, n in report.right) == len(PAGES)


def test_the_report_gives_both_domain_halves_and_lists_pages_on_request(
        dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert half_of("https://www.bbc.co.uk/news/1") == half_of("https://news.bbc.co.uk/2")
    assert main([str(dataset), "--list"]) == 0
    out = capsys.readouterr().out
    assert f"date accuracy  all 2/{len(PAGES)} = {2 / len(PAGES):.4f}" in out
    assert "half 0 " in out and "half 1 " in out
    assert "  update shown              1 update" in out
    pages = [p for p in map(read_page, load_pages(dataset)) if p is not None]
    assert "update shown              1\n" in format_report(diagnose(pages)) + "\n"
