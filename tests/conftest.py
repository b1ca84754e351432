from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.config import Settings
from archiver.localserver import SiteServer, serve
from support.faultserver import FIXTURES, FaultHandler

ROOT = Path(__file__).resolve().parent.parent
# the benchmark scripts (benchextract, benchcrawl, extractcv ...) are the source checkout's, not the package's
sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.fixture(scope="session")
def server() -> Iterator[SiteServer]:
    """The fault-injecting test server on 127.0.0.1, serving fixtures/."""
    with serve(FIXTURES, FaultHandler) as srv:
        yield srv


@pytest.fixture()
def base_url(server: SiteServer) -> str:
    return server.base_url


@pytest.fixture()
def settings() -> Settings:
    """Fast, local settings: private addresses allowed, tiny backoff, short deadline."""
    return Settings(allow_private=True, backoff_base=0.01, backoff_max=0.05, deadline=5.0)


class SleepRecorder:
    """An injected sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture()
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture()
def tiny_disk(tmp_path):
    """A 2 MiB tmpfs (root only; the test is skipped elsewhere), for writes that fill the disk."""
    import subprocess

    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture()
def run_cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the real `archiver` command in a subprocess; returns CompletedProcess."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
        full_env = {
            **os.environ,
            "ARCHIVER_BACKOFF_BASE": "0.01",
            "ARCHIVER_BACKOFF_MAX": "0.05",
            "ARCHIVER_RETRY_AFTER_CAP": "0",
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, "-m", "archiver", *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=tmp_path,
            timeout=timeout,
            check=False,
        )

    return run
