"""From the body classifier's verdicts to the body's paragraphs (the generic layer's last step).

    assemble_body(texts, verdicts, evidence) -> (paragraphs, extractor name)

Pure functions over block texts and verdicts, so that the cross-validation benchmark can
assemble bodies from cached blocks exactly as `extract_article` does from a page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from archiver.extract.body import words
from archiver.extract.classify import Verdicts
from archiver.extract.patterns import CHROME_PHRASE, SHORT_BLOCK
from archiver.extract.text import is_date_text, squash


def drop_dates(paragraphs: Sequence[str]) -> list[str]:
    """Remove lines that are only a date (a dateline left from the article header)."""
    return [p for p in paragraphs if not is_date_text(p)]


def drop_title(paragraphs: Sequence[str], title: str) -> list[str]:
    """Remove the title (and chrome-phrase lines) from the top of a body."""
    key = squash(title).lower()
    out = drop_dates(paragraphs)
    while out and (out[0].lower() == key or (len(out[0]) <= SHORT_BLOCK and
                                                 CHROME_PHRASE.fullmatch(out[0]))):
        out.pop(0)
    return out


def is_complete(candidate: Sequence[str], reference: Sequence[str]) -> bool:
    """Whether JSON-LD text holds (nearly) all of what the page shows as its body."""
    cand, ref = words(candidate), words(reference)
    if not cand:
        return False
    if not ref:
        return len(cand) >= 50
    if len(cand) < 0.9 * len(ref):
        return False
    seen = set(cand)
    covered = sum(1 for w in ref if w in seen)
    return covered >= 0.95 * len(ref)


@dataclass(frozen=True)
class BodyEvidence:
    """What the generic layer weighs besides the blocks: the title, the JSON-LD articleBody's
    paragraphs (title dropped; empty when there is none), the paragraphs of the densest
    container and a second extractor's (`second.py`); the last two are computed only when
    asked for."""

    title: str
    structured: list[str] = field(default_factory=list)
    fallback: Callable[[], list[str]] = list
    second: Callable[[], list[str]] = list


def assemble_body(texts: Sequence[str], verdicts: Verdicts, evidence: BodyEvidence
                  ) -> tuple[list[str], str]:
    """The kept blocks' text (a line the page repeats kept once, title and datelines
    dropped); a second extractor's body instead where the classifier is in doubt about the
    page and that extractor finds one; JSON-LD articleBody where it is complete; the densest
    container's paragraphs where nothing is kept. Returns the paragraphs and the layer's name."""
    if verdicts.unsure:
        second = evidence.second()
        if second:
            return second, "trafilatura"
    kept = list(dict.fromkeys(t for t, k in zip(texts, verdicts.keep) if k))
    generic = drop_title(kept, evidence.title)
    if evidence.structured and is_complete(evidence.structured, generic):
        return list(evidence.structured), "json-ld"
    if generic:
        return generic, "generic"
    paragraphs = drop_title(evidence.fallback(), evidence.title)
    if paragraphs:
        return paragraphs, "fallback"
    return [], ""
