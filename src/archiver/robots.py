"""robots.txt policy (RFC 9309), parsed with Protego. Pure: the crawl fetches and caches.

What a robots.txt answer means for a crawl:

- 2xx: the rules in the body (only its first `MAX_ROBOTS_BYTES` are read, as RFC 9309 allows);
- 4xx other than 429 ("unavailable"): no rules, everything allowed;
- 5xx, 429, or unreachable: everything disallowed for this run (RFC 9309 section 2.3.1.4; 429
  treated as a server error, as the major crawlers do). Such answers are never cached.

Rules are matched for the product token of the User-Agent (``archiver`` in
``archiver/0.1.0 (+https://...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from protego import Protego

MAX_ROBOTS_BYTES = 512 * 1024
CACHE_SECONDS = 24 * 3600  # RFC 9309: a cached robots.txt should not be used after 24 hours

ALLOW_ALL = "allow-all"
DISALLOW_ALL = "disallow-all"
RULES = "rules"


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against: 'archiver' of 'archiver/0.1 (...)'."""
    token = user_agent.strip().split("/", 1)[0].split(" ", 1)[0]
    return token or user_agent


@dataclass(frozen=True)
class RobotsPolicy:
    """What one origin's robots.txt allows."""

    origin: str
    mode: str  # rules, allow-all, disallow-all
    text: str = ""
    reason: str = ""  # why allow-all or disallow-all
    status: int | None = None

    @cached_property
    def _parsed(self) -> Protego:
        return Protego.parse(self.text)

    def allows(self, url: str, user_agent: str) -> bool:
        if self.mode == ALLOW_ALL:
            return True
        if self.mode == DISALLOW_ALL:
            return False
        if url.split("?", 1)[0].endswith("/robots.txt"):
            return True
        return bool(self._parsed.can_fetch(url, agent_token(user_agent)))

    def crawl_delay(self, user_agent: str) -> float | None:
        if self.mode != RULES:
            return None
        delay = self._parsed.crawl_delay(agent_token(user_agent))
        if delay is None:
            rate = self._parsed.request_rate(agent_token(user_agent))
            if rate is not None and rate.requests:
                return float(rate.seconds) / float(rate.requests)
            return None
        return float(delay)

    @property
    def sitemaps(self) -> tuple[str, ...]:
        if self.mode != RULES:
            return ()
        return tuple(self._parsed.sitemaps)

    @property
    def cacheable(self) -> bool:
        """Whether the answer may be kept for later runs (not a 5xx or an unreachable host)."""
        return self.mode != DISALLOW_ALL


def robots_url(origin: str) -> str:
    return origin.rstrip("/") + "/robots.txt"


def policy_from_response(origin: str, status: int | None, body: bytes = b"") -> RobotsPolicy:
    """The policy an answer to GET /robots.txt means; `status` None means unreachable."""
    if status is None:
        return RobotsPolicy(origin, DISALLOW_ALL, reason="robots.txt unreachable")
    if status == 429 or status >= 500:
        return RobotsPolicy(origin, DISALLOW_ALL, reason=f"robots.txt answered HTTP {status}", status=status)
    if 400 <= status < 500:
        return RobotsPolicy(origin, ALLOW_ALL, reason=f"robots.txt answered HTTP {status}", status=status)
    head = body[:MAX_ROBOTS_BYTES]
    if len(body) > MAX_ROBOTS_BYTES:
        head = head[: head.rfind(b"\n") + 1]  # never parse half a line
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    return RobotsPolicy(origin, RULES, text=text, status=status)


@dataclass
class RobotsCache:
    """Policies known in this run, by origin (the crawl fills it from the store or the network)."""

    policies: dict[str, RobotsPolicy] = field(default_factory=dict)

    def get(self, origin: str) -> RobotsPolicy | None:
        return self.policies.get(origin)

    def put(self, policy: RobotsPolicy) -> None:
        self.policies[policy.origin] = policy
