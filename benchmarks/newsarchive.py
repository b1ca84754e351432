"""A synthetic news archive for `archiver bench serve`, written through archiver's own store.

`build_archive(path, articles)` stores `articles` generated articles with `store.Archive`'s
`store_result` inside `store.GroupCommit` items, as a crawl stores what it fetched: a page row
(with a small stored body), the article, its first version, its related links and a fetch row;
some articles are fetched again later with an edit (a new version with its diff), and about one
fetch in a hundred fails (a 404, a reset connection, a page that gave no article).

What is generated, from one seed (the same N gives the same archive):

- 40 sites of very different sizes (Zipf), each with a host, a language (English for most, then
  French, German, Spanish, Italian, Portuguese, Dutch, Swedish), a UTC offset (publication times
  keep it, as pages state them), 6 to 14 sections and a staff of authors (about 6,000 in all,
  a few prolific, most occasional); 15 % of bylines have two or three authors, 8 % none;
- publication times over 12 years (2014 to mid-2026), more recent years holding more articles,
  archived roughly in time order (a tenth are backfilled older pages); 2 % have no date;
- bodies of 60 to 4,000 words (log-normal, median about 450) in paragraphs of sentences drawn
  from a Zipf-like vocabulary (60,000 words: English function words first, then news words,
  then made-up words, some with accents), with names (a pool of 200,000, so a name is rare)
  and set phrases ("interest rates", "city council") mixed in;
- titles, standfirsts (half of the articles), tags, lead images, 0 to 5 related links (most to
  earlier articles of the same site, some to pages never archived).

`probes(articles)` names what the benchmark asks of an archive of that size: a rare name that is
in it, a very common word, a phrase, a site, a section, an author and a year with articles.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import logging
import math
import multiprocessing
import random
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from archiver import store
from archiver.models import Article, Fetched, FetchFailure, FetchResult, RelatedLink
from archiver.store.bodies import pack_body

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1  # bump when what is generated changes: cached archives are keyed by it
SEED = 16
SITES = 40
START = datetime(2014, 1, 1, tzinfo=UTC)
END = datetime(2026, 6, 30, tzinfo=UTC)

FUNCTION_WORDS = ["the", "of", "and", "to", "a", "in", "that", "is", "for", "on", "was", "with", "he", "it", "as", "at", "by", "said", "his", "from", "be", "have", "has", "are", "an", "were", "not", "but", "they", "this", "who", "had", "which", "will", "their", "been", "after", "would", "its", "also", "her", "more", "we", "two", "one", "year", "new", "over", "than", "up", "out", "about", "when", "all", "there", "people", "could", "she", "first", "into", "other", "some", "can", "years", "government", "time", "no", "what", "so", "if", "city", "state", "our", "three", "between", "week", "police", "only", "since", "because", "before", "while", "told", "where", "million", "last", "most", "just", "them", "like", "during", "under", "against", "may", "many", "these", "officials", "per", "cent", "back", "now", "day", "told", "made", "how", "even", "well", "such", "both", "where", "those", "then", "through", "any", "because", "four", "five", "public", "local", "group", "plan", "part", "report", "since", "much"]
NEWS_WORDS = ["council", "minister", "election", "rail", "ferry", "harbour", "budget", "court", "hospital", "school", "storm", "flood", "market", "energy", "climate", "prices", "strike", "union", "border", "troops", "ceasefire", "vote", "parliament", "mayor", "housing", "inflation", "rates", "bank", "tax", "wages", "farmers", "drought", "wildfire", "earthquake", "museum", "festival", "league", "championship", "coach", "season", "injury", "transfer", "stadium", "airport", "airline", "port", "shipping", "tariffs", "exports", "refugees", "asylum", "protest", "rally", "campaign", "candidate", "poll", "referendum", "coalition", "senate", "governor", "judge", "trial", "verdict", "sentence", "prison", "investigation", "fraud", "corruption", "scandal", "resignation", "hospital", "nurses", "doctors", "vaccine", "outbreak", "virus", "patients", "pharmacy", "research", "university", "students", "teachers", "exam", "scholarship", "library", "theatre", "orchestra", "novel", "author", "film", "director", "actor", "premiere", "gallery", "exhibition", "heritage", "cathedral", "bridge", "tunnel", "motorway", "traffic", "cyclists", "pedestrians", "bus", "tram", "metro", "station", "timetable", "passengers", "fares", "pollution", "emissions", "solar", "wind", "turbines", "grid", "pipeline", "gas", "oil", "coal", "nuclear", "reactor", "battery", "electric", "vehicles", "factory", "jobs", "unemployment", "pensions", "benefits", "welfare", "charity", "volunteers", "donations", "rescue", "coastguard", "fishermen", "harvest", "vineyard", "tourism", "hotels", "restaurants", "chefs", "recipe", "weather", "forecast", "snow", "heatwave", "rainfall", "river", "dam", "reservoir", "water", "sewage", "beaches", "wildlife", "forest", "conservation", "species", "whales", "birds", "police", "arrest", "suspect", "witness", "shooting", "stabbing", "burglary", "robbery", "smuggling", "cyber", "hackers", "data", "privacy", "software", "startup", "investors", "shares", "profits", "losses", "merger", "acquisition", "chief", "executive", "board", "chairman", "regulator", "competition", "consumers", "retail", "supermarket", "property", "mortgage", "rents", "landlords", "tenants", "planning", "developers", "construction", "architects"]
PHRASES = (
    "interest rates", "city council", "prime minister", "climate change", "central bank",
    "supreme court", "health service", "public transport", "general election", "human rights",
    "foreign minister", "police said", "local authority", "energy prices", "housing market",
    "peace talks", "state of emergency", "opposition leader", "trade deal", "school year",
)
SECTIONS = (
    "World", "Politics", "Business", "Sport", "Culture", "Science", "Health", "Opinion", "Local",
    "Technology", "Climate", "Education", "Transport", "Economy", "Europe", "Middle East", "Asia",
    "Africa", "Americas", "Arts", "Books", "Music", "Film", "Travel", "Food", "Weather", "Crime",
    "Courts", "Obituaries", "Media",
)
LANGUAGES = (("en", 24), ("fr", 4), ("de", 4), ("es", 3), ("it", 2), ("pt", 1), ("nl", 1), ("sv", 1))
OFFSETS = (0, 0, 1, 2, -5, -8, 3, 5.5, 9, 10, -3, 8)  # hours east of UTC, one per site in turn
FIRST_NAMES = ["Ana", "Ben", "Chloé", "Dara", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jonas", "Kaito", "Lena", "Marta", "Nadia", "Omar", "Pia", "Quentin", "Rosa", "Sami", "Tomas", "Uma", "Vera", "Wen", "Ximena", "Yusuf", "Zoe", "Amir", "Bea", "Carlos", "Daniela", "Emil", "Farah", "Gustav", "Hana", "Ivan", "Julia", "Kofi", "Lucia", "Mateo", "Nora", "Oskar", "Priya", "Rafael", "Sofia", "Theo", "Ulla", "Viktor", "Wanda", "Yara", "Zeynep"]
SYLLABLES = ["ka", "ri", "mo", "ten", "sal", "vor", "bel", "dun", "fi", "ga", "lo", "pra", "sen", "tu", "vik", "zan", "mer", "hol", "cas", "dre", "nor", "pel", "quin", "ros", "sta", "tor", "ul", "wen", "yar", "bro", "cle", "dor", "fen", "gri", "hal", "jor", "kel", "lin", "mar", "nes", "orv", "pim", "rud", "sor", "tal", "ven", "wil"]
ACCENTED = {"e": "é", "a": "à", "o": "ö", "u": "ü", "n": "ñ", "c": "ç"}

VOCABULARY = 60_000
SENTENCE_LENGTHS = tuple(range(8, 27))
STREAM = 4_000_000  # words of running text the sentences are cut from
NAMES = 200_000


@dataclass(frozen=True)
class Site:
    name: str
    host: str
    language: str
    offset: timezone
    sections: tuple[str, ...]
    authors: tuple[str, ...]
    author_weights: tuple[float, ...]


@dataclass(frozen=True)
class Probes:
    """What the benchmark asks of an archive of a given size (all present in it)."""

    rare: str  # a name in a handful of articles
    common: str  # a word in nearly every article
    phrase: str
    either: str  # an OR query
    prefix: str
    exclude: str  # a NOT query
    site: str
    section: str
    language: str
    author: str
    year: str


def _zipf_cumulative(count: int, exponent: float, shift: float = 2.7) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank + shift) ** exponent for rank in range(1, count + 1)))


def _made_up_words(
    rng: random.Random, count: int, taken: set[str], accent_share: float, syllables: tuple[int, int]
) -> list[str]:
    """`count` distinct words of `syllables` (fewest, most) syllables, the shorter ones first
    (frequent words are short), some with an accented letter."""
    base = len(SYLLABLES)
    numbers: list[int] = []
    for length in range(syllables[0], syllables[1] + 1):
        numbers += rng.sample(range(base ** (length - 1), base**length), min(count + len(taken), base**length - base ** (length - 1)))
    words: list[str] = []
    for number in numbers:
        parts = []
        while number:
            number, digit = divmod(number, base)
            parts.append(SYLLABLES[digit])
        word = "".join(parts)
        if rng.random() < accent_share:
            at = [i for i, ch in enumerate(word) if ch in ACCENTED]
            if at:
                i = rng.choice(at)
                word = word[:i] + ACCENTED[word[i]] + word[i + 1 :]
        if word not in taken:
            taken.add(word)
            words.append(word)
            if len(words) == count:
                break
    return words


class Newsroom:
    """The generator: vocabulary, names, sites and their staff, drawn once from the seed."""

    def __init__(self, seed: int = SEED, stream: int = STREAM) -> None:
        rng = random.Random(seed)
        self.rng = rng
        taken = set(FUNCTION_WORDS) | set(NEWS_WORDS)
        words = list(dict.fromkeys(FUNCTION_WORDS + NEWS_WORDS))
        words += _made_up_words(rng, VOCABULARY - len(words), taken, 0.05, (2, 3))
        self.words = words
        self.word_weights = _zipf_cumulative(len(words), 1.07)
        # running text is cut from one long Zipf-drawn stream (drawing each word of a million
        # articles one by one would take longer than storing them)
        self.stream = rng.choices(words, cum_weights=self.word_weights, k=stream)
        self.news_weights = _zipf_cumulative(len(NEWS_WORDS), 0.6, 1.0)
        self.names = [w.capitalize() for w in _made_up_words(rng, NAMES, taken, 0.08, (4, 4))]
        self.tags = NEWS_WORDS[:300]
        self.sites = self._sites(rng)
        self.site_weights = _zipf_cumulative(len(self.sites), 0.9, 1.0)

    def _sites(self, rng: random.Random) -> list[Site]:
        languages = [code for code, share in LANGUAGES for _ in range(share)]
        sites = []
        for number in range(SITES):
            stem = self.words[400 + number * 7]
            name = f"{stem}-{('courier', 'herald', 'times', 'post', 'dispatch', 'gazette', 'tribune', 'observer')[number % 8]}"
            offset = OFFSETS[number % len(OFFSETS)]
            staff = max(12, int(900 / (number + 2)))
            surnames = rng.sample(self.names, staff)
            authors = tuple(f"{rng.choice(FIRST_NAMES)} {surname}" for surname in surnames)
            sites.append(Site(
                name=name,
                host=f"www.{name.replace('-', '')}.example",
                language=languages[number % len(languages)],
                offset=timezone(timedelta(hours=offset)),
                sections=tuple(rng.sample(SECTIONS, rng.randint(6, 14))),
                authors=authors,
                author_weights=tuple(_zipf_cumulative(len(authors), 1.1, 1.0)),
            ))
        return sites

    # --- text ---------------------------------------------------------------------------------

    def sentence(self, rng: random.Random, words: list[str] | None = None) -> str:
        """One sentence: Zipf-drawn words (or `words`), sometimes a name or a set phrase."""
        if words is None:
            start = rng.randrange(len(self.stream) - 30)
            words = self.stream[start : start + rng.randint(8, 26)]
        roll = rng.random()
        if roll < 0.25:
            words.insert(rng.randrange(len(words)), self.names[int(roll * 4 * len(self.names))])
        elif roll < 0.33:
            words.insert(rng.randrange(len(words)), PHRASES[int(roll * 1000) % len(PHRASES)])
        if roll > 0.6:
            words.append(NEWS_WORDS[bisect.bisect(self.news_weights, (roll - 0.6) * 2.5 * self.news_weights[-1]) % len(NEWS_WORDS)])
        text = " ".join(words)
        return text[0].upper() + text[1:] + (". " if roll < 0.9 else "? ")

    def body(self, rng: random.Random) -> str:
        """Paragraphs of one to four sentences; 60 to 4,000 words, median about 450."""
        target = min(4000, max(60, int(rng.lognormvariate(math.log(450), 0.6))))
        lengths = rng.choices(SENTENCE_LENGTHS, k=target // 8 + 1)
        paragraphs: list[str] = []
        sentences: list[str] = []
        at = 0
        last = len(self.stream) - 30
        for length in lengths:
            if at >= target:
                break
            start = rng.randrange(last)
            sentences.append(self.sentence(rng, self.stream[start : start + length]))
            at += length
            if len(sentences) >= 4 or (len(sentences) > 1 and length % 3 == 0):
                paragraphs.append("".join(sentences).rstrip())
                sentences = []
        if sentences:
            paragraphs.append("".join(sentences).rstrip())
        return "\n\n".join(paragraphs)

    def title(self, rng: random.Random) -> str:
        news = rng.choices(NEWS_WORDS, cum_weights=self.news_weights, k=rng.randint(2, 4))
        filler = rng.choices(self.words[:400], k=rng.randint(3, 7))
        words = news + filler
        rng.shuffle(words)
        if rng.random() < 0.3:
            words.insert(0, rng.choice(self.names))
        return " ".join(word.capitalize() if i == 0 or rng.random() < 0.5 else word for i, word in enumerate(words))


@dataclass
class _Planned:
    """An article as generated, kept to fetch it again with an edit."""

    article: Article
    site: Site
    fetched_at: datetime


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _page(article: Article) -> bytes:
    first = article.body.split("\n\n", 1)[0]
    return (
        f'<!DOCTYPE html><html lang="{article.language}"><head><meta charset="utf-8">'
        f"<title>{article.title}</title></head><body><article><h1>{article.title}</h1>"
        f"<p>{first}</p></article></body></html>"
    ).encode()


def _fetched(url: str, content: bytes, at: datetime, status: int = 200) -> Fetched:
    headers = (("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(content))))
    return Fetched(url, url, status, headers, content, _stamp(at), 0.08)


class Generator:
    """Generates the archive's fetch results in the order a crawl would have stored them."""

    def __init__(self, articles: int, newsroom: Newsroom | None = None) -> None:
        self.total = articles
        self.newsroom = newsroom or Newsroom(stream=min(STREAM, 200_000 + 400 * articles))
        self.rng = random.Random(SEED * 1_000_003 + articles)
        self.recent: dict[str, deque[tuple[str, str]]] = {s.name: deque(maxlen=200) for s in self.newsroom.sites}
        self.edits: list[tuple[int, int, _Planned]] = []  # (due at step, tie, planned)
        self.ties = itertools.count()
        self.rare = ""  # a name in the middle article
        self.name_set = frozenset(self.newsroom.names)

    def when(self, number: int) -> datetime:
        """Publication time of the number-th article: more articles in later years."""
        rng = self.rng
        share = (number / max(1, self.total)) ** 0.7
        if rng.random() < 0.1:
            share = rng.random() * share  # a backfilled older page
        seconds = (END - START).total_seconds()
        return START + timedelta(seconds=share * seconds + rng.uniform(-86400, 86400))

    def article(self, number: int) -> tuple[Article, Site, datetime]:
        rng, room = self.rng, self.newsroom
        site = rng.choices(room.sites, cum_weights=room.site_weights)[0]
        published = min(END, max(START, self.when(number)))
        local = published.astimezone(site.offset)
        section = rng.choice(site.sections)
        title = room.title(rng)
        slug = "-".join(title.lower().split()[:8])
        url = f"https://{site.host}/{section.lower().replace(' ', '-')}/{local:%Y/%m}/{slug}-{number}"
        roll = rng.random()
        count = 0 if roll < 0.08 else 3 if roll < 0.11 else 2 if roll < 0.23 else 1
        authors = tuple(dict.fromkeys(rng.choices(site.authors, cum_weights=site.author_weights, k=count)))
        date_roll = rng.random()
        stated = None if date_roll < 0.02 else local.strftime("%Y-%m-%d") if date_roll < 0.05 else local.isoformat(timespec="seconds")
        related = []
        for _ in range(rng.choice((0, 1, 2, 3, 3, 4, 5))):
            earlier = self.recent[site.name]
            if earlier and rng.random() < 0.85:
                link_url, link_title = rng.choice(earlier)
            else:
                link_url, link_title = f"https://{site.host}/archive/{rng.randrange(10**9)}", room.title(rng)
            related.append(RelatedLink(link_title, link_url, room.sentence(rng) if rng.random() < 0.3 else None))
        article = Article(
            url=url,
            title=title,
            body=room.body(rng),
            canonical_url=url,
            subtitle=room.sentence(rng) if rng.random() < 0.5 else None,
            authors=authors,
            published_at=stated,
            modified_at=None,
            language=site.language,
            site_name=site.name.replace("-", " ").title(),
            section=section,
            tags=tuple(dict.fromkeys(rng.choices(room.tags, k=rng.randint(1, 5)))),
            image=f"https://{site.host}/images/{number}.jpg" if rng.random() < 0.7 else None,
            related=tuple(related),
            extractor=rng.choice(("site-rules", "json-ld", "json-ld", "generic")),
            extractor_version="bench",
        )
        self.recent[site.name].append((url, title))
        if number == self.total // 2:
            self.rare = next((w.strip(".?!") for w in article.body.split() if w.strip(".?!") in self.name_set), "")
        return article, site, published

    def edited(self, planned: _Planned, at: datetime) -> Article:
        rng, room = self.rng, self.newsroom
        article = planned.article
        paragraphs = article.body.split("\n\n")
        paragraphs[rng.randrange(len(paragraphs))] = " ".join(room.sentence(rng) for _ in range(2))
        if rng.random() < 0.5:
            paragraphs.append(f"Correction: {room.sentence(rng)}")
        title = article.title if rng.random() < 0.8 else article.title + " (updated)"
        return replace(article, title=title, body="\n\n".join(paragraphs), modified_at=at.astimezone(planned.site.offset).isoformat(timespec="seconds"))

    def results(self) -> Iterator[tuple[FetchResult, str]]:
        """(fetch result, site name) in the order they are stored."""
        rng = self.rng
        for number in range(self.total):
            while self.edits and self.edits[0][0] <= number:
                _, _, planned = heapq.heappop(self.edits)
                yield self.refetch(planned)
            article, site, published = self.article(number)
            fetched_at = published + timedelta(minutes=rng.randint(5, 600))
            if rng.random() < 0.01:
                yield self.failure(article, site, fetched_at)
            content = _page(article)
            result = FetchResult(
                url=article.url, started_at=_stamp(fetched_at), duration=0.1,
                fetched=_fetched(article.url, content, fetched_at), article=article, body=pack_body(content),
            )
            if rng.random() < 0.05:
                due = number + rng.randint(20, 5000)
                heapq.heappush(self.edits, (due, next(self.ties), _Planned(article, site, fetched_at)))
            yield result, site.name
        while self.edits:  # edits due after the last new article
            _, _, planned = heapq.heappop(self.edits)
            yield self.refetch(planned)

    def refetch(self, planned: _Planned) -> tuple[FetchResult, str]:
        rng = self.rng
        at = planned.fetched_at + timedelta(hours=rng.randint(1, 240))
        article = self.edited(planned, at)
        if rng.random() < 0.2:  # edited again later
            heapq.heappush(self.edits, (0, next(self.ties), _Planned(article, planned.site, at)))
        content = _page(article)
        result = FetchResult(
            url=article.url, started_at=_stamp(at), duration=0.1,
            fetched=_fetched(article.url, content, at), article=article, body=pack_body(content),
        )
        return result, planned.site.name

    def failure(self, article: Article, site: Site, at: datetime) -> tuple[FetchResult, str]:
        rng = self.rng
        url = f"https://{site.host}/{article.url.rsplit('/', 1)[1]}-old"
        kind = rng.choice(("http-status", "http-status", "transport", "extract"))
        if kind == "extract":
            content = b"<html><body><div id=app></div></body></html>"
            failure = FetchFailure(url, "extract", f"{url}: no article text found on the page")
            fetched: Fetched | None = _fetched(url, content, at)
        elif kind == "transport":
            failure = FetchFailure(url, "transport", f"{url}: connection reset by peer", attempts=4)
            fetched = None
        else:
            failure = FetchFailure(url, "http-status", f"{url}: HTTP 404", status=404)
            fetched = None
        return FetchResult(url=url, started_at=_stamp(at), duration=0.3, fetched=fetched, failure=failure), site.name


