"""Whatever the markup, extraction returns an Article or raises ExtractError, nothing else.

Hostile variants are generated from real pages of both development sets (a fixed-seed sample,
so the run is fast and repeatable): pages cut at random offsets, class and id tokens holding
every ASCII punctuation character, unclosed and misnested tags; and from nothing: empty and
whitespace-only documents, 5 MB pages on a single line. The sets themselves are extracted whole
by tests/test_extraction_sets.py. A missing set fails the run.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.errors import ExtractError
from archiver.extract import extract_article

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SEED = 13
SAMPLE = 10  # pages per set
FIVE_MB = 5_000_000
PUNCTUATION = string.punctuation  # all 32 ASCII punctuation characters


def _sample(name: str) -> list[tuple[str, str, str]]:
    """(id, url, html) of a fixed-seed sample of a development set's pages."""
    root = SHARED / name
    if not (root / "ground-truth.json").is_file():
        pytest.fail(f"{root} is missing: the hostile-page test needs ../shared/{name}")
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    ids = random.Random(SEED).sample(sorted(truth), SAMPLE)
    pages = []
    for page_id in ids:
        plain, packed = root / "html" / f"{page_id}.html", root / "html" / f"{page_id}.html.gz"
        raw = plain.read_bytes() if plain.exists() else gzip.decompress(packed.read_bytes())
        pages.append((page_id, truth[page_id].get("url") or "https://example.com/a",
                      raw.decode("utf-8", "replace")))
    return pages


def _punctuated(html: str, chars: str) -> str:
    """Every class and id attribute rewritten to tokens that hold the given punctuation."""
    cycle = iter(chars * (len(html) // 20 + 1))

    def token(match: re.Match[str]) -> str:
        a, b = next(cycle), next(cycle)
        value = f"x{a}y {a} {b}z md:mr-[25%] u-m@s !hidden {a}{b}".replace('"', "&quot;")
        return f'{match.group(1)}="{value}"'

    return re.sub(r'\b(class|id)="[^"]*"', token, html)


def _misnested(html: str, rng: random.Random) -> str:
    """End tags shuffled among themselves: every element closed by some other one."""
    ends = re.findall(r"</[a-zA-Z][a-zA-Z0-9]*\s*>", html)
    rng.shuffle(ends)
    replacements = iter(ends)
    return re.sub(r"</[a-zA-Z][a-zA-Z0-9]*\s*>", lambda _: next(replacements), html)


def _variants() -> Iterator[tuple[str, str, str | bytes]]:
    """(label, url, content) of every hostile variant."""
    rng = random.Random(SEED)
    offset = 0
    for name in ("aeb", "wcxb-dev"):
        for page_id, url, html in _sample(name):
            for cut in sorted(rng.sample(range(1, len(html)), 3)):
                yield f"{name}/{page_id} cut at {cut}", url, html[:cut]
            chars = PUNCTUATION[offset:] + PUNCTUATION[:offset]
            offset = (offset + 7) % len(PUNCTUATION)
            yield f"{name}/{page_id} punctuated classes", url, _punctuated(html, chars)
            yield f"{name}/{page_id} unclosed", url, re.sub(r"</[a-zA-Z][^>]*>", "", html)
            yield f"{name}/{page_id} misnested", url, _misnested(html, rng)
    every = " ".join(f'<div class="a{c}b {c}" id="i{c}d"><p class="p{c}">Text with {c} in it, '
                     f"long enough to be a paragraph of an article page.</p></div>"
                     for c in PUNCTUATION)
    yield "every punctuation character", "https://example.com/a", f"<html><body>{every}</body></html>"
    soup = ("<div><p><b>bold <i>both</b> italic</i></p><table><div>cell?</table><li>loose"
            "<ul><li>one<li>two</ul></li><a href='/x'><a href='/y'>nested links</a></a>"
            "<form><form>twice</form><select><div>in select</div></select></span></div></p>")
    yield "unclosed and misnested soup", "https://example.com/a", soup * 50
    for label, content in (("empty", b""), ("spaces", b"   "), ("whitespace", "\n\t\r \u00a0\u3000"),
                           ("nul", b"\x00"), ("bom only", b"\xef\xbb\xbf"), ("utf-16 bom", b"\xff\xfe"),
                           ("empty comment", "<!---->"), ("empty html", "<html></html>"),
                           ("only a doctype", "<!DOCTYPE html>")):
        yield label, "https://example.com/a", content


def _five_mb_pages() -> Iterator[tuple[str, str]]:
    _, _, real = _sample("wcxb-dev")[0]
    line = re.sub(r"[\r\n]+", " ", real)
    yield "a real page on one line, repeated to 5 MB", (line * (FIVE_MB // len(line) + 1))[:FIVE_MB]
    body = "word " * (FIVE_MB // 5)
    yield "one 5 MB paragraph", f"<html><body><article><h1>T</h1><p>{body}</p></article></body></html>"
    yield "5 MB of '<'", "<" * FIVE_MB
    tags = '<div class="a&quot;b {c} [x]">' * (FIVE_MB // 24)
    yield "5 MB of open tags with odd classes", tags


def _outcome(content: str | bytes, url: str) -> str | None:
    """None when extraction returned an Article or raised ExtractError; else what it raised."""
    try:
        extract_article(content, url)
    except ExtractError:
        return None
    except Exception as exc:  # noqa: BLE001 - the point of the test is to catch anything else
        return f"{type(exc).__name__}: {exc}"
    return None


def test_hostile_variants_raise_nothing_but_extract_error() -> None:
    crashes = []
    count = 0
    for label, url, content in _variants():
        count += 1
        failure = _outcome(content, url)
        if failure:
            crashes.append(f"{label}: {failure}")
    assert count > 100
    assert not crashes, "\n".join(crashes)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("index", range(4))
def test_five_mb_single_line_pages_raise_nothing_but_extract_error(index: int) -> None:
    label, page = list(_five_mb_pages())[index]
    assert len(page) >= FIVE_MB - 100 and "\n" not in page
    assert _outcome(page, "https://example.com/a") is None, label
