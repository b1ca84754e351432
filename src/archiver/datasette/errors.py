"""Error pages of `archiver serve` without the console dump.

Datasette's own handler (`datasette.handle_exception`) prints every exception, a 404 included,
as a rich traceback with local variables (~170 lines a request). `archiver.serve` unregisters it
and this handler takes its place: the same error page (Datasette's `404.html`/`error.html`
templates, or JSON for a .json URL), nothing logged for an expected error (a 4xx: a missing row,
a bad query or parameter), and one log line for a server error, with the traceback only when it
is a bug (an exception Datasette did not raise on purpose).
"""

from __future__ import annotations

import logging
from typing import Any

from datasette import Response, hookimpl
from datasette.utils.asgi import Base400
from datasette.views.base import DatasetteError
from markupsafe import Markup

log = logging.getLogger("archiver.serve")

DATASETTE_HANDLER = "datasette.handle_exception"  # the default handler this one replaces


def describe(exception: BaseException) -> tuple[int, str | Markup, str | None, dict[str, Any]]:
    """(status, message, title, extra JSON fields) of an exception, as Datasette reports it."""
    if isinstance(exception, Base400):
        return exception.status, str(exception.args[0]) if exception.args else "", None, {}
    if isinstance(exception, DatasetteError):
        message = Markup(exception.message) if exception.message_is_html else exception.message
        return exception.status, message, exception.title, dict(exception.error_dict)
    return 500, str(exception), None, {}


@hookimpl
def handle_exception(datasette: Any, request: Any, exception: BaseException) -> Any:
    async def inner() -> Response:
        status, message, title, info = describe(exception)
        if status >= 500:
            bug = not isinstance(exception, (Base400, DatasetteError))
            log.error("%s %s: %s", request.method, request.path, message or type(exception).__name__,
                      exc_info=exception if bug else None)
        info.update({"ok": False, "error": message, "status": status, "title": title})
        if request.path.split("?")[0].endswith(".json"):
            return Response.json(info, status=status)
        template = datasette.jinja_env.select_template([f"{status}.html", "error.html"])
        context = dict(info, urls=datasette.urls, app_css_hash=datasette.app_css_hash(),
                       menu_links=lambda: [])
        return Response.html(await template.render_async(context), status=status)

    return inner