def probes_of(generator: Generator) -> Probes:
    """The benchmark's queries for the archive `generator` made (after it ran): a name of its
    middle article, the biggest site, its first section and its most prolific author."""
    big = generator.newsroom.sites[0]
    return Probes(
        rare=generator.rare or generator.newsroom.names[0],
        common="the",
        phrase='"interest rates"',
        either="rail OR ferry",
        prefix="harb*",
        exclude="council NOT election",
        site=big.name,
        section=big.sections[0],
        language=big.language,
        author=big.authors[0],
        year=str((START + (END - START) * 0.85).year),
    )


CHUNK = 500  # results sent at a time from the generating process


def _generate(articles: int, queue: Any) -> None:
    """The generating process: results in chunks, then the probes (None ends the stream)."""
    generator = Generator(articles)
    chunk: list[tuple[FetchResult, str]] = []
    for item in generator.results():
        chunk.append(item)
        if len(chunk) == CHUNK:
            queue.put(chunk)
            chunk = []
    queue.put(chunk)
    queue.put(probes_of(generator))
    queue.put(None)


def generated(articles: int) -> Iterator[tuple[FetchResult, str] | Probes]:
    """The generator's results, made in another process while this one stores them, then the
    probes."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=8)
    process = context.Process(target=_generate, args=(articles, queue), daemon=True)
    process.start()
    try:
        while (chunk := queue.get()) is not None:
            if isinstance(chunk, Probes):
                yield chunk
            else:
                yield from chunk
    finally:
        process.kill()
        process.join()


def build_archive(path: Path, articles: int, *, commit_items: int = 2000) -> tuple[float, Probes]:
    """Store `articles` generated articles (and their edits and failed fetches) in a new archive
    at `path` through `store.Archive.store_result`, committed in groups as a crawl does; return
    the seconds it took and the benchmark's probes for it."""
    started = time.monotonic()
    found: Probes | None = None
    with store.Archive(path) as archive:
        group = store.GroupCommit(archive, max_items=commit_items, max_seconds=30.0)
        step = max(1, articles // 20)
        stored = 0
        for item in generated(articles):
            if isinstance(item, Probes):
                found = item
                continue
            result, site = item
            with group.item():
                archive.store_result(result, site=site)
            if result.article is not None and result.fetched is not None:
                stored += 1
                if stored % step == 0:
                    log.info("stored %d results (%.0f/s)", stored, stored / (time.monotonic() - started))
        group.commit()
    assert found is not None, "the generating process ended without its probes"
    return time.monotonic() - started, found
