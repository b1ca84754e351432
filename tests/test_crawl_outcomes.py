"""What each fetched URL changes in the archive and the frontier (archiver.crawl.outcomes): plain
calls on records and a real SQLite file, no event loop, no server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archiver import store
from archiver.config import Settings
from archiver.crawl import Outcomes, Politeness
from archiver.models import Article, Discovery, Fetched, FetchFailure, FetchResult, Link
from archiver.store import frontier
from archiver.store.frontier import NewURL

NOW = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
FEED = "https://news.example/feed/"
STORY = "https://news.example/2026/03/council-approves-harbour-plan/"


@pytest.fixture()
def outcomes(tmp_path):  # type: ignore[no-untyped-def]
    db = store.Archive(tmp_path / "a.db")
    events: list[tuple] = []
    applied = Outcomes(db, Settings(), clock=lambda: NOW, emit=lambda *event: events.append(event))
    applied.run_id = frontier.start_run(db, "test", "2026-03-01T08:00:00Z")
    frontier.add_sources(db, [NewURL(FEED, "news.example", "feed")], "2026-03-01T08:00:00Z")
    applied.events = events  # type: ignore[attr-defined]
    yield applied
    db.close()


def page(url: str, status: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> Fetched:
    return Fetched(url, url, status, (("content-type", "text/html"), *headers), b"<html></html>",
                   "2026-03-01T08:00:00Z", 0.1)


def test_a_feed_queues_its_articles_and_is_read_again_next_run(outcomes):
    entry = frontier.get(outcomes.db, FEED)
    found = Discovery("rss", FEED, articles=(Link(STORY, published_at="2026-03-01T07:00:00Z"),))
    outcomes.apply(entry, FetchResult(FEED, "2026-03-01T08:00:00Z", 0.1, fetched=page(FEED), discovery=found))
    story = frontier.get(outcomes.db, STORY)
    assert (story.state, story.kind, story.depth, story.next_attempt_at) == ("queued", "article", 1, "2026-03-01T08:00:00Z")
    assert frontier.get(outcomes.db, FEED).next_attempt_at is None  # a configured source: due each run
    assert outcomes.counts.discovered == 1 and outcomes.events[-1][0] == "discovered"


def test_an_article_is_stored_and_its_revisit_planned(outcomes):
    frontier.add_urls(outcomes.db, [NewURL(STORY, "news.example", "article", depth=1)], "2026-03-01T08:00:00Z",
                      outcomes.revisit)
    article = Article(STORY, "Council approves harbour plan", " ".join(["word"] * 120),
                      published_at="2026-03-01T07:00:00Z")
    fetched = page(STORY, headers=(("etag", '"v1"'),))
    outcomes.apply(frontier.get(outcomes.db, STORY), FetchResult(STORY, "2026-03-01T08:00:00Z", 0.1, fetched=fetched,
                                                                 article=article))
    row = frontier.get(outcomes.db, STORY)
    assert (row.state, row.etag, row.article_id) == ("done", '"v1"', 1)
    assert row.next_attempt_at == "2026-03-01T09:00:00Z"  # REVISIT_AFTER[0]: an hour after the fetch
    assert outcomes.db["articles"].count == 1 and outcomes.counts.new == 1
    assert outcomes.validators(row) == {"If-None-Match": '"v1"'}
    # the page taught its host that this URL shape is an article's
    assert outcomes.db.execute("SELECT articles, others FROM url_shapes").fetchone() == (1, 0)


def test_failures_are_recorded_with_their_retry_or_given_up(outcomes):
    frontier.add_urls(outcomes.db, [NewURL(STORY, "news.example", "article", depth=1)], "2026-03-01T08:00:00Z",
                      outcomes.revisit)
    busy = FetchFailure(STORY, "http-status", "HTTP 503", 503)
    outcomes.apply(frontier.get(outcomes.db, STORY), FetchResult(STORY, "2026-03-01T08:00:00Z", 0.1, failure=busy))
    row = frontier.get(outcomes.db, STORY)
    assert (row.state, row.attempts, row.next_attempt_at) == ("failed", 1, "2026-03-01T08:10:00Z")
    gone = FetchFailure(STORY, "http-status", "HTTP 404", 404)
    outcomes.apply(row, FetchResult(STORY, "2026-03-01T08:00:00Z", 0.1, failure=gone))
    row = frontier.get(outcomes.db, STORY)
    assert (row.state, row.attempts, row.next_attempt_at) == ("failed", 2, None)  # not transient: given up
    assert outcomes.counts.failed == 2
    assert outcomes.db.execute("SELECT count(*) FROM fetches WHERE outcome = 'failed'").fetchone()[0] == 2


def test_a_page_with_no_article_is_kept_and_teaches_its_shape(outcomes):
    frontier.add_urls(outcomes.db, [NewURL(STORY, "news.example", "article", depth=1)], "2026-03-01T08:00:00Z",
                      outcomes.revisit)
    empty = FetchFailure(STORY, "extract", "no article text")
    outcomes.apply(frontier.get(outcomes.db, STORY),
                   FetchResult(STORY, "2026-03-01T08:00:00Z", 0.1, fetched=page(STORY), failure=empty))
    assert outcomes.db["pages"].count == 1  # kept for a later reextract
    assert outcomes.db.execute("SELECT articles, others FROM url_shapes").fetchone() == (0, 1)


def test_a_304_stores_nothing_new(outcomes):
    entry = frontier.get(outcomes.db, FEED)
    outcomes.apply(entry, FetchResult(FEED, "2026-03-01T08:00:00Z", 0.1, fetched=page(FEED, 304)))
    assert outcomes.counts.not_modified == 1 and outcomes.db["pages"].count == 0
    assert frontier.get(outcomes.db, FEED).last_status == 304


def test_politeness_honours_crawl_delay_within_its_cap():
    polite = Politeness(host_delay=1.0, crawl_delay_cap=30.0)
    assert polite.delay(None) == 1.0 and polite.delay(0.2) == 1.0 and polite.delay(5) == 5 and polite.delay(600) == 30.0
    assert Politeness(host_delay=1.0, respect_robots=False).delay(5) == 1.0
    assert Politeness.of(Settings(host_delay=2.0, host_concurrency=3)) == Politeness(2.0, 3, 30.0, True)
