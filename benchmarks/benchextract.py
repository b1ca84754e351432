"""`archiver bench extract`: score extraction on a benchmark directory, archiver beside
trafilatura, in one run.

A benchmark directory holds `html/<id>.html` (or `.html.gz`) and `ground-truth.json`
(`{id: {"articleBody": text, "url": url, ...}}`), the layout of the Article Extraction Benchmark.
The body metric is the benchmark's own: shingles of four `\\w+` tokens, per-document precision and
recall averaged over the corpus, F1 their harmonic mean, and accuracy as exact token equality.
Where the truth has them (the WCXB layout), `with`/`without` snippets and `title`, `author` and
`publish_date` are scored too (`benchmeta`). A page whose extraction raises scores as
empty and is counted under its exception's type; the run goes on.
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

from benchmeta import (
    MetaGuess,
    MetaScore,
    MetaTruth,
    SnippetScore,
    score_meta,
    score_snippets,
)
from archiver.errors import ConfigError

_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class BenchPage:
    """One benchmark page: its id, URL, raw bytes, the true article body and, where the set
    has them, its true metadata and the snippets a correct body must hold and must not."""

    id: str
    url: str
    content: bytes
    truth: str
    meta: MetaTruth | None = None
    with_snippets: tuple[str, ...] = ()
    without_snippets: tuple[str, ...] = ()


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
    failure_types: tuple[tuple[str, int], ...] = ()  # (exception type, pages), most first

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class BenchReport:
    """The scores of archiver and of trafilatura from one run, and archiver's predictions;
    snippet and metadata scores by extractor name, where the set has that truth."""

    archiver: Score
    trafilatura: Score | None
    predictions: dict[str, str] = field(default_factory=dict)
    snippets: dict[str, SnippetScore] = field(default_factory=dict)
    meta: dict[str, MetaScore] = field(default_factory=dict)

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
    failures: int | Counter[str] = 0,
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
    types = tuple(failures.most_common()) if isinstance(failures, Counter) else ()
    total = sum(failures.values()) if isinstance(failures, Counter) else failures
    return Score(name, precision, recall, f1, exact / count if count else 0.0, count, seconds,
                 total, types)


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
        pages.append(BenchPage(
            page_id, str(entry.get("url") or ""), content, str(entry.get("articleBody") or ""),
            _meta_truth(entry), _snippets(entry.get("with")), _snippets(entry.get("without"))))
    if not pages:
        raise ConfigError(f"{truth_path}: no pages")
    return pages


def _meta_truth(entry: dict[str, object]) -> MetaTruth | None:
    fields = {key: entry.get(key) for key in ("title", "author", "publish_date")}
    if not any(key in entry for key in fields):
        return None
    title, author, day = (value if isinstance(value, str) and value.strip() else None
                          for value in fields.values())
    return MetaTruth(title, author, day)


def _snippets(value: object) -> tuple[str, ...]:
    return tuple(s for s in value if isinstance(s, str) and s.strip()) \
        if isinstance(value, list) else ()


Extracted = tuple[str, MetaGuess | None]


def _timed(extract: Callable[[BenchPage], Extracted], page: BenchPage
           ) -> tuple[Extracted, float, str | None]:
    """What `extract` made of `page`, the seconds it took, and the exception type's name if it
    raised (any exception: the benchmark counts a failure and goes on)."""
    started = time.perf_counter()
    try:
        found, failed = extract(page), None
    except Exception as exc:  # noqa: BLE001 - scored as empty and counted by type
        found, failed = ("", None), type(exc).__name__
    return found, time.perf_counter() - started, failed


def archiver_body(page: BenchPage) -> str:
    from archiver.extract import extract_article

    return extract_article(page.content, page.url).body


def trafilatura_body(page: BenchPage) -> str:
    import trafilatura

    # trafilatura decodes bytes itself, as a user calling it would let it.
    return trafilatura.extract(page.content, include_comments=False) or ""


def archiver_article(page: BenchPage) -> Extracted:
    from archiver.extract import extract_article

    article = extract_article(page.content, page.url)
    return article.body, MetaGuess(article.title, article.authors, article.published_at)


def trafilatura_article(page: BenchPage) -> Extracted:
    return trafilatura_body(page), None


def trafilatura_meta(page: BenchPage) -> MetaGuess:
    """trafilatura's metadata of a page (`bare_extraction`), outside the timed body run."""
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(page.content, url=page.url or None,
                                          with_metadata=True, include_comments=False)
    except Exception:  # noqa: BLE001 - trafilatura failing on a page scores as nothing found
        return MetaGuess()
    if doc is None or isinstance(doc, dict):
        return MetaGuess()
    authors = tuple(a.strip() for a in (doc.author or "").split(";") if a.strip())
    return MetaGuess(doc.title, authors, doc.date)


