"""The extraction development sets as training data: pages, domains, block labels, caches.

Both sets (`../shared/aeb`, `../shared/wcxb-dev` beside the checkout, or the directories
given) are read with `benchextract.load_pages`. Each page's blocks come from
`archiver.extract.article_blocks`, the same code the extractor runs, and are labelled against
the page's true body: a block is article text when at least half of its word 4-grams occur in
the truth (a block under four words: when it is a line of the truth, or inside one).

Blocks and trafilatura's output are cached per page under `benchmarks/.cache/` (keyed by the
feature list and the page's bytes), so that training and cross-validation runs after the first
take seconds, not minutes.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from archiver import extract as extract_module
from benchextract import BenchPage, load_pages, tokens, trafilatura_body
from archiver.errors import ArchiverError
from archiver.extract import article_blocks
from archiver.extract.blocks import FEATURE_NAMES, is_boilerplate

LOGGER = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
SETS = {"aeb": ROOT.parent / "shared" / "aeb", "wcxb-dev": ROOT.parent / "shared" / "wcxb-dev"}
CACHE = Path(__file__).resolve().parent / ".cache"


def _code_key() -> str:
    """A digest of the feature names and of the extraction code that cuts blocks (the
    classifier and its model excluded): cached blocks are reused only while it holds."""
    digest = hashlib.sha1("\n".join(FEATURE_NAMES).encode())
    digest.update(Path(__file__).read_bytes())
    package = Path(extract_module.__file__).parent
    for path in sorted(package.glob("*.py")):
        if path.name != "classify.py":
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


_FEATURES_KEY = _code_key()


@dataclass(frozen=True)
class Page:
    """A development page: which set, its registered domain, the page itself."""

    set: str
    domain: str
    page: BenchPage

    @property
    def key(self) -> str:
        return f"{self.set}/{self.page.id}"


@dataclass
class PageBlocks:
    """A page's block features, labels and sample weights (empty when extraction failed)."""

    key: str
    domain: str
    texts: list[str]
    features: list[list[float]]
    boilerplate: list[bool]  # never kept, whatever the model says (`blocks.is_boilerplate`)
    labels: list[int]
    weights: list[float]


def registered_domain(url: str) -> str:
    """The registered domain of a URL (`www.bbc.co.uk` -> `bbc.co.uk`)."""
    from tld import get_fld

    domain = get_fld(url, fail_silently=True)
    if domain:
        return str(domain).lower()
    host = (urlsplit(url).hostname or url).lower()
    return host.removeprefix("www.")


def load_sets(names: Iterable[str] = tuple(SETS), dirs: dict[str, Path] | None = None
              ) -> list[Page]:
    """Every page of the named sets, in a stable order."""
    pages: list[Page] = []
    for name in names:
        directory = (dirs or {}).get(name) or SETS[name]
        for page in load_pages(directory):
            pages.append(Page(name, registered_domain(page.url), page))
    return pages


def _grams(words: Sequence[str]) -> set[tuple[str, ...]]:
    return set(zip(words, words[1:], words[2:], words[3:]))


def label_blocks(texts: Sequence[str], truth: str) -> tuple[list[int], list[float]]:
    """Labels (1: article text) and weights (the block's share of the true body's words, so
    that every page counts alike, as in the metric) of a page's blocks."""
    truth_words = tokens(truth)
    grams = _grams(truth_words)
    lines = {" ".join(tokens(line)) for line in truth.splitlines()}
    joined = " " + " ".join(truth_words) + " "
    size = max(len(truth_words), 20)
    labels: list[int] = []
    weights: list[float] = []
    for text in texts:
        words = tokens(text)
        if len(words) >= 4:
            mine = _grams(words)
            label = sum(1 for g in mine if g in grams) >= 0.5 * len(mine)
        elif words:
            key = " ".join(words)
            label = key in lines or (len(words) >= 2 and f" {key} " in joined)
        else:
            label = False
        labels.append(int(label))
        weights.append(min(1.0, (len(words) + 3) / size))
    return labels, weights


def _cache_path(kind: str, page: Page) -> Path:
    digest = hashlib.sha1(page.page.content).hexdigest()[:16]
    return CACHE / kind / page.set / f"{page.page.id}-{digest}.pickle"


def page_blocks(page: Page) -> PageBlocks:
    """A page's labelled blocks, from the cache when the features and page are unchanged."""
    path = _cache_path(f"blocks-{_FEATURES_KEY}", page)
    if path.exists():
        cached: PageBlocks = pickle.loads(path.read_bytes())
        return cached
    try:
        blocks = article_blocks(page.page.content, page.page.url)
    except ArchiverError as exc:
        LOGGER.info("%s: no blocks: %s", page.key, exc)
        blocks = []
    texts = [b.text for b in blocks]
    labels, weights = label_blocks(texts, page.page.truth)
    result = PageBlocks(page.key, page.domain, texts, [b.features for b in blocks],
                        [is_boilerplate(b) for b in blocks], labels, weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(result))
    return result


def trafilatura_text(page: Page) -> str:
    """trafilatura's body for a page, as `archiver bench extract` runs it (cached)."""
    path = _cache_path("trafilatura", page)
    if path.exists():
        return path.read_text(encoding="utf-8")
    text = trafilatura_body(page.page)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text
