"""The crawl's robots.txt service: one answer per origin and run, cached in the archive.

Each origin's robots.txt is fetched once in a run (in its host's turn), or read from the
archive's cache (`robots_txt`, a day at most, RFC 9309); it spaces the host's requests
(Crawl-delay, as `Politeness` allows), names sitemaps (read for sites configured by their home
page), and decides which URLs may be fetched. A robots.txt that cannot be fetched (5xx,
unreachable) disallows the host for the run, and is recorded as a failure so failures by host
show why. Parsing is `archiver.robots`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import timedelta

from archiver.config import Settings
from archiver.crawl.outcomes import Outcomes
from archiver.crawl.policy import Politeness
from archiver.crawl.sources import Source
from archiver.errors import FetchError, HTTPStatusError
from archiver.fetch import HostClients, Sleep, fetch
from archiver.models import FetchFailure, FetchResult
from archiver.robots import (
    ALLOW_ALL,
    CACHE_SECONDS,
    DISALLOW_ALL,
    MAX_ROBOTS_BYTES,
    RobotsPolicy,
    policy_from_response,
    robots_url,
)
from archiver.store import frontier
from archiver.store.frontier import NewURL
from archiver.timestamps import iso
from archiver.units import HostGate
from archiver.urls import host_key, origin, try_normalize

log = logging.getLogger("archiver.crawl")


class RobotsService:
    """robots.txt for one crawl run (see the module doc); `clients` is set when the run starts."""

    def __init__(
        self,
        settings: Settings,
        outcomes: Outcomes,
        sources: Sequence[Source],
        *,
        sleep: Sleep = asyncio.sleep,
        until: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.outcomes = outcomes
        self.db = outcomes.db
        self.sleep = sleep
        self.until = until
        self.clients: HostClients | None = None
        self.policies: dict[str, RobotsPolicy] = {}
        self.locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.auto_hosts = {host_key(s.url): s for s in sources if s.auto}

    async def policy(self, url: str, gate: HostGate) -> RobotsPolicy:
        home = origin(url)
        if not self.settings.respect_robots and home not in self.auto_origins():
            return RobotsPolicy(home, ALLOW_ALL, reason="robots.txt not consulted")
        async with self.locks[home]:
            policy = self.policies.get(home)
            if policy is None:
                policy = await self._load(home, gate)
                self.policies[home] = policy
                self._space(policy, gate)
                await self._sitemaps(home, policy)
        if not self.settings.respect_robots:
            return RobotsPolicy(home, ALLOW_ALL, reason="robots.txt not consulted")
        return policy

    def auto_origins(self) -> set[str]:
        return {origin(s.url) for s in self.auto_hosts.values()}

    async def _load(self, home: str, gate: HostGate) -> RobotsPolicy:
        now = self.outcomes.clock()
        cached = frontier.cached_robots(self.db, home, iso(now))
        if cached is not None:
            return policy_from_response(home, cached[0], cached[1].encode("utf-8"))
        status: int | None
        assert self.clients is not None, "RobotsService.clients is set when the run starts"
        try:
            async with gate.turn(), self.clients.client(host_key(home)) as client:
                answer = await fetch(client, robots_url(home), self.settings, sleep=self.sleep,
                                     max_bytes=MAX_ROBOTS_BYTES, truncate=True, until=self.until())
            status, body_bytes = answer.status, answer.content
        except HTTPStatusError as exc:
            status, body_bytes = exc.status, b""
            reason = exc.reason
        except FetchError as exc:
            log.warning("%s: robots.txt unreachable (%s)", home, exc.reason)
            status, body_bytes = None, b""
            reason = exc.reason
        else:
            reason = f"HTTP {status}"
        policy = policy_from_response(home, status, body_bytes)
        if policy.mode == DISALLOW_ALL:  # recorded, so failures by host show why a host was skipped
            url = robots_url(home)
            failure = FetchFailure(url, "robots", f"robots.txt unavailable ({reason}); "
                                   "the host is skipped for this run, as RFC 9309 asks", status)
            self.db.store_result(FetchResult(url, iso(now), 0.0, failure=failure),
                               crawl_run_id=self.outcomes.run_id)
        if policy.cacheable and status is not None:
            frontier.cache_robots(
                self.db, home, status, policy.text, iso(now), iso(now + timedelta(seconds=CACHE_SECONDS))
            )
        return policy

    def _space(self, policy: RobotsPolicy, gate: HostGate) -> None:
        asked = policy.crawl_delay(self.settings.user_agent) if self.settings.respect_robots else None
        if asked is not None:
            delay = Politeness.of(self.settings).delay(asked)
            if delay != gate.delay:
                log.info("%s: Crawl-delay %gs (honoured as %gs)", policy.origin, asked, delay)
            gate.delay = delay

    async def _sitemaps(self, home: str, policy: RobotsPolicy) -> None:
        source = next((s for s in self.auto_hosts.values() if origin(s.url) == home), None)
        if source is None or not policy.sitemaps:
            return
        items = []
        for raw in policy.sitemaps:
            url = try_normalize(raw, home + "/")
            if url is not None:
                items.append(NewURL(url, host_key(url), "sitemap", source.site, 1, robots_url(home)))
        if items:
            frontier.add_urls(self.db, items, iso(self.outcomes.clock()), self.outcomes.revisit, self.outcomes.run_id)
            log.info("%s: %d sitemap(s) from robots.txt", home, len(items))
