"""Trim a body's edges to what an independent extraction agrees with.

Boilerplate that survives one extractor sits at the edges of the body: a teaser list or an
"About us" block after the story, a glued dateline or section banner before it. Two
extractors that choose content differently (our DOM walk of the main node; a readability
scorer that merges like siblings) rarely keep the same boilerplate. So a leading or trailing
paragraph of the chosen body that *no* other candidate holds is dropped; paragraphs in the
middle are never touched, and a body is never trimmed to nothing.

The other candidates are computed lazily and in order, cheapest first: most bodies' edges are
already confirmed by the first, and the costlier one is never built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\w+")
SHORT_WORDS = 8  # a paragraph this short must appear word for word in the other candidate
SHARE = 0.5  # share of a longer paragraph's word 4-grams the other candidate must hold


@dataclass(frozen=True)
class Reference:
    """Another candidate body, indexed for support tests."""

    grams: frozenset[tuple[str, ...]]
    text: str

    @classmethod
    def of(cls, paragraphs: Sequence[str]) -> Reference:
        words = _WORD.findall("\n".join(paragraphs))
        grams = frozenset(zip(words, words[1:], words[2:], words[3:]))
        return cls(grams, " " + " ".join(words) + " ")

    def __bool__(self) -> bool:
        return bool(self.text.strip())

    def supports(self, paragraph: str) -> bool:
        words = _WORD.findall(paragraph)
        if not words:
            return True
        if len(words) < SHORT_WORDS:
            return f" {' '.join(words)} " in self.text
        grams = list(zip(words, words[1:], words[2:], words[3:]))
        return sum(1 for g in grams if g in self.grams) >= SHARE * len(grams)


def trim_unsupported_edges(paragraphs: list[str],
                           candidates: Sequence[Callable[[], list[str]]]) -> list[str]:
    """`paragraphs` without leading and trailing runs that none of `candidates` supports.

    A candidate that comes back empty gives no opinion, and if none gives one, or all would
    trim everything, `paragraphs` is returned unchanged."""
    refs: list[Reference] = []
    pending = list(candidates)

    def supported(paragraph: str) -> bool:
        if any(ref.supports(paragraph) for ref in refs):
            return True
        while pending:
            ref = Reference.of(pending.pop(0)())
            if ref:
                refs.append(ref)
                if ref.supports(paragraph):
                    return True
        return False

    start, end = 0, len(paragraphs)
    while start < end and not supported(paragraphs[start]):
        start += 1
    while end > start and not supported(paragraphs[end - 1]):
        end -= 1
    if not refs or start == end:
        return paragraphs
    return paragraphs[start:end]
