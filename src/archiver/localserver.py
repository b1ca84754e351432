"""A small threaded HTTP server on 127.0.0.1 for the demo site, benchmarks and tests.

It serves a directory (with `index.html` for folders and sensible content types), logs every
request with its time, and answers HEAD and conditional GETs (ETag / Last-Modified) the way a
static web server does. Tests extend `SiteHandler` with fault routes.
"""

from __future__ import annotations

import email.utils
import hashlib
import mimetypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".gz": "application/gzip",
}


@dataclass
class RequestLog:
    """Every request the server answered: (monotonic time, method, path, headers)."""

    entries: list[tuple[float, str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self.lock:
            self.entries.append((time.monotonic(), method, path, headers))

    def paths(self) -> list[str]:
        with self.lock:
            return [path for _, _, path, _ in self.entries]


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], root: Path):
        super().__init__(address, handler)
        self.root = root
        self.log = RequestLog()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"


class SiteHandler(BaseHTTPRequestHandler):
    server: SiteServer
    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes; with Nagle's algorithm on, the second waits
    # for the client's delayed ACK: 40 ms a request on a kept-alive connection
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # silence stderr logging
        return

    def do_HEAD(self) -> None:
        self.serve(head=True)

    def do_GET(self) -> None:
        self.serve(head=False)

    def serve(self, head: bool) -> None:
        self.server.log.add(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        path = unquote(urlsplit(self.path).path)
        if not self.route(path, head):
            self.serve_file(path, head)

    def route(self, path: str, head: bool) -> bool:
        """Hook for subclasses: answer special paths and return True."""
        return False

    def send_body(
        self, status: int, body: bytes, content_type: str, head: bool = False, **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def serve_file(self, path: str, head: bool) -> None:
        root = self.server.root.resolve()
        target = (root / path.lstrip("/")).resolve()
        if root not in target.parents and target != root:
            self.send_body(404, b"not found", "text/plain", head)
            return
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            self.send_body(404, b"<html><body><h1>Not found</h1></body></html>", "text/html", head)
            return
        body = target.read_bytes()
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        modified = email.utils.formatdate(target.stat().st_mtime, usegmt=True)
        if self.headers.get("If-None-Match") == etag or (
            self.headers.get("If-Modified-Since") == modified and not self.headers.get("If-None-Match")
        ):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        kind = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self.send_body(200, body, kind, head, ETag=etag, Last_Modified=modified)


@contextmanager
def serve(
    root: str | Path, handler: type[SiteHandler] = SiteHandler, host: str = "127.0.0.1", port: int = 0
) -> Iterator[SiteServer]:
    """Serve `root` on host:port (0 picks a free port) in a background thread."""
    server = SiteServer((host, port), handler, Path(root))
    thread = threading.Thread(target=server.serve_forever, name="archiver-localserver", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
