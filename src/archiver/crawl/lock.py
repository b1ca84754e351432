"""One crawl per archive: an fcntl lock on a file beside the archive's real path."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archiver.errors import CrawlLocked
from archiver.store import check_archive_path

EXIT_LOCKED = 75  # EX_TEMPFAIL: another crawl holds the lock; cron can simply try again later


def lock_path(db_path: str | Path) -> Path:
    """The crawl lock file of an archive: beside the file its path resolves to (symlinks and
    relative paths followed), so every path that names one archive names one lock."""
    real = Path(os.path.realpath(db_path))
    return real.with_name(real.name + ".lock")


@contextmanager
def crawl_lock(db_path: str | Path) -> Iterator[Path]:
    """Hold the archive's crawl lock (an fcntl lock on its lock file, released by the kernel
    however the process ends; the file is removed when the lock is given up); raise CrawlLocked
    at once when another crawl holds it."""
    check_archive_path(db_path)  # its folder exists (or is the default data/, made now)
    path = lock_path(db_path)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise CrawlLocked(
                f"{db_path}: another crawl (pid {holder}) is running on this archive; "
                "this run exits without crawling (it holds the lock file "
                f"{path}; try again when it has finished)"
            ) from None
        # the crawl that held it may have removed the file between our open and our lock: then
        # we hold a lock on a file no one else will open; start again with the one there now
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        try:
            os.unlink(path)  # while still locked: a crawl that opened it finds it gone, and retries
        except OSError:
            pass
        os.close(fd)  # closing releases the lock
