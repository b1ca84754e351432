"""The held-out-style site of issue 14 crawled by the real `archiver crawl`: 1,000 articles at
short numeric URLs (`/news/17.html`), no site file, started from its section pages, which mix
the article cards with navigation, tag, author, pagination, "most read" and footer links. The
site is tests/heldout.py's, served on 127.0.0.1 by this script.

    .venv/bin/python benchmarks/heldout_crawl.py                       # 1,000 articles, 8 sections
    .venv/bin/python benchmarks/heldout_crawl.py --articles 3000

Prints the command's summary line and exit status, the articles archived out of the site's, the
chrome pages fetched (none should be), and how many of the article links the URL shape alone
(`archiver.urls.looks_like_article`, discovery before this change) would have queued.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.heldout import chrome_paths, make_site, section_paths  # noqa: E402

from archiver.localserver import serve  # noqa: E402
from archiver.urls import looks_like_article  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--sections", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "site"
        titles = make_site(root, articles=args.articles, sections=args.sections)
        db = Path(tmp) / "archive.db"
        with serve(root) as server:
            command = [sys.executable, "-m", "archiver", "crawl", "--db", str(db), "--allow-private",
                       "--host-delay", "0", "--log-format", "plain"]
            for path in section_paths(args.sections):
                command += ["--start", server.base_url + path]
            print("$ archiver crawl --allow-private --host-delay 0 --log-format plain "
                  + " ".join(f"--start {server.base_url}{p}" for p in section_paths(args.sections)))
            started = time.monotonic()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            took = time.monotonic() - started
            gets = [path for _, method, path, _ in server.log.entries if method == "GET"]
        with sqlite3.connect(db) as conn:
            archived = {url.removeprefix(server.base_url) for (url,) in conn.execute("SELECT url FROM articles")}
            shapes = conn.execute("SELECT shape, articles, others FROM url_shapes ORDER BY articles DESC LIMIT 3").fetchall()
    print(done.stdout.strip())
    print(f"exit status {done.returncode}, {took:.1f} s")
    print(f"archived {len(archived & set(titles))} of the site's {len(titles)} articles "
          f"({len(archived - set(titles))} other pages stored as articles)")
    chrome = sorted(set(gets) & set(chrome_paths(args.sections)))
    print(f"chrome pages fetched: {len(chrome)}{' ' + str(chrome[:10]) if chrome else ''}")
    by_shape = sum(looks_like_article(server.base_url + path) for path in titles)
    print(f"article links the URL shape alone would have queued: {by_shape} of {len(titles)}")
    print(f"URL shapes learned (shape, articles, not): {shapes}")


if __name__ == "__main__":
    main()
