"""Turn the bytes of an HTML page into text, whatever its server and markup claim.

Order of evidence: a byte-order mark, then the NUL bytes of UTF-16 or UTF-32 text without one
(markup is mostly ASCII, so every second or every fourth byte is zero: strict UTF-8 would
accept those bytes and keep the NULs as text), then the HTTP charset, then `<meta charset>` or
`<meta http-equiv="Content-Type">` in the first 4 KiB, then detection with charset_normalizer,
then UTF-8. Encodings that can smuggle markup past filters (UTF-7 and friends) or that Python
does not know are ignored, and invalid bytes are replaced, so decoding never raises.
"""

from __future__ import annotations

import codecs
import re

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Encodings never honoured from a declaration: they let "<script>" hide in plain ASCII bytes,
# or are not text encodings at all.
_UNSAFE = {"utf-7", "utf_7", "u7", "unicode-1-1-utf-7", "csunicode11utf7", "utf-7-imap",
           "hz", "hz-gb-2312"}
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:\-]+)""", re.IGNORECASE
)
# WHATWG: pages labelled latin-1 / ascii are really windows-1252.
_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "ascii": "cp1252",
            "us-ascii": "cp1252", "iso8859-1": "cp1252", "x-sjis": "shift_jis",
            "gb2312": "gb18030", "gbk": "gb18030"}


def normalize_charset(label: str | None) -> str | None:
    """A Python codec name for a declared charset label, or None if unknown or unsafe."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if not name or name in _UNSAFE:
        return None
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    if info.name in {"utf-7", "rot-13", "hz"} or not getattr(info, "_is_text_encoding", True):
        return None
    # A page cannot really be UTF-16/32 without a BOM and still carry an ASCII meta tag.
    if info.name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return info.name


def sniff_meta_charset(head: bytes) -> str | None:
    """The charset a page declares in a meta tag within its first bytes, if any."""
    match = _META_CHARSET.search(head[:4096])
    if not match:
        return None
    return normalize_charset(match.group(1).decode("ascii", "replace"))


def _strict(content: bytes, encoding: str) -> str | None:
    try:
        return content.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def detect_charset(content: bytes) -> str | None:
    """Best guess from charset_normalizer, or None."""
    from charset_normalizer import from_bytes

    best = from_bytes(content[:65536]).best()
    return normalize_charset(best.encoding) if best is not None else None


def sniff_wide(content: bytes, sample: int = 4096) -> str | None:
    """'utf-16-le', 'utf-16-be', 'utf-32-le' or 'utf-32-be' when the first bytes are mostly
    ASCII in that form without a byte-order mark (zero bytes in one position of each 2 or 4);
    None otherwise (a few stray NULs in a UTF-8 page are not enough)."""
    head = content[: sample - sample % 4]
    if len(head) < 16 or head.count(0) < len(head) // 3:
        return None
    for width, names in ((4, ("utf-32-le", "utf-32-be")), (2, ("utf-16-le", "utf-16-be"))):
        lanes = [head[lane::width] for lane in range(width)]
        zero = [lane.count(0) / len(lane) for lane in lanes]
        if width == 4:
            if min(zero[1:]) > 0.9 and zero[0] < 0.5:
                return names[0]
            if min(zero[:3]) > 0.9 and zero[3] < 0.5:
                return names[1]
        else:
            if zero[1] > 0.9 and zero[0] < 0.5:
                return names[0]
            if zero[0] > 0.9 and zero[1] < 0.5:
                return names[1]
    return None


def decode_html(content: bytes | str, charset: str | None = None) -> str:
    """Decode an HTML page to text; never raises on bad bytes or labels."""
    if isinstance(content, str):
        return content
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content[len(bom):].decode(encoding, errors="replace")
    wide = sniff_wide(content)
    if wide is not None:
        return content.decode(wide, errors="replace")
    declared = [normalize_charset(charset), sniff_meta_charset(content)]
    if declared[0] == "cp1252" and not content.isascii():
        # Servers default to latin-1 for pages that are really UTF-8; valid multi-byte UTF-8
        # is almost never intended cp1252 text.
        text = _strict(content, "utf-8")
        if text is not None:
            return text
    for label in declared:
        if label is None:
            continue
        text = _strict(content, label)
        if text is not None:
            return text
    # Most of the web is UTF-8: a strict decode that succeeds is a better answer than detection.
    text = _strict(content, "utf-8")
    if text is not None:
        return text
    if "utf-8" in declared:
        # Declared UTF-8 with a few bad bytes (a broken include, a truncated character) is still
        # UTF-8: replace the bad bytes rather than guess another encoding for the whole page.
        text = content.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        if bad <= max(16, sum(1 for ch in text if ch > "\x7f") // 20):
            return text
    detected = detect_charset(content)
    encoding = detected or next((e for e in declared if e), None) or "utf-8"
    return content.decode(encoding, errors="replace")
