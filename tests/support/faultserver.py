"""The test web server: serves fixtures/ on 127.0.0.1 plus fault routes.

Routes (all GET):
  /flaky/<key>          503 for the first two requests of each key, then the seed page
  /ratelimited/<key>    429 with Retry-After: 7 (seconds) the first time, then the seed page
  /ratelimited-date/<k> 429 with Retry-After as an HTTP date 5 s ahead, then the seed page
  /always-503           503 every time
  /gone                 410
  /pdf                  a PDF document
  /redirect             301 -> /pages/seed-elementor.html
  /redirect-chain/<n>   n redirects, then the seed page
  /redirect-loop        302 to itself
  /redirect-private     302 to http://169.254.169.254/latest/meta-data/
  /redirect-loopback    302 to the same server on 127.0.0.2
  /big                  a body over any small cap (2 MiB)
  /gzip-bomb            gzip that inflates to 100 MiB of zeros (Content-Encoding: gzip)
  /brotli-bomb          brotli that inflates to 100 MiB (Content-Encoding: br)
  /truncated            Content-Length larger than what is sent, then the connection closes
  /slow-drip            one byte a second for a minute
  /reset                part of a body, then a TCP reset
  /truncated-chunked    a chunked body that stops inside a chunk, without the last chunk
  /huge                 a 50 MiB body with Content-Length; /huge-unannounced without it
  /image                a PNG;  /nul-bytes, /invalid-utf8: the seed page with NULs / bad bytes
  /nested               100,000 nested <div>s;  /utf7: a page declaring UTF-7
  /empty                200 text/html with an empty body
  /latin1               an article page encoded as windows-1252, declared in the header
  /set-cookie           sets a session cookie;  /needs-cookie: 403 unless that cookie is sent
  /utf16, /utf16be      the seed page in UTF-16 (little, big endian) without a byte-order mark
  /slow-extract/<key>   a valid article page of 12,000 blocks of text (9 MB): linear work, but
                        seconds of it, far past a test's tiny extract_timeout (`slow_page`)
"""

from __future__ import annotations

import email.utils
import gzip
import threading
import time
from collections import Counter
from pathlib import Path
from typing import ClassVar

from archiver.localserver import SiteHandler

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SEED = FIXTURES / "pages" / "seed-elementor.html"


def slow_page(blocks: int = 12_000) -> bytes:
    """An article page that is slow to extract however good the extractor: `blocks` blocks of a
    hundred words after the article, 9 MB of text (seconds of work at any per-character cost;
    extraction reads a page up to its first 40,000 tags, so a page of many tiny blocks is not)."""
    para = "<p>" + "The council met on Tuesday to discuss the harbour works and their budget. " * 6 + "</p>"
    note = " ".join(f"note{j}" for j in range(100))
    cards = "".join(f'<div class="c{i % 7}"><span>{i} {note}</span></div>' for i in range(blocks))
    return (f"<!DOCTYPE html><html><head><title>A slow page</title></head><body><article>"
            f"<h1>A page that is slow to extract</h1>{para * 6}</article><aside>{cards}</aside>"
            "</body></html>").encode()


def _bomb_gzip() -> bytes:
    return gzip.compress(b"\0" * (100 * 1024 * 1024), compresslevel=9)


def _bomb_brotli() -> bytes:
    import brotli

    return brotli.compress(b"\0" * (100 * 1024 * 1024), quality=5)


