"""Score article-body extraction on a benchmark directory, archiver beside trafilatura.

A benchmark directory holds `html/<id>.html` (or `.html.gz`) and `ground-truth.json`
(`{id: {"articleBody": text, "url": url}}`), the layout of the Article Extraction Benchmark.
The metric is the benchmark's own: shingles of four `\\w+` tokens, per-document precision and
recall averaged over the corpus, F1 their harmonic mean, and accuracy as exact token equality.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from archiver.errors import ArchiverError, ConfigError

_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class BenchPage:
    """One benchmark page: its id, URL, raw bytes and the true article body."""

    id: str
    url: str
    content: bytes
    truth: str


@dataclass(frozen=True)
class Score:
    """Corpus scores of one extractor."""

    name: str
    precision: float
    recall: float
    f1: float
    accuracy: float
    pages: int
    seconds: float
    failures: int = 0

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class BenchReport:
    """The scores of archiver and of trafilatura from one run, and archiver's predictions."""

    archiver: Score
    trafilatura: Score | None
    predictions: dict[str, str] = field(default_factory=dict)

    @property
    def speed_ratio(self) -> float | None:
        """archiver's pages per second over trafilatura's (above 1: archiver is faster)."""
        if self.trafilatura is None:
            return None
        return self.archiver.pages_per_second / self.trafilatura.pages_per_second


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Multiset of contiguous n-grams of tokens; a short text is one shingle of all its tokens."""
    toks = tokens(text)
    if len(toks) < n:
        return Counter([tuple(toks)]) if toks else Counter()
    return Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))


def page_scores(truth: str, pred: str) -> tuple[float, float]:
    """Precision and recall of one prediction against its ground truth."""
    t, p = shingles(truth), shingles(pred)
    tp = sum(min(count, p[s]) for s, count in t.items())
    fp = sum(max(0, count - t[s]) for s, count in p.items())
    fn = sum(max(0, count - p[s]) for s, count in t.items())
    precision = tp / (tp + fp) if fp else 1.0
    recall = tp / (tp + fn) if fn else 1.0
    return precision, recall


def score(
    name: str, pages: Iterable[BenchPage], predictions: dict[str, str], seconds: float,
    failures: int = 0,
) -> Score:
    """Corpus precision, recall, F1 and accuracy of `predictions` (id -> text)."""
    precisions: list[float] = []
    recalls: list[float] = []
    exact = 0
    count = 0
    for page in pages:
        count += 1
        pred = predictions.get(page.id, "")
        p, r = page_scores(page.truth, pred)
        if tokens(pred):
            precisions.append(p)
        if tokens(page.truth):
            recalls.append(r)
        if tokens(pred) == tokens(page.truth):
            exact += 1
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(name, precision, recall, f1, exact / count if count else 0.0, count, seconds,
                 failures)


def load_pages(directory: str | Path) -> list[BenchPage]:
    """Read a benchmark directory; raises ConfigError when its layout is wrong."""
    root = Path(directory)
    truth_path = root / "ground-truth.json"
    try:
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{truth_path}: cannot read ground truth: {exc}") from exc
    if not isinstance(truth, dict):
        raise ConfigError(f"{truth_path}: expected an object of id -> {{articleBody, url}}")
    pages: list[BenchPage] = []
    for page_id in sorted(truth):
        entry = truth[page_id]
        if not isinstance(entry, dict):
            raise ConfigError(f"{truth_path}: {page_id}: expected an object")
        plain, packed = root / "html" / f"{page_id}.html", root / "html" / f"{page_id}.html.gz"
        try:
            if plain.exists():
                content = plain.read_bytes()
            else:
                content = gzip.decompress(packed.read_bytes())
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ConfigError(f"{root}: page {page_id}: cannot read its html: {exc}") from exc
        pages.append(BenchPage(page_id, str(entry.get("url") or ""), content,
                               str(entry.get("articleBody") or "")))
    if not pages:
        raise ConfigError(f"{truth_path}: no pages")
    return pages


def _timed(extract: Callable[[BenchPage], str], page: BenchPage) -> tuple[str, float, bool]:
    started = time.perf_counter()
    try:
        text, failed = extract(page), False
    except ArchiverError:
        text, failed = "", True
    return text, time.perf_counter() - started, failed


def archiver_body(page: BenchPage) -> str:
    from archiver.extract import extract_article

    return extract_article(page.content, page.url).body


def trafilatura_body(page: BenchPage) -> str:
    import trafilatura

    # trafilatura decodes bytes itself, as a user calling it would let it.
    return trafilatura.extract(page.content, include_comments=False) or ""


def run_bench(directory: str | Path, *, compare: bool = True) -> BenchReport:
    """Extract every page with archiver (and trafilatura, unless compare is False) and score both.

    The two extractors take turns page by page, after one warm-up call each, so a machine
    shared with other work slows both alike and the speed ratio stays fair."""
    pages = load_pages(directory)
    extractors: list[tuple[str, Callable[[BenchPage], str]]] = [("archiver", archiver_body)]
    if compare:
        extractors.append(("trafilatura", trafilatura_body))
    for _, extract in extractors:
        _timed(extract, pages[0])
    predictions: dict[str, dict[str, str]] = {name: {} for name, _ in extractors}
    seconds = dict.fromkeys(predictions, 0.0)
    failures = dict.fromkeys(predictions, 0)
    for page in pages:
        for name, extract in extractors:
            text, elapsed, failed = _timed(extract, page)
            predictions[name][page.id] = text
            seconds[name] += elapsed
            failures[name] += failed
    ours = score("archiver", pages, predictions["archiver"], seconds["archiver"],
                 failures["archiver"])
    theirs = None
    if compare:
        theirs = score("trafilatura", pages, predictions["trafilatura"], seconds["trafilatura"],
                       failures["trafilatura"])
    return BenchReport(ours, theirs, predictions["archiver"])


def format_report(report: BenchReport) -> str:
    """The two rows side by side, as plain text."""
    header = f"{'extractor':<12} {'F1':>6} {'prec':>6} {'recall':>6} {'acc':>6} {'pages/s':>8}"
    rows = [header]
    for s in (report.archiver, report.trafilatura):
        if s is None:
            continue
        rows.append(
            f"{s.name:<12} {s.f1:6.3f} {s.precision:6.3f} {s.recall:6.3f} {s.accuracy:6.3f} "
            f"{s.pages_per_second:8.1f}"
        )
    ratio = report.speed_ratio
    if ratio is not None:
        rows.append(f"speed ratio archiver/trafilatura: {ratio:.2f}x ({report.archiver.pages} pages)")
    return "\n".join(rows)


def write_predictions(report: BenchReport, path: str | Path) -> None:
    """Write archiver's output as `{id: {"articleBody": text}}`."""
    data = {pid: {"articleBody": text} for pid, text in report.predictions.items()}
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def benchmarks_dir() -> Path:
    """The source checkout's `benchmarks/` (beside `src/`); ConfigError when not there."""
    root = Path(__file__).resolve().parent.parent.parent
    found = root / "benchmarks"
    if not (found / "extractcv.py").is_file():
        raise ConfigError(
            f"{found}: no benchmarks here; cross-validation runs from a source checkout "
            "(git clone, then pip install -e '.[train]'), not from an installed package")
    return found


def run_checkout_cv(folds: int = 5) -> str:
    """Run the checkout's domain-grouped cross-validation (benchmarks/extractcv.py) and
    return its table; ConfigError when the checkout or the train extra is missing."""
    import importlib
    import sys

    directory = str(benchmarks_dir())
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        extractcv = importlib.import_module("extractcv")
        importlib.import_module("sklearn")
    except ImportError as exc:
        raise ConfigError(f"cross-validation needs the train extra ({exc.name} is missing): "
                          "pip install -e '.[train]'") from exc
    return str(extractcv.format_cv(extractcv.run_cv(folds)))
