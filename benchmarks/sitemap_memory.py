"""Peak memory of reading a huge sitemap: each size read by `archiver.discover.discover` in a
fresh process (so its peak RSS is that read's alone), plain and gzipped.

    .venv/bin/python benchmarks/sitemap_memory.py                       # 100,000 and 1,000,000 entries
    .venv/bin/python benchmarks/sitemap_memory.py --entries 1000000 --entries 2000000

Prints, per document: its size, the links read (the protocol's 50,000 cap), seconds and the
peak RSS of the process that read it, beside the RSS of a process that only imported archiver
(the floor).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READ = """
import json, sys, time
from pathlib import Path
from archiver.discover import discover
content = Path(sys.argv[1]).read_bytes() if sys.argv[1] != "-" else b""
started = time.monotonic()
found = discover(content, "https://news.example/sitemap.xml", "application/xml") if content else None
took = time.monotonic() - started
del content
# VmHWM (this process's peak RSS): ru_maxrss would carry the parent's peak across exec on Linux
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"links": len(found.articles) if found else 0, "notes": list(found.notes) if found else [],
                  "seconds": round(took, 2), "peak_rss_mb": round(int(peak.split()[1]) / 1024, 1)}))
"""


def sitemap(entries: int) -> bytes:
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
    rows = b"".join(b"<url><loc>https://news.example/news/%07d.html</loc></url>\n" % i for i in range(entries))
    return head + rows + b"</urlset>\n"


def read(path: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", READ, path], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, action="append", help="entries in a sitemap (repeatable)")
    args = parser.parse_args()
    floor = read("-")
    print(f"a process that only imports archiver: peak RSS {floor['peak_rss_mb']} MB")
    print(f"{'entries':>10} {'form':>5} {'bytes':>12} {'links read':>10} {'seconds':>8} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for entries in args.entries or [100_000, 1_000_000]:
            plain = sitemap(entries)
            for form, body in (("xml", plain), ("gz", gzip.compress(plain, compresslevel=6, mtime=0))):
                path = Path(tmp) / f"sitemap-{entries}.{form}"
                path.write_bytes(body)
                got = read(str(path))
                print(f"{entries:>10} {form:>5} {len(body):>12} {got['links']:>10} {got['seconds']:>8} "
                      f"{got['peak_rss_mb']:>12}")
                path.unlink()
            del plain
    print(f"(the process that made the documents: peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, not counted above)")


if __name__ == "__main__":
    main()
