"""`archiver crawl --max-duration 20` against a section page linking two hostile pages and 20
normal ones, all served on 127.0.0.1 by this script; the crawl runs as the real command.

    .venv/bin/python benchmarks/hostile_crawl.py                 # defaults: extract_timeout 30 s
    .venv/bin/python benchmarks/hostile_crawl.py --max-duration 20 --extract-timeout 10

The hostile pages are the ones issue 14 measured: `'<div></x>' * 200000` (stray end tags that
slipped past the nesting guard: minutes of extraction) and an article with 20,000 share links
(the chrome pass was quadratic in them). Prints how long the command took against
max_duration + extract_timeout (and + deadline, the hard bound), what it archived, and how the
two hostile pages were recorded.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archiver.localserver import SiteHandler, serve

PARA = ("<p>The harbour authority said on Tuesday that the new breakwater would protect the inner "
        "basin from winter swells, allowing fishing boats to stay in port during storms that used "
        "to force them up the estuary. Engineers expect the work to take two seasons.</p>")


def normal(i: int) -> bytes:
    title = f"Harbour works, part {i}: what the council decided this week"
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><nav><a href='/'>Home</a></nav><main><article><h1>{title}</h1>"
            f"{PARA * 5}</article></main></body></html>").encode()


def stray_end_tags() -> bytes:
    return ("<html><head><title>Stray end tags</title></head><body>" + "<div></x>" * 200_000
            + "</body></html>").encode()


def share_links() -> bytes:
    links = "".join(f'<a href="https://social.example/share?u={i}">Share</a> ' for i in range(20_000))
    return (f"<html><head><title>Share links</title></head><body><article><h1>Share links</h1>{PARA * 3}"
            f"<div class='share'>{links}</div></article></body></html>").encode()


PAGES: dict[str, bytes] = {}


class Handler(SiteHandler):
    def route(self, path: str, head: bool) -> bool:
        if path == "/robots.txt":
            self.send_body(200, b"User-agent: *\nAllow: /\n", "text/plain", head)
        elif path == "/section/":
            links = "".join(f'<li><a href="/news/{i}.html">Harbour works, part {i}: what the council decided '
                            f"this week</a></li>" for i in range(20))
            links += ('<li><a href="/news/stray-end-tags.html">A page of two hundred thousand stray end tags</a></li>'
                      '<li><a href="/news/share-links.html">A page with twenty thousand share links in it</a></li>')
            body = f"<html><body><main><h1>News</h1><ul>{links}</ul></main></body></html>".encode()
            self.send_body(200, body, "text/html; charset=utf-8", head)
        elif path in PAGES:
            self.send_body(200, PAGES[path], "text/html; charset=utf-8", head)
        else:
            return False
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-duration", type=float, default=20.0)
    parser.add_argument("--extract-timeout", type=float, default=None, help="default: the setting's default")
    args = parser.parse_args()
    PAGES.update({f"/news/{i}.html": normal(i) for i in range(20)})
    PAGES["/news/stray-end-tags.html"] = stray_end_tags()
    PAGES["/news/share-links.html"] = share_links()
    from archiver.config import Settings

    timeout = args.extract_timeout or Settings().extract_timeout
    with tempfile.TemporaryDirectory() as tmp, serve(tmp, Handler) as server:
        db = Path(tmp) / "archive.db"
        command = [sys.executable, "-m", "archiver", "crawl", "--db", str(db), "--allow-private",
                   "--host-delay", "0.2", "--max-duration", f"{args.max_duration:g}", "--log-format", "plain",
                   "--start", server.base_url + "/section/"]
        env = None
        if args.extract_timeout:
            import os

            env = {**os.environ, "ARCHIVER_EXTRACT_TIMEOUT": str(args.extract_timeout)}
        print("$", " ".join(command[2:]))
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        took = time.monotonic() - started
        print(done.stdout.strip())
        with sqlite3.connect(db) as conn:
            archived = conn.execute(
                "SELECT count(*) FROM articles WHERE url NOT LIKE '%stray%' AND url NOT LIKE '%share-links%'"
            ).fetchone()[0]
            hostile = conn.execute(
                "SELECT f.url, f.error_kind, f.error_message, a.id IS NOT NULL FROM fetches f "
                "LEFT JOIN articles a ON a.url = f.url WHERE f.url LIKE '%stray%' OR f.url LIKE '%share-links%'"
            ).fetchall()
            run = conn.execute("SELECT status, stop_reason, duration FROM crawl_runs").fetchone()
    deadline = Settings().deadline
    print(f"exit status {done.returncode}; the command took {took:.1f} s "
          f"(max_duration {args.max_duration:g} + extract_timeout {timeout:g} = {args.max_duration + timeout:g} s; "
          f"+ deadline {deadline:g} = {args.max_duration + deadline:g} s)")
    print(f"archived {archived} of the 20 normal pages; crawl_runs: {run}")
    for url, kind, message, stored in hostile:
        outcome = "archived (extracted within the timeout)" if stored else f"{kind}: {message}"
        print(f"  {url.rsplit('/', 1)[1]}: {outcome}")


if __name__ == "__main__":
    main()
