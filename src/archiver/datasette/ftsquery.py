"""What a reader types in the search box, as an SQLite FTS5 query (pure: no database).

FTS5's own syntax is kept: `rail OR ferry`, `council NOT election`, `council AND (rail OR
ferry)`, `harb*`, `"rail line"` (a phrase), `NEAR(rail ferry, 5)`, `title:storm`. What FTS5 would
refuse in a word that readers type all the time is quoted, so it is searched for as the words it
holds: `covid-19` becomes `"covid-19"` (the phrase "covid 19"), `Iran's` becomes `"Iran's"`,
`U.S.` becomes `"U.S."`. A word after a space that starts with `-` excludes it (`rail -ferry` is
`rail NOT ferry`), as in web search engines. An unclosed quote is closed. Operators must be in
capitals (`or` is a word like any other). Accents are optional either way: the archive's index
folds them (`cafe` finds "Café").

What is still not a query (`rail OR`, `NOT ferry`, `(rail`) is left to FTS5, whose message the
search page shows with how to write one.
"""

from __future__ import annotations

import re

OPERATORS = frozenset({"AND", "OR", "NOT"})
COLUMNS = ("title", "subtitle", "body")

# FTS5 barewords: ASCII letters, digits, '_', the substitute character and anything non-ASCII
_BAREWORD = re.compile(r"[A-Za-z0-9_\x1a\u0080-\U0010ffff]+")
_CHUNK = re.compile(r'\s+|"(?:[^"]|"")*"?|[(),]|[^\s"(),]+')
_CLOSED = re.compile(r'"(?:[^"]|"")*"')


def quoted(text: str) -> str:
    """`text` as one FTS5 string (a phrase of the words it holds)."""
    return '"' + text.replace('"', '""') + '"'


def _word(chunk: str) -> str:
    """One bareword chunk as FTS5 reads it: kept when FTS5 can, else quoted; `*` kept at the end."""
    prefix = chunk.endswith("*") and len(chunk) > 1
    stem = chunk.rstrip("*") if prefix else chunk
    if _BAREWORD.fullmatch(stem):
        return stem + ("*" if prefix else "")
    return quoted(stem) + (" *" if prefix else "")


def fts_query(text: str) -> str:
    """The FTS5 query for `text` as typed (see the module notes); '' for nothing to search."""
    out: list[str] = []
    near = 0  # brackets open since a NEAR(: commas there are its syntax, elsewhere nothing
    depth = 0
    for match in _CHUNK.finditer(text.strip()):
        chunk = match.group()
        if chunk.isspace():
            continue
        if chunk.startswith('"'):
            out.append(chunk if _CLOSED.fullmatch(chunk) else chunk + '"')  # close an open quote
        elif chunk == "(":
            depth += 1
            if out and out[-1] == "NEAR":
                near = depth
            out.append(chunk)
        elif chunk == ")":
            if depth == near:
                near = 0
            depth = max(0, depth - 1)
            out.append(chunk)
        elif chunk == ",":
            if near:
                out.append(",")
        elif chunk in OPERATORS or chunk == "NEAR":
            out.append(chunk)
        elif chunk.startswith("-") and len(chunk) > 1 and out and out[-1] not in OPERATORS | {"(", "NEAR"}:
            out += ["NOT", _word(chunk[1:])]
        else:
            column, colon, rest = chunk.partition(":")
            if colon and column.lower() in COLUMNS and rest:
                out.append(f"{column.lower()}: {_word(rest)}")
            else:
                out.append(_word(chunk))
    # FTS5 wants NEAR's bracket right after it, and no space before a comma
    return " ".join(out).replace("NEAR (", "NEAR(").replace(" ,", ",")


def literal_query(text: str) -> str:
    """`text` searched for as plain words, every one required, no operator read (the fallback
    offered when `text` is not a query FTS5 can read)."""
    words = [w for w in re.split(r'[\s"(),*:^+-]+', text) if w and w not in OPERATORS | {"NEAR"}]
    return " ".join(quoted(w) for w in words)
