"""The execution seam without a cluster: a unit run as a Dask task would run it (pure: network in,
records out), and the in-process executor's streaming, bounds and stop."""

from __future__ import annotations

import asyncio
import pickle
from dataclasses import replace
from pathlib import Path

import pytest

from archiver.cluster import run_unit
from archiver.config import Settings
from archiver.executor import InProcessExecutor, make_executor
from archiver.jobs import WorkItem
from archiver.models import Article, Discovery, Fetched, FetchFailure, FetchResult
from archiver.pools import inline_pool
from archiver.units import HostGate, WorkUnit
from support.crawlsite import article_path, make_site, serve_site

ARTICLES = 10  # more than the executor lets wait for its one worker (4), plus the one fetched meanwhile


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path / "site", 4)


@pytest.fixture()
def big_site(tmp_path: Path) -> Path:
    return make_site(tmp_path / "big", ARTICLES)


@pytest.fixture()
def fast(settings: Settings) -> Settings:
    return replace(settings, host_delay=0.0, extract_workers=1)


def unit_of(base: str, settings: Settings, paths: list[tuple[str, str]]) -> WorkUnit:
    host = base.split("://", 1)[1]
    return WorkUnit(host, tuple(WorkItem(base + p, kind) for p, kind in paths), settings)


def test_run_unit_fetches_and_extracts_to_plain_records(site, fast):
    with serve_site(site) as server:
        server.fail["/news/gone/"] = 404  # type: ignore[attr-defined]
        unit = unit_of(server.base_url, fast, [("/sitemap-a.xml", "sitemap"), (article_path(0), "article"),
                                                ("/news/gone/", "article")])
        assert unit.kind == "fetch"
        outcomes = run_unit(unit)
    assert [o.url for o in outcomes] == [item.url for item in unit.items]
    sitemap, article, gone = outcomes
    assert isinstance(sitemap.discovery, Discovery) and len(sitemap.discovery.articles) == 2
    assert isinstance(article.fetched, Fetched) and isinstance(article.article, Article)
    assert article.article.title == "Story number 0 about the harbour works"
    assert gone.fetched is None and gone.article is None
    assert isinstance(gone.failure, FetchFailure) and gone.failure.status == 404
    # what a Dask worker sends back must survive pickling unchanged
    assert pickle.loads(pickle.dumps(outcomes)) == outcomes
    assert unit_of("http://h", fast, [("/feed", "feed")]).kind == "discover"


def test_run_unit_sends_the_validators_and_keeps_304_as_an_answer(site, fast):
    with serve_site(site) as server:
        first = run_unit(unit_of(server.base_url, fast, [(article_path(1), "article")]))[0]
        assert isinstance(first.fetched, Fetched)
        etag = first.fetched.header("etag")
        assert etag
        item = WorkItem(server.base_url + article_path(1), "article", (("If-None-Match", etag),))
        again = run_unit(WorkUnit(first.url.split("/")[2], (item,), fast))[0]
    assert isinstance(again.fetched, Fetched) and again.fetched.status == 304
    assert (again.article, again.discovery, again.failure) == (None, None, None)


def test_in_process_executor_streams_outcomes_and_stops_between_fetches(big_site, fast):
    async def go(stop_after: int | None) -> list[FetchResult]:
        executor = InProcessExecutor(inline_pool)
        await executor.start((), fast)
        assert executor.slots._value == 4  # 4 pages per extraction worker may wait (fast: 1 worker)
        got: list[FetchResult] = []
        try:
            unit = unit_of(base, fast, [(article_path(i), "article") for i in range(ARTICLES)])
            async for outcome in executor.run(unit, HostGate(0.0, 1), lambda: stop_after is not None and len(got) >= stop_after):
                got.append(outcome)
            assert executor.slots._value == 4  # every slot handed back
        finally:
            await executor.close()
        return got

    with serve_site(big_site) as server:
        base = server.base_url
        every = asyncio.run(go(None))
        some = asyncio.run(go(1))
    assert sorted(o.url for o in every) == sorted(base + article_path(i) for i in range(ARTICLES))
    assert all(isinstance(o.article, Article) for o in every)
    # fetching stops once told to: the 4 answers the slots hold and the one fetched while they
    # were full are handed back; the URLs not fetched are not (they stay due)
    assert 1 <= len(some) <= 5


def test_make_executor_picks_dask_only_when_a_cluster_is_named(fast):
    assert make_executor(fast).name == "in-process"
    dask = make_executor(replace(fast, cluster="tcp://127.0.0.1:8786"))
    assert dask.name == "dask" and dask.address == "tcp://127.0.0.1:8786"  # type: ignore[attr-defined]
