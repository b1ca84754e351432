"""The class/id vocabulary and the tag sets that block features are read through.

    markup_categories("article-body c-share") -> indexes into CATEGORIES

Class and id names are read as word stems at the start of each part of a token, so nothing
depends on one site's naming; LANDMARKS and OWNER_TAGS name the elements a block's position is
described by (see `blocks.py`).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Class/id vocabulary: word stems, matched at the start of a token part (`article-body` has
# the parts `article` and `body`; `articleBody` is split at the case change).
_VOCABULARY: dict[str, tuple[str, ...]] = {
    "content": ("article", "content", "body", "post", "entry", "story", "text", "prose",
                "rich", "main", "copy", "blog", "single", "detail", "news", "page"),
    "share": ("share", "sharing", "social", "addthis", "sharethis", "shariff", "sociable"),
    "related": ("related", "recommend", "recirc", "readnext", "more", "also", "suggest",
                "outbrain", "taboola", "trending", "popular", "mostread", "next", "prev",
                "previous", "similar", "teaser", "promo"),
    "subscribe": ("newsletter", "subscri", "signup", "optin", "paywall", "piano", "regwall",
                  "cta", "membership", "member", "donat", "support", "register", "login"),
    "comment": ("comment", "disqus", "respond", "reply", "discussion", "forum"),
    "author": ("author", "bio", "byline", "writer", "contributor", "profile", "avatar"),
    "ad": ("ad", "ads", "advert", "sponsor", "dfp", "gpt", "adsense", "adslot", "banner",
           "commercial", "affiliate", "partner"),
    "nav": ("nav", "menu", "breadcrumb", "crumb", "sidebar", "widget", "toolbar", "skip",
            "pagination", "pager", "masthead", "topbar", "drawer", "rail", "aside", "sticky"),
    "meta": ("meta", "date", "time", "tag", "categor", "topic", "dateline", "publish",
             "updated", "info", "stamp", "label", "kicker", "eyebrow", "section", "rubric"),
    "media": ("caption", "credit", "figure", "photo", "image", "img", "media", "gallery",
              "video", "player", "picture", "thumb", "slide", "carousel"),
    "lead": ("lead", "lede", "standfirst", "intro", "dek", "summary", "excerpt", "subtitle",
             "subhead", "description", "abstract", "deck", "strap", "chapo", "sapo"),
    "title": ("title", "headline", "heading", "hed", "titulo", "titre", "titel"),
    "hidden": ("hidden", "hide", "sr", "screen", "visually", "offscreen", "invisible",
               "collapse", "noprint", "print"),
    "embed": ("twitter", "tweet", "instagram", "facebook", "fb", "tiktok", "youtube",
              "embed", "oembed", "iframe", "pinterest"),
    "card": ("card", "grid", "list", "item", "tile", "feed", "river", "stream", "box",
             "block", "module", "widget", "col"),
    "consent": ("cookie", "consent", "gdpr", "modal", "popup", "overlay", "dialog", "cmp",
                "notice", "alert", "banner"),
    "note": ("disclaimer", "disclosure", "note", "footnote", "legal", "copyright", "notice"),
    "frame": ("header", "footer", "top", "bottom", "head", "foot", "site", "global",
              "brand", "logo"),
}
CATEGORIES: tuple[str, ...] = tuple(_VOCABULARY)
_STEM_CATEGORIES: dict[str, tuple[int, ...]] = {}
for _index, _name in enumerate(CATEGORIES):
    for _stem in _VOCABULARY[_name]:
        _STEM_CATEGORIES[_stem] = _STEM_CATEGORIES.get(_stem, ()) + (_index,)
_LONG = sorted((s for s in _STEM_CATEGORIES if len(s) > 2), key=len, reverse=True)
_SHORT = sorted(s for s in _STEM_CATEGORIES if len(s) <= 2)
# A stem starts a part of a token; a stem of two letters ("ad", "sr") must be the whole part.
_STEM = re.compile(r"(?<![a-z])(?:(" + "|".join(_LONG) + r")|(" + "|".join(_SHORT)
                   + r")(?![a-z]))")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
LANDMARKS: tuple[str, ...] = ("article", "main", "header", "footer", "aside", "li", "table",
                              "figure", "blockquote", "a", "form", "section", "hidden")
LANDMARK_INDEX = {name: i for i, name in enumerate(LANDMARKS)}
OWNER_TAGS: tuple[str, ...] = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "th",
                               "div", "blockquote", "pre", "figcaption", "dd", "dt", "span",
                               "section", "article", "caption", "address", "other")
OWNER_INDEX = {name: i for i, name in enumerate(OWNER_TAGS)}
FAR = 99.0  # distance of a category or landmark that no ancestor has


@lru_cache(maxsize=16384)
def markup_categories(markup: str) -> tuple[int, ...]:
    """The vocabulary categories of a class/id string (`"article-body c-share"`)."""
    found: set[int] = set()
    for match in _STEM.finditer(_CAMEL.sub(" ", markup).lower()):
        found.update(_STEM_CATEGORIES[match.group(1) or match.group(2)])
    return tuple(sorted(found))
