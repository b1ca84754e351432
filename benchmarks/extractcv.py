"""Domain-grouped k-fold cross-validation of the body classifier, trafilatura on the same folds.

    python benchmarks/extractcv.py [--folds 5]      (or: archiver bench extract --cv)

The pages of both development sets are grouped by the registered domain of their URL and the
domains dealt into k folds (fixed seed, largest domains first, each to the fold with fewest
pages). Every page's blocks are cut and featured once (and cached, `extractdata.py`); for each
fold a model is trained on the other folds' blocks and the fold's bodies are assembled from
their blocks with it exactly as `extract_article` assembles them (`--end-to-end` extracts the
pages instead, to check that); no fold is scored by a model that saw its domains. The held-out
predictions of all folds are then scored together, per set and over the union, beside
trafilatura's output for the very same pages (the benchmark's metric: mean per-page precision
and recall, F1 their harmonic mean).
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import extractdata
import trainbody
from benchextract import Score, score

from archiver.errors import ArchiverError
from archiver.extract import extract_article
from archiver.extract.assemble import assemble_body
from archiver.extract.classify import BodyModel

LOGGER = logging.getLogger(__name__)
SEED = 13


def folds(pages: Sequence[extractdata.Page], k: int, seed: int = SEED) -> list[int]:
    """A fold number for each page; all pages of a registered domain share one fold."""
    by_domain: dict[str, list[int]] = defaultdict(list)
    for i, page in enumerate(pages):
        by_domain[page.domain].append(i)
    domains = sorted(by_domain)
    random.Random(seed).shuffle(domains)
    domains.sort(key=lambda d: -len(by_domain[d]))  # stable: ties keep the shuffled order
    sizes = [0] * k
    out = [0] * len(pages)
    for domain in domains:
        fold = min(range(k), key=lambda f: (sizes[f], f))
        for i in by_domain[domain]:
            out[i] = fold
        sizes[fold] += len(by_domain[domain])
    return out


@dataclass(frozen=True)
class CVResult:
    """Held-out scores of archiver and of trafilatura, per set and over the union."""

    k: int
    rows: list[tuple[str, Score, Score]]  # (set name or "union", archiver, trafilatura)
    fold_rows: list[tuple[int, Score, Score]]


def held_out_body(data: extractdata.PageBlocks, model: BodyModel) -> str:
    """The body `extract_article` gives a page with `model`, assembled from its cached blocks
    (`assemble.assemble_body`, the extractor's own last step): exact, with no page parsed."""
    texts = data.texts
    verdicts = model.verdicts(data.features, texts, data.boilerplate)
    body, _ = assemble_body(texts, verdicts, data.evidence())
    return "\n\n".join(body)


def _extract(page: extractdata.Page, model: BodyModel) -> str:
    try:
        return extract_article(page.page.content, page.page.url, model=model).body
    except ArchiverError:
        return ""


def run_cv(k: int = 5, sets: Sequence[str] = tuple(extractdata.SETS),
           fit: Callable[[Sequence[extractdata.PageBlocks]], BodyModel] = trainbody.fit,
           end_to_end: bool = False, seed: int = SEED) -> CVResult:
    """Cross-validate the body classifier over `sets` with `k` domain-grouped folds.

    Bodies are assembled from the cached blocks (`held_out_body`); `end_to_end` extracts
    every held-out page with `extract_article` instead (slower, the same figures)."""
    pages = extractdata.load_sets(sets)
    fold_of = folds(pages, k, seed)
    data = [extractdata.page_blocks(p) for p in pages]
    ours: dict[str, str] = {}
    theirs = {p.key: extractdata.trafilatura_text(p) for p in pages}
    for fold in range(k):
        train = [d for d, f in zip(data, fold_of) if f != fold]
        model = fit(train)
        for page, blocks, f in zip(pages, data, fold_of):
            if f == fold:
                ours[page.key] = (_extract(page, model) if end_to_end
                                  else held_out_body(blocks, model))
        LOGGER.info("fold %d/%d done", fold + 1, k)

    def pair(name: str, members: Sequence[extractdata.Page]) -> tuple[Score, Score]:
        bench_pages = [m.page for m in members]
        a = score("archiver", bench_pages, {m.page.id: ours[m.key] for m in members}, 0.0)
        t = score("trafilatura", bench_pages, {m.page.id: theirs[m.key] for m in members}, 0.0)
        return a, t

    rows = []
    for name in sets:
        rows.append((name, *pair(name, [p for p in pages if p.set == name])))
    rows.append(("union", *pair("union", pages)))
    fold_rows = [(f, *pair(str(f), [p for p, g in zip(pages, fold_of) if g == f]))
                 for f in range(k)]
    return CVResult(k, rows, fold_rows)


def format_cv(result: CVResult) -> str:
    """The held-out figures as a plain-text table."""
    header = (f"{'pages':<10} {'n':>5} {'archiver F1':>12} {'P':>6} {'R':>6} "
              f"{'trafilatura F1':>15} {'P':>6} {'R':>6} {'delta':>7}")
    lines = [f"domain-grouped {result.k}-fold cross-validation (held-out pages only)", header]
    for name, a, t in result.rows + [(f"fold {f}", a, t) for f, a, t in result.fold_rows]:
        lines.append(f"{name:<10} {a.pages:>5} {a.f1:12.3f} {a.precision:6.3f} {a.recall:6.3f} "
                     f"{t.f1:15.3f} {t.precision:6.3f} {t.recall:6.3f} {a.f1 - t.f1:+7.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"how the domains are dealt into folds (default {SEED}); a change "
                             "that is real holds under other deals")
    parser.add_argument("--end-to-end", action="store_true",
                        help="extract held-out pages end to end, not from the cached blocks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(format_cv(run_cv(args.folds, end_to_end=args.end_to_end, seed=args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