class FaultHandler(SiteHandler):
    counts: ClassVar[Counter[str]] = Counter()
    lock = threading.Lock()
    cache: ClassVar[dict[str, bytes]] = {}

    @classmethod
    def hit(cls, key: str) -> int:
        with cls.lock:
            cls.counts[key] += 1
            return cls.counts[key]

    @classmethod
    def cached(cls, name: str, make) -> bytes:  # type: ignore[no-untyped-def]
        with cls.lock:
            if name not in cls.cache:
                cls.cache[name] = make()
            return cls.cache[name]

    @classmethod
    def warm(cls) -> None:
        """Build the bombs ahead of time (so memory measured around a fetch is the client's)."""
        cls.cached("gzip", _bomb_gzip)
        cls.cached("br", _bomb_brotli)

    def seed(self, head: bool) -> None:
        self.send_body(200, SEED.read_bytes(), "text/html; charset=utf-8", head)

    def route(self, path: str, head: bool) -> bool:
        if path.startswith("/flaky/"):
            if self.hit(path) <= 2:
                self.send_body(503, b"busy", "text/plain", head)
            else:
                self.seed(head)
        elif path.startswith("/ratelimited/"):
            if self.hit(path) == 1:
                self.send_body(429, b"slow down", "text/plain", head, Retry_After="7")
            else:
                self.seed(head)
        elif path.startswith("/ratelimited-date/"):
            if self.hit(path) == 1:
                when = email.utils.formatdate(time.time() + 5, usegmt=True)
                self.send_body(429, b"slow down", "text/plain", head, Retry_After=when)
            else:
                self.seed(head)
        elif path in ("/utf16", "/utf16be"):
            text = SEED.read_text(encoding="utf-8").replace('charset="utf-8"', "")
            body = text.encode("utf-16-le" if path == "/utf16" else "utf-16-be")  # no BOM
            self.send_body(200, body, "text/html", head)
        elif path.startswith("/slow-extract/"):
            self.send_body(200, self.cached("slow", slow_page), "text/html; charset=utf-8", head)
        elif path == "/set-cookie":
            self.send_body(200, b"<p>welcome</p>", "text/html", head, Set_Cookie="session=s3cret; Path=/")
        elif path == "/needs-cookie":
            if "session=s3cret" in (self.headers.get("Cookie") or ""):
                self.seed(head)
            else:
                self.send_body(403, b"no session", "text/plain", head)
        elif path == "/always-503":
            self.send_body(503, b"down", "text/plain", head)
        elif path == "/gone":
            self.send_body(410, b"gone", "text/html", head)
        elif path == "/pdf":
            self.send_body(200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf", head)
        elif path == "/redirect":
            self.send_body(301, b"", "text/html", head, Location="/pages/seed-elementor.html")
        elif path.startswith("/redirect-chain/"):
            left = int(path.rsplit("/", 1)[1])
            target = f"/redirect-chain/{left - 1}" if left > 0 else "/pages/seed-elementor.html"
            self.send_body(302, b"", "text/html", head, Location=target)
        elif path == "/redirect-loop":
            self.send_body(302, b"", "text/html", head, Location="/redirect-loop")
        elif path == "/redirect-private":
            self.send_body(302, b"", "text/html", head, Location="http://169.254.169.254/latest/meta-data/")
        elif path == "/redirect-loopback":
            port = self.server.server_address[1]
            self.send_body(302, b"", "text/html", head, Location=f"http://127.0.0.2:{port}/pages/seed-plain.html")
        elif path == "/big":
            self.send_body(200, b"<html><body>" + b"x" * (2 * 1024 * 1024) + b"</body></html>", "text/html", head)
        elif path == "/gzip-bomb":
            body = self.cached("gzip", _bomb_gzip)
            self.send_body(200, body, "text/html", head, Content_Encoding="gzip")
        elif path == "/brotli-bomb":
            body = self.cached("br", _bomb_brotli)
            self.send_body(200, body, "text/html", head, Content_Encoding="br")
        elif path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "100000")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"<html><body><p>only the start")
            self.wfile.flush()
            self.close_connection = True
        elif path == "/reset":
            import socket
            import struct

            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "50000")
            self.end_headers()
            self.wfile.write(b"<html><body><p>the start of a page")
            self.wfile.flush()
            # SO_LINGER 0: close() sends a TCP RST instead of a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif path == "/truncated-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"20\r\n<html><body><p>first chunk ok..\r\n")
            self.wfile.write(b"400\r\nonly part of the second chunk")
            self.wfile.flush()
            self.close_connection = True
        elif path == "/slow-drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "60")
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass  # the client gave up, as it should
        elif path == "/huge":
            size = 50 * 1024 * 1024
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"<p>" + b"a" * (64 * 1024 - 7) + b"</p>\n"
            try:
                for _ in range(size // len(chunk)):
                    self.wfile.write(chunk)
                self.wfile.write(b" " * (size % len(chunk)))
            except OSError:
                pass  # the client stopped reading at its cap
        elif path == "/huge-unannounced":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"<p>" + b"a" * (64 * 1024 - 7) + b"</p>\n"
            try:
                for _ in range(800):  # 50 MiB, no Content-Length
                    self.wfile.write(chunk)
            except OSError:
                pass
            self.close_connection = True
        elif path == "/image":
            self.send_body(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png", head)
        elif path == "/nul-bytes":
            body = SEED.read_bytes().replace(b"<p>", b"<p>\0", 20).replace(b"</h1>", b"\0\0</h1>")
            self.send_body(200, body, "text/html; charset=utf-8", head)
        elif path == "/invalid-utf8":
            body = SEED.read_bytes().replace(b"<p>", b"<p>\xff\xfe\xc3(", 5)
            self.send_body(200, body, "text/html; charset=utf-8", head)
        elif path == "/nested":
            depth = 100_000
            body = (b"<html><head><title>Deep</title></head><body>" + b"<div>" * depth
                    + b"<p>deep text</p>" + b"</div>" * depth + b"</body></html>")
            self.send_body(200, body, "text/html", head)
        elif path == "/utf7":
            body = (b'<html><head><meta charset="utf-7"><title>Seven</title></head><body>'
                    b"<article><h1>Seven</h1><p>+ADw-script+AD4-alert(1)+ADw-/script+AD4- "
                    + b"plain words " * 60 + b"</p></article></body></html>")
            self.send_body(200, body, "text/html; charset=utf-7", head)
        elif path == "/empty":
            self.send_body(200, b"", "text/html", head)
        elif path == "/latin1":
            text = SEED.read_text(encoding="utf-8")
            body = text.replace('charset="utf-8"', "").replace("charset=utf-8", "").encode(
                "windows-1252", errors="xmlcharrefreplace"
            )
            self.send_body(200, body, "text/html; charset=windows-1252", head)
        else:
            return False
        return True
