"""Score what the body alone does not show: snippets, title, authors, publication date.

Snippets (the WCXB layout's `with` / `without`): a snippet is in a text when its `\\w+` tokens,
case-folded, appear there in a row; the pass rates are the share of `with` snippets found and
of `without` snippets absent, over all pages' snippets.

Metadata, by the rules of the WCXB development set's README:

- title: equal after case-folding and squashing punctuation (runs of non-word characters);
- author: every named author of the truth is found among the extracted names (credentials
  such as "Ph.D." or "MS, RD" after a name are not names);
- date: the same calendar day (the extracted date as the page states it, offset ignored).

A field is scored only on pages whose truth states it; a page that failed scores as nothing found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

FIELDS = ("title", "author", "date")
_TOKEN = re.compile(r"\w+")

_PUNCT = re.compile(r"[\W_]+")
_NAME_SPLIT = re.compile(r"\s*(?:,|;|\||&|\band\b|\bund\b|\bet\b|\by\b)\s*", re.IGNORECASE)
# Post-nominal letters and other credentials written after a name ("Dylan Bailey, MS, RD").
_CREDENTIAL = re.compile(
    r"(?:[A-Z]{2,6}|Ph\.?\s?D\.?|M\.?D\.?|Jr\.?|Sr\.?|[A-Z][a-z]?\.[A-Z]\.?|[A-Z-]+\s*\d+|"
    r"[A-Z]{1,4}[a-z]?[A-Z]{1,4})",
)


@dataclass(frozen=True)
class MetaTruth:
    """One page's true metadata; None where the page states none."""

    title: str | None = None
    author: str | None = None
    date: str | None = None  # YYYY-MM-DD

    def value(self, name: str) -> str | None:
        return {"title": self.title, "author": self.author, "date": self.date}[name]


@dataclass(frozen=True)
class MetaGuess:
    """What an extractor found on one page."""

    title: str | None = None
    authors: tuple[str, ...] = ()
    date: str | None = None  # ISO 8601 date or datetime


def normal(text: str) -> str:
    """Case-folded, punctuation squashed to single spaces."""
    return _PUNCT.sub(" ", text.casefold()).strip()


def true_names(author: str) -> list[str]:
    """The named authors in a ground-truth author string, credentials left out."""
    names = []
    for part in _NAME_SPLIT.split(author):
        part = part.strip(" .")
        if not part or _CREDENTIAL.fullmatch(part) or not re.search(r"[^\W\d_]", part):
            continue
        names.append(normal(part))
    return [n for n in names if n]


def title_matches(truth: str, guess: str | None) -> bool:
    return bool(guess) and normal(truth) == normal(guess or "")


def authors_match(truth: str, guess: Iterable[str]) -> bool:
    """Every named author of `truth` is one of the `guess` names (both normalised)."""
    found = {normal(g) for g in guess}
    names = true_names(truth)
    return bool(names) and all(name in found for name in names)


def date_matches(truth: str, guess: str | None) -> bool:
    return bool(guess) and (guess or "")[:10] == truth[:10]


@dataclass(frozen=True)
class MetaScore:
    """Accuracy of one extractor on each metadata field, over the pages whose truth has it."""

    name: str
    right: Mapping[str, int]
    scored: Mapping[str, int]

    def accuracy(self, field_name: str) -> float | None:
        n = self.scored.get(field_name, 0)
        return self.right.get(field_name, 0) / n if n else None


def score_meta(name: str, truths: Mapping[str, MetaTruth],
               guesses: Mapping[str, MetaGuess]) -> MetaScore:
    """Field accuracies of `guesses` (page id -> what was found) against `truths`."""
    right = dict.fromkeys(FIELDS, 0)
    scored = dict.fromkeys(FIELDS, 0)
    for page_id, truth in truths.items():
        guess = guesses.get(page_id, MetaGuess())
        # a field is scored only where the truth states it
        if truth.title:
            scored["title"] += 1
            right["title"] += title_matches(truth.title, guess.title)
        if truth.author:
            scored["author"] += 1
            right["author"] += authors_match(truth.author, guess.authors)
        if truth.date:
            scored["date"] += 1
            right["date"] += date_matches(truth.date, guess.date)
    return MetaScore(name, right, scored)


class SnippetPage(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def with_snippets(self) -> tuple[str, ...]: ...
    @property
    def without_snippets(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class SnippetScore:
    """How many `with` snippets an extractor's texts hold and how many `without` ones they lack."""

    with_found: int
    with_total: int
    without_absent: int
    without_total: int

    @property
    def with_rate(self) -> float | None:
        return self.with_found / self.with_total if self.with_total else None

    @property
    def without_rate(self) -> float | None:
        return self.without_absent / self.without_total if self.without_total else None


def _token_line(text: str) -> str:
    return " " + " ".join(_TOKEN.findall(text.casefold())) + " "


def score_snippets(pages: Iterable[SnippetPage], predictions: Mapping[str, str]) -> SnippetScore:
    """Snippet pass rates of `predictions` (page id -> text) over `pages`."""
    found = total = absent = total_without = 0
    for page in pages:
        line = _token_line(predictions.get(page.id, ""))
        for snippet in page.with_snippets:
            key = _token_line(snippet)
            if key.strip():
                total += 1
                found += key in line
        for snippet in page.without_snippets:
            key = _token_line(snippet)
            if key.strip():
                total_without += 1
                absent += key not in line
    return SnippetScore(found, total, absent, total_without)
