"""Page bodies as the archive keeps them (`pages`): compressed, with their digest and size.

Packing (`pack_body`) is pure, so worker processes do it and the one process that writes SQLite
only inserts the result (`insert_page`); `fetched_of` turns a stored row back into the `Fetched`
record it was stored from.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
import threading
from typing import Any

import zstandard

from archiver.errors import StoreError
from archiver.models import Fetched, PackedBody

BODY_CODEC = "zstd"  # pages.body_codec of new pages; pages stored before migration 0003: gzip
ZSTD_LEVEL = 3  # about gzip -6's size on HTML, at a quarter of its CPU
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_MAGIC = b"\x1f\x8b"

_codecs = threading.local()  # a compressor per thread: making one costs a third of a page's compression


def compress(content: bytes) -> bytes:
    """A page body as `pages.body` keeps it (zstd, one frame with its size in the header)."""
    compressor = getattr(_codecs, "zstd", None)
    if compressor is None:
        compressor = _codecs.zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return compressor.compress(content)


def decompress(blob: bytes) -> bytes:
    """A stored page body, whichever codec stored it (told apart by its magic bytes)."""
    if blob[:4] == _ZSTD_MAGIC:
        return zstandard.ZstdDecompressor().decompress(blob)
    if blob[:2] == _GZIP_MAGIC:
        return gzip.decompress(blob)
    raise StoreError("a stored page body is neither zstd nor gzip: the archive is damaged")


def pack_body(content: bytes) -> PackedBody:
    """A body as `pages` stores it (pure: workers call it so the writer does not have to)."""
    return PackedBody(compress(content), hashlib.sha256(content).hexdigest(), len(content), BODY_CODEC)


def insert_page(conn: sqlite3.Connection, fetched: Fetched, packed: PackedBody | None = None) -> int:
    """Insert one page (in the caller's transaction); its row id."""
    packed = packed or pack_body(fetched.content)
    length = fetched.header("content-length")
    cur = conn.execute(
        """INSERT INTO pages (url, final_url, status, content_type, charset, etag, last_modified,
               content_length, body, body_codec, body_size, sha256, fetched_at, duration, headers)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        (
            fetched.url,
            fetched.final_url,
            fetched.status,
            fetched.content_type or None,
            fetched.charset,
            fetched.header("etag"),
            fetched.header("last-modified"),
            int(length) if length and length.isdigit() else None,
            packed.blob,
            packed.codec,
            packed.size,
            packed.sha256,
            fetched.fetched_at,
            fetched.duration,
            json.dumps([[name, value] for name, value in fetched.headers], ensure_ascii=False),
        ),
    )
    return int(cur.lastrowid or 0)


def _page_headers(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The page's response headers: as stored, or rebuilt from its columns for older pages."""
    if row.get("headers"):
        return tuple((str(name), str(value)) for name, value in json.loads(row["headers"]))
    headers: list[tuple[str, str]] = []
    if row["content_type"]:
        kind = row["content_type"]
        headers.append(("Content-Type", f"{kind}; charset={row['charset']}" if row["charset"] else kind))
    if row["etag"]:
        headers.append(("ETag", row["etag"]))
    if row["last_modified"]:
        headers.append(("Last-Modified", row["last_modified"]))
    return tuple(headers)


def fetched_of(row: dict[str, Any]) -> Fetched:
    """A `pages` row as the `Fetched` record it was stored from (body decompressed)."""
    return Fetched(
        url=row["url"],
        final_url=row["final_url"],
        status=row["status"],
        headers=_page_headers(row),
        content=decompress(row["body"]),
        fetched_at=row["fetched_at"],
        duration=row["duration"] or 0.0,
    )
