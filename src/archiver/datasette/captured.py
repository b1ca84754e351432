"""The captured page: a stored response shown as it was, from the archive's bytes, inert.

    /archive/-/captured/<page_id>          the page in a sandboxed frame, with what was stored about it
    /archive/-/captured/<page_id>/frame    the page itself, cleaned, for that frame only
    /archive/-/captured/<page_id>/source   the decoded HTML as text

Nothing the captured page carries may run or reach out, by four layers, each enough alone for
what it covers:

1. `clean_page` removes what runs or loads (scripts, event handlers, `<base>`, `<meta
   http-equiv>` such as refresh, `<link>`, frames, objects and embeds), turns every URL attribute
   that would load or navigate (src, srcset, href, action, ping, poster ...) into an inert
   `data-archived-*` attribute (data: images stay), and so leaves links readable but dead; in
   CSS (`<style>` and `style=""`) it drops `@import` rules and makes every `url()` that is not
   data: and every `image-set()` `none` (a URL hidden behind CSS escapes is left to layer 3);
2. the frame is `<iframe sandbox="">`: no scripts, forms, popups, top navigation or origin;
3. the frame's response carries `Content-Security-Policy: default-src 'none'; img-src data:;
   style-src 'unsafe-inline'; ... sandbox`, so even opened on its own it loads nothing remote
   and runs nothing;
4. it is decoded from `pages.body` (zstd, or gzip for old rows) through Datasette's read-only
   connection, never fetched again.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from datasette import Response, hookimpl
from datasette.utils.asgi import NotFound
from selectolax.lexbor import LexborHTMLParser

from archiver.datasette import DB_NAME
from archiver.datasette.display import human_date
from archiver.encoding import decode_html
from archiver.store.bodies import fetched_of

FRAME_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
)
FRAME_HEADERS = {
    "Content-Security-Policy": FRAME_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = (*HTML_TYPES, "application/xml", "application/rss+xml", "application/atom+xml",
              "application/json", "application/ld+json")

REMOVED = ("script, noscript, base, meta[http-equiv], link, iframe, frame, frameset, object, embed, "
           "applet, portal, template")
# attributes holding a URL that the browser would load, send to or navigate to
URL_ATTRIBUTES = frozenset({
    "src", "srcset", "href", "xlink:href", "action", "formaction", "ping", "poster", "background",
    "lowsrc", "dynsrc", "longdesc", "manifest", "codebase", "cite", "archive", "data", "icon",
    "profile", "imagesrcset", "attributionsrc",
})


# in CSS: an @import rule, a url() and an image-set(): what a style would load
CSS_IMPORT = re.compile(r"@import\b[^;]*;?", re.I)
CSS_URL = re.compile(r"""url\(\s*(?:"[^"]*"|'[^']*'|[^)]*)\s*\)""", re.I)
CSS_IMAGE_SET = re.compile(r"(?:-webkit-)?image-set\([^)]*\)?", re.I)


def _inert_url(match: re.Match[str]) -> str:
    inside = match.group()[4:-1].strip().strip("\"'").strip()
    return match.group() if inside.lower().startswith("data:") else "none"


def clean_css(css: str) -> str:
    """`css` with nothing it would load: no @import, and `none` for each url() that is not data:
    and each image-set() (where `none` is not a value, the browser drops the declaration)."""
    return CSS_IMAGE_SET.sub("none", CSS_URL.sub(_inert_url, CSS_IMPORT.sub("", css)))


def clean_page(html: str) -> str:
    """A captured page with nothing left that runs, loads or navigates (see the module doc)."""
    tree = LexborHTMLParser(html)
    for node in tree.css(REMOVED):
        node.decompose()
    for style in tree.css("style"):
        if style.child is not None:  # its text: raw text in the parse and in the output
            style.child.replace_with(clean_css(style.text(deep=True)))
    root = tree.root
    if root is not None:
        for node in root.traverse():
            attributes = node.attributes
            for name in list(attributes):
                lowered = name.lower()
                value = (attributes[name] or "").strip()
                if lowered.startswith("on"):  # onclick, onerror, onload ...
                    del node.attrs[name]
                elif lowered == "style":
                    node.attrs[name] = clean_css(value)
                elif lowered in URL_ATTRIBUTES:
                    del node.attrs[name]
                    if lowered in ("src", "srcset") and value.lower().startswith("data:image/"):
                        node.attrs[name] = value  # an inline image loads nothing
                    else:
                        node.attrs[f"data-archived-{lowered.replace(':', '-')}"] = value
    return tree.html or ""


