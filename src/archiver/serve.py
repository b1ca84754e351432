"""`archiver serve`: browse the archive in Datasette, on 127.0.0.1, read-only.

    make_datasette(path) -> Datasette     the configured app (also used in-process by the tests)
    serve_archive(path, port=8001)         run it until interrupted

The archive is always served at /archive with the project's metadata, canned queries, templates
and plugin (`archiver.datasette`). Datasette opens the file with `mode=ro` and the plugin makes
every connection `query_only`, so serving can never change the archive; a crawl may write to it
at the same time (WAL mode) and new articles show up on the next page load. An archive made by an
older archiver is upgraded in place first (the only write `serve` ever does).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from archiver import __version__, store
from archiver.errors import ConfigError

if TYPE_CHECKING:
    from datasette.app import Datasette

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 8001

SETTINGS = {
    "default_page_size": 50,
    "max_returned_rows": 1000,
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 500,
    "allow_download": False,  # the archive can be large; `archiver export` is the way out
    "truncate_cells_html": 300,
    "suggest_facets": False,  # a query per column on every page load: slow on a big archive
}


def make_datasette(path: str | Path) -> Datasette:
    """A Datasette serving the archive at `path` read-only, as /archive, with our configuration."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    from archiver.datasette import (
        DB_NAME, TEMPLATES, captured, cells, columns, errors, facets, load_metadata, plugin, search,
    )
    from archiver.datasette.tablecounts import ArchiveDatabase

    path = Path(path)
    store.upgrade_archive(path)
    hooks = {"archiver": plugin, "archiver-cells": cells, "archiver-captured": captured,
             "archiver-columns": columns, "archiver-errors": errors, "archiver-facets": facets,
             "archiver-search": search}
    for name, module in hooks.items():
        if not pm.is_registered(module):
            pm.register(module, name=name)
    if pm.get_plugin(errors.DATASETTE_HANDLER) is not None:  # its console dump: see errors.py
        pm.unregister(name=errors.DATASETTE_HANDLER)
    ds = Datasette(
        metadata=load_metadata(),
        template_dir=str(TEMPLATES),
        settings=SETTINGS,
        version_note=f"archiver {__version__}",
    )
    ds.add_database(ArchiveDatabase(ds, path=str(path.resolve()), is_mutable=True), name=DB_NAME)
    ds.remove_database("_memory")  # added by Datasette when it is given no file: an empty database
    return ds


def listen(port: int, host: str = HOST) -> socket.socket:
    """A listening socket on host:port (0: any free port), or a clear error."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pass --port with a free "
            "port, or --port 0 to pick one"
        ) from exc
    sock.listen(128)
    return sock


def serve_archive(
    path: str | Path,
    *,
    port: int = DEFAULT_PORT,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the archive at `path` on 127.0.0.1:`port` until interrupted.

    `ready` is called with the archive's URL (`http://127.0.0.1:PORT/archive`) once the port is
    open (with `port` 0, the port the system picked).
    """
    import uvicorn

    from archiver.datasette import DB_NAME

    ds = make_datasette(path)
    asyncio.run(ds.invoke_startup())
    sock = listen(port)
    url = f"http://{HOST}:{sock.getsockname()[1]}/{DB_NAME}"
    try:
        config = uvicorn.Config(ds.app(), log_level="warning", lifespan="on", workers=1)
        server = uvicorn.Server(config)
        if ready is not None:
            ready(url)
        log.info("serving %s at %s", path, url)
        server.run(sockets=[sock])
    finally:
        sock.close()
