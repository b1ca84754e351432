"""archiver as a user installs it: a wheel built from this tree, installed into a fresh virtual
environment outside the checkout, crawling a site whose file sits in `selectors/` of the working
directory. Offline: the wheel is built without build isolation and installed without its
dependencies, which the fresh environment reads from the test environment's site-packages
(added as a path, so the source checkout's editable install is not seen)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from archiver.localserver import serve

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

STORY = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Story {i} about the river ferry</title>
<meta property="article:published_time" content="2026-11-2{i}T08:00:00Z"></head>
<body><nav><a href="/">Home</a></nav><article><h1>Story {i} about the river ferry</h1>
<div class="text"><p>The river ferry returned to service on Monday after a month of repairs, the
operator said, and the first crossing left on time with forty passengers aboard.</p>
<p>Engineers replaced the drive shaft and repainted the hull; the council paid for half of the
work from its transport budget, a spokesman confirmed.</p></div>
<p class="share">Share this story</p></article></body></html>
"""

SITE_FILE = """[site]
name = "ferry"
domains = ["127.0.0.1"]

[discovery]
sections = ["{origin}/"]
article_patterns = ['^{pattern}/news/story-\\d+\\.html$']

[article]
title = "h1"
body = "article .text"
"""


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin/` of a fresh venv holding archiver installed from a wheel of this tree."""
    work = tmp_path_factory.mktemp("installed")
    tree = work / "tree"  # a copy, so the build writes nothing into the checkout
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    # the bundled example site files are a symlink to selectors/: copied as files, as a wheel holds them
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = work / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(wheels), str(tree)], cwd=work)
    (wheel,) = wheels.glob("archiver-*.whl")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=work)
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], cwd=work)
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  cwd=work).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "test-dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    return venv / "bin"


def test_the_installed_package_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = run([str(installed / "python"), "-c", "import archiver; print(archiver.__file__)"],
                cwd=tmp_path).stdout.strip()
    assert where.startswith(str(installed.parent)) and "site-packages" in where
    assert not Path(where).is_relative_to(ROOT)
    examples = run([str(installed / "python"), "-c",
                    "from archiver.config import BUNDLED_SITES; print(sorted(p.name for p in BUNDLED_SITES.glob('*.toml')))"],
                   cwd=tmp_path).stdout
    assert "seed-news.toml" in examples  # the example site files travel in the wheel
    modules = run([str(installed / "python"), "-c", "import archiver, pkgutil; "
                   "print(sorted(m.name for m in pkgutil.walk_packages(archiver.__path__, 'archiver.')))"],
                  cwd=tmp_path).stdout
    assert "archiver.fetch" in modules and "bench" not in modules  # benchmarks stay in the checkout
    done = subprocess.run([str(installed / "archiver"), "bench", "extract", str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "archiver bench needs a source checkout" in done.stderr, done.stderr


def test_an_installed_archiver_crawls_the_site_files_of_its_working_directory(
    installed: Path, tmp_path: Path
) -> None:
    www = tmp_path / "www"
    (www / "news").mkdir(parents=True)
    for i in (1, 2, 3):
        (www / "news" / f"story-{i}.html").write_text(STORY.format(i=i))
    links = "".join(f'<li><a href="/news/story-{i}.html">Story {i} about the river ferry</a></li>'
                    for i in (1, 2, 3))
    (www / "index.html").write_text(f"<html><body><h1>News</h1><ul>{links}</ul></body></html>")
    project = tmp_path / "project"
    (project / "selectors").mkdir(parents=True)
    env = {key: value for key, value in os.environ.items() if key not in ("ARCHIVER_SITES", "PYTHONPATH")}
    with serve(www) as server:
        origin = server.base_url
        (project / "selectors" / "ferry.toml").write_text(
            SITE_FILE.format(origin=origin, pattern=origin.replace(".", "\\.")))
        done = run([str(installed / "archiver"), "crawl", "--site", "ferry", "--allow-private",
                    "--log-format", "plain"], cwd=project, env=env)
    assert "new 3" in done.stdout, done.stdout
    with sqlite3.connect(project / "data" / "archive.db") as db:
        rows = db.execute("SELECT title, body FROM articles ORDER BY title").fetchall()
    assert [title for title, _ in rows] == [f"Story {i} about the river ferry" for i in (1, 2, 3)]
    assert all(body.startswith("The river ferry returned") and "Share this" not in body for _, body in rows)