@dataclass(frozen=True)
class CapturedPage:
    """A stored response, decoded, with what the archive knows about it."""

    id: int
    url: str
    final_url: str
    status: int
    content_type: str
    fetched_at: str
    size: int
    codec: str
    text: str | None  # the decoded body of a text type; None for other types
    article_id: int | None
    article_title: str | None

    @property
    def is_html(self) -> bool:
        return self.content_type in HTML_TYPES


def _read_page(conn: sqlite3.Connection, page_id: int) -> CapturedPage | None:
    cur = conn.execute("SELECT * FROM pages WHERE id = ?", (page_id,))
    row = cur.fetchone()
    if row is None:
        return None
    fields = dict(zip([d[0] for d in cur.description], row))
    article = conn.execute(
        """SELECT a.id, a.title FROM articles a WHERE a.id = coalesce(
               (SELECT id FROM articles WHERE page_id = :page),
               (SELECT article_id FROM article_versions WHERE page_id = :page),
               (SELECT article_id FROM article_changes WHERE page_id = :page),
               (SELECT article_id FROM fetches WHERE page_id = :page AND article_id IS NOT NULL))""",
        {"page": page_id},
    ).fetchone()
    fetched = fetched_of(fields)
    kind = (fields["content_type"] or "").lower()
    text = decode_html(fetched.content, fetched.charset) if kind in TEXT_TYPES or not kind else None
    return CapturedPage(
        id=page_id, url=fields["url"], final_url=fields["final_url"], status=fields["status"],
        content_type=kind or "unknown", fetched_at=fields["fetched_at"], size=fields["body_size"],
        codec=fields["body_codec"] or "gzip", text=text,
        article_id=article[0] if article else None, article_title=article[1] if article else None,
    )


async def _page(datasette: Any, request: Any) -> CapturedPage:
    page_id = int(request.url_vars["page_id"])
    db = datasette.get_database(DB_NAME)
    page: CapturedPage | None = await db.execute_fn(lambda conn: _read_page(conn, page_id))
    if page is None:
        raise NotFound(f"no stored page with id {page_id}")
    return page


def captured_href(datasette: Any, page_id: int | str, view: str = "") -> str:
    """The URL of a stored page's captured view (`view`: "", "frame" or "source")."""
    return str(datasette.urls.path(f"/{DB_NAME}/-/captured/{page_id}" + (f"/{view}" if view else "")))


async def _render(datasette: Any, request: Any, template: str, page: CapturedPage) -> Response:
    context = {
        "page": page,
        "fetched_text": human_date(page.fetched_at) or page.fetched_at,
        "frame_href": captured_href(datasette, page.id, "frame"),
        "source_href": captured_href(datasette, page.id, "source"),
        "view_href": captured_href(datasette, page.id),
        "page_row_href": datasette.urls.row(DB_NAME, "pages", str(page.id)),
        "article_href": datasette.urls.row(DB_NAME, "articles", str(page.article_id)) if page.article_id else None,
    }
    return Response.html(await datasette.render_template(template, context, request=request))


async def captured_view(datasette: Any, request: Any) -> Response:
    return await _render(datasette, request, "archiver-captured.html", await _page(datasette, request))


async def source_view(datasette: Any, request: Any) -> Response:
    return await _render(datasette, request, "archiver-source.html", await _page(datasette, request))


async def frame_view(datasette: Any, request: Any) -> Response:
    page = await _page(datasette, request)
    if not page.is_html or page.text is None:
        raise NotFound(f"stored page {page.id} is {page.content_type}, not an HTML page")
    return Response(clean_page(page.text), status=200, headers=FRAME_HEADERS,
                    content_type="text/html; charset=utf-8")


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    base = rf"^/{DB_NAME}/-/captured/(?P<page_id>\d+)"
    return [(base + "$", captured_view), (base + "/frame$", frame_view), (base + "/source$", source_view)]
