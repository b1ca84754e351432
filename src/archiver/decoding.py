"""Reading a response body within a byte cap, decompressing in bounded steps.

    read_body(chunks, url, limit, encoding=..., declared=..., truncate=False) -> bytes

`chunks` are the body's bytes as read from the socket (de-chunked, still content-encoded). The
cap holds before and after decompression, and each decoder yields at most about the room left,
so a compression bomb stops at the cap with bounded memory. A corrupt or unsupported encoding
is a `TransportError`, a body over the cap `TooLarge`, unless `truncate` asks for the first
`limit` bytes. No network here: `fetch` hands in the stream.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable

from archiver.errors import TooLarge, TransportError

CHUNK = 64 * 1024


class Decoder:
    def feed(self, data: bytes, room: int) -> Iterable[bytes]:
        """Yield decoded pieces of at most about `room` bytes at a time."""
        raise NotImplementedError

    def flush(self) -> bytes:
        return b""


class Identity(Decoder):
    def feed(self, data: bytes, room: int) -> Iterable[bytes]:
        yield data


class _Zlib(Decoder):
    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._obj = zlib.decompressobj(wbits)
        self._first = True

    def feed(self, data: bytes, room: int) -> Iterable[bytes]:
        limit = max(1, min(room + 1, CHUNK))
        pending = data
        while pending:
            try:
                out = self._obj.decompress(pending, limit)
            except zlib.error:
                if self._first and self._wbits == zlib.MAX_WBITS:
                    # "deflate" sent raw, without the zlib wrapper, as some servers do
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._wbits = -zlib.MAX_WBITS
                    self._first = False
                    continue
                raise
            self._first = False
            yield out
            pending = self._obj.unconsumed_tail
            if self._obj.eof:
                break

    def flush(self) -> bytes:
        return self._obj.flush()


class _Brotli(Decoder):
    def __init__(self) -> None:
        import brotli

        self._obj = brotli.Decompressor()
        self._error = brotli.error

    def feed(self, data: bytes, room: int) -> Iterable[bytes]:
        limit = max(1, min(room + 1, CHUNK))
        try:
            yield self._obj.process(data, output_buffer_limit=limit)
            while not self._obj.can_accept_more_data():
                yield self._obj.process(b"", output_buffer_limit=limit)
        except self._error as exc:
            raise zlib.error(str(exc)) from exc


class _Zstd(Decoder):
    _STEP = 256  # input bytes per call: a few zstd blocks at most, so output stays small

    def __init__(self) -> None:
        import zstandard

        self._obj = zstandard.ZstdDecompressor().decompressobj()
        self._error = zstandard.ZstdError

    def feed(self, data: bytes, room: int) -> Iterable[bytes]:
        try:
            for i in range(0, len(data), self._STEP):
                yield self._obj.decompress(data[i : i + self._STEP])
        except self._error as exc:
            raise zlib.error(str(exc)) from exc


def decoders(content_encoding: str | None) -> list[Decoder]:
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    chain: list[Decoder] = []
    for coding in reversed(codings):
        if coding in ("identity", ""):
            continue
        if coding in ("gzip", "x-gzip"):
            chain.append(_Zlib(zlib.MAX_WBITS | 16))
        elif coding == "deflate":
            chain.append(_Zlib(zlib.MAX_WBITS))
        elif coding == "br":
            chain.append(_Brotli())
        elif coding == "zstd":
            chain.append(_Zstd())
        else:
            raise ValueError(coding)
    return chain or [Identity()]


class _Enough(Exception):
    """Raised inside the body reader once a truncating read has its bytes."""


async def read_body(
    chunks: AsyncIterator[bytes],
    url: str,
    limit: int,
    *,
    encoding: str | None,
    declared: str | None,
    truncate: bool = False,
) -> bytes:
    """The decoded body, at most `limit` bytes (see the module docstring)."""
    try:
        chain = decoders(encoding)
    except ValueError as exc:
        raise TransportError(url, f"unsupported Content-Encoding {exc.args[0]!r}") from None
    if declared and declared.isdigit() and not encoding and int(declared) > limit and not truncate:
        raise TooLarge(url, f"body of {int(declared)} bytes is over the {limit}-byte cap")
    out = bytearray()
    downloaded = 0

    identity = isinstance(chain[0], Identity)

    def push(data: bytes, level: int) -> None:
        if level == len(chain):
            out.extend(data)
            if len(out) > limit:
                if truncate:
                    del out[limit:]
                    raise _Enough
                raise TooLarge(url, f"body passed the {limit}-byte cap (after decompression)")
            return
        for piece in chain[level].feed(data, limit - len(out)):
            if piece:
                push(piece, level + 1)

    try:
        async for raw in chunks:
            downloaded += len(raw)
            if downloaded > limit and not truncate:
                raise TooLarge(url, f"body passed the {limit}-byte cap")
            push(raw, 1 if identity else 0)
        for level, decoder in enumerate(chain):
            tail = decoder.flush()
            if tail:
                push(tail, level + 1)
    except _Enough:
        pass  # truncate: the first `limit` bytes are all that is wanted
    except zlib.error as exc:
        raise TransportError(url, f"corrupt {encoding} body: {exc}") from None
    return bytes(out)