def run_bench(directory: str | Path, *, compare: bool = True) -> BenchReport:
    """Extract every page with archiver (and trafilatura, unless compare is False) and score both.

    The two extractors take turns page by page, after one warm-up call each, so a machine
    shared with other work slows both alike and the speed ratio stays fair. trafilatura's
    metadata (`bare_extraction`) is read outside the timed runs, where the set has metadata."""
    pages = load_pages(directory)
    extractors: list[tuple[str, Callable[[BenchPage], Extracted]]] = [
        ("archiver", archiver_article)]
    if compare:
        extractors.append(("trafilatura", trafilatura_article))
    for _, extract in extractors:
        _timed(extract, pages[0])
    predictions: dict[str, dict[str, str]] = {name: {} for name, _ in extractors}
    guesses: dict[str, dict[str, MetaGuess]] = {name: {} for name, _ in extractors}
    seconds = dict.fromkeys(predictions, 0.0)
    failures: dict[str, Counter[str]] = {name: Counter() for name in predictions}
    for page in pages:
        for name, extract in extractors:
            (text, guess), elapsed, failed = _timed(extract, page)
            predictions[name][page.id] = text
            seconds[name] += elapsed
            if failed:
                failures[name][failed] += 1
            if page.meta is not None:
                guesses[name][page.id] = guess if guess is not None else trafilatura_meta(page)
    scores = {name: score(name, pages, predictions[name], seconds[name], failures[name])
              for name in predictions}
    truths = {p.id: p.meta for p in pages if p.meta is not None}
    with_snippets = any(p.with_snippets or p.without_snippets for p in pages)
    return BenchReport(
        scores["archiver"], scores.get("trafilatura"), predictions["archiver"],
        snippets={name: score_snippets(pages, predictions[name]) for name in predictions}
        if with_snippets else {},
        meta={name: score_meta(name, truths, guesses[name]) for name in predictions}
        if truths else {},
    )


def _figure(value: float | None) -> str:
    return f"{value:6.3f}" if value is not None else f"{'-':>6}"


def format_report(report: BenchReport) -> str:
    """The extractors side by side, as plain text: body scores, snippet pass rates and metadata
    accuracy where the set has them, speed, failures by exception type."""
    header = f"{'extractor':<12} {'F1':>6} {'prec':>6} {'recall':>6} {'acc':>6}"
    if report.snippets:
        header += f" {'with':>6} {'w/out':>6}"
    if report.meta:
        header += f" {'title':>6} {'author':>6} {'date':>6}"
    header += f" {'pages/s':>8} {'failed':>6}"
    rows = [header]
    for s in (report.archiver, report.trafilatura):
        if s is None:
            continue
        row = f"{s.name:<12} {s.f1:6.3f} {s.precision:6.3f} {s.recall:6.3f} {s.accuracy:6.3f}"
        if report.snippets:
            snip = report.snippets[s.name]
            row += f" {_figure(snip.with_rate)} {_figure(snip.without_rate)}"
        if report.meta:
            meta = report.meta[s.name]
            row += "".join(f" {_figure(meta.accuracy(f))}" for f in ("title", "author", "date"))
        rows.append(row + f" {s.pages_per_second:8.1f} {s.failures:6d}")
    ratio = report.speed_ratio
    if ratio is not None:
        rows.append(f"speed ratio archiver/trafilatura: {ratio:.2f}x ({report.archiver.pages} pages)")
    if report.meta:
        scored = next(iter(report.meta.values())).scored
        rows.append("metadata scored on pages whose truth states it: " +
                    ", ".join(f"{f} {scored[f]}" for f in ("title", "author", "date")))
    for s in (report.archiver, report.trafilatura):
        if s is not None and s.failure_types:
            rows.append(f"{s.name} failures: " +
                        ", ".join(f"{kind} {n}" for kind, n in s.failure_types))
    return "\n".join(rows)


def write_predictions(report: BenchReport, path: str | Path) -> None:
    """Write archiver's output as `{id: {"articleBody": text}}`."""
    data = {pid: {"articleBody": text} for pid, text in report.predictions.items()}
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
