"""A set of real pages that nothing here was tuned on: the article pages newspaper4k tests with.

    python benchmarks/outsideset.py                 # fetch, lay out and score (archiver vs trafilatura)
    python benchmarks/outsideset.py --layout-only   # only write benchmarks/.cache/newspaper4k/

newspaper4k (MIT licence) ships 23 article pages with the text its tests expect in its source
distribution (`tests/data/html/*.html` with `tests/data/txt/*.txt`): CNN, Time, Wired and
local US news, and pages in Arabic, Burmese, Chinese, Japanese, Korean, Latvian, Spanish and
Thai. This script downloads that one pinned file with pip (checked against its SHA-256), lays
the pairs out as a `bench extract` directory (html/<name>.html + ground-truth.json) and scores
it with the same code and metric as `archiver bench extract`.

The truth is what newspaper's tests expect, not a reviewed article body (its Chinese texts drop
quotation marks, for one), so the figure is a check for large losses on pages and scripts the
development sets hold few of, not a gate: nothing is trained or tuned on it, and no test reads it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import benchextract

SDIST = "newspaper4k-0.9.6.tar.gz"
SDIST_SHA256 = "a3f2f0e017dddb6f1019ee77aaa8980e13e6ecea0b949abc7167aae4770d2d0e"
CACHE = Path(__file__).resolve().parent / ".cache" / "newspaper4k"


def fetch_sdist(cache: Path) -> bytes:
    """The pinned source distribution, from the cache or through pip (so that pip's index,
    proxy and certificate settings apply); raises SystemExit when it cannot be had."""
    path = cache / SDIST
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                   "newspaper4k", "--dest", str(cache), "newspaper4k==0.9.6"]
        if subprocess.run(command, check=False).returncode != 0 or not path.exists():
            raise SystemExit(f"could not download {SDIST} with pip ({' '.join(command)}); "
                             "check the package index is reachable, or put the file in "
                             f"{cache}")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{path}: SHA-256 {digest}, expected {SDIST_SHA256}; "
                         "delete it and run again")
    return data


def lay_out(sdist: bytes, out: Path) -> int:
    """Write the sdist's page/text pairs under `out` as html/<name>.html + ground-truth.json
    ({name: {url, articleBody}}); returns the number of pages. A page without an expected text
    (home pages, redirects) is left out."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(sdist), mode="r:gz") as archive:
        for member in archive.getmembers():
            parts = PurePosixPath(member.name).parts
            if member.isfile() and len(parts) == 5 and parts[1:3] == ("tests", "data") and \
                    parts[3] in {"html", "txt", "metadata"}:
                handle = archive.extractfile(member)
                if handle is not None:
                    files[f"{parts[3]}/{parts[4]}"] = handle.read()
    truth: dict[str, dict[str, str]] = {}
    (out / "html").mkdir(parents=True, exist_ok=True)
    for key in sorted(files):
        kind, name = key.split("/", 1)
        stem = name.removesuffix(".html")
        text = files.get(f"txt/{stem}.txt")
        if kind != "html" or not name.endswith(".html") or text is None:
            continue
        url = ""
        meta = files.get(f"metadata/{stem}.json")
        if meta is not None:
            try:
                url = str(json.loads(meta).get("url") or "")
            except ValueError:
                url = ""
        (out / "html" / name).write_bytes(files[key])
        truth[stem] = {"url": url, "articleBody": text.decode("utf-8", "replace")}
    (out / "ground-truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1),
                                           encoding="utf-8")
    return len(truth)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=CACHE, help="where to lay the set out")
    parser.add_argument("--layout-only", action="store_true", help="do not score")
    args = parser.parse_args(argv)
    pages = lay_out(fetch_sdist(args.dir), args.dir)
    print(f"{pages} pages laid out in {args.dir}")
    if not args.layout_only:
        print(benchextract.format_report(benchextract.run_bench(str(args.dir), compare=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
