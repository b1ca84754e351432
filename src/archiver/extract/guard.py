"""Cheap checks on raw markup before it reaches an HTML parser.

Deeply nested markup makes HTML tree construction quadratic (a 100,000-deep page takes minutes
in lexbor and lxml alike), so it is refused before parsing. Only pages with more tags than the
limit (none of the 181 benchmark pages) pay for the scan.
"""

from __future__ import annotations

import re

MAX_DEPTH = 4000  # parsing cost grows with depth squared: ~0.1 s at 4,000, minutes at 100,000
_VOID = "area|base|br|col|embed|hr|img|input|link|meta|param|source|track|wbr|p|li|dt|dd|option|tr|td|th"
# "" for an opening tag, "/" for a closing one; void and implicitly closed elements are left out
_TAG = re.compile(r"<(/?)(?!(?:%s)[\s/>])[a-zA-Z]" % _VOID, re.IGNORECASE)


def nesting_depth(text: str, stop_at: int = MAX_DEPTH) -> int:
    """The deepest nesting of elements that need a closing tag, counted up to `stop_at`."""
    depth = deepest = 0
    for flag in _TAG.findall(text):
        if flag:
            if depth:
                depth -= 1
        else:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest >= stop_at:
                    break
    return deepest


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when the markup nests elements `limit` or more levels deep."""
    if text.count("<") < limit:  # fewer tags than that cannot nest that deep (most pages)
        return False
    return nesting_depth(text, limit) >= limit
