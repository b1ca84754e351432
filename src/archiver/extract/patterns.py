"""The built-in boilerplate patterns, as data: markup tokens and short-block phrases.

Markup patterns match one class or id token (or a role / aria-label value) at a time, on
word boundaries made of `-` and `_`, so `elementor-share-buttons` matches "share" but
`shareholder` does not. Phrase patterns match the whole (whitespace-normalised, case-folded)
text of a short block: a block whose text *is* "Share the Article" is chrome; a paragraph that
merely mentions sharing is not. Site files add their own selectors and phrases on top.
"""

from __future__ import annotations

import re

from archiver.urls import NON_ARTICLE_PATH, SHARE_HOSTS  # noqa: F401 - URL rules live in archiver.urls

# Tags that never carry article text.
DROP_TAGS: tuple[str, ...] = (
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
    "form", "button", "input", "select", "textarea", "label", "nav", "dialog", "menu",
    "link", "meta", "map", "area",
)
# Tags dropped only when they are outside the main content (page header, footer, sidebars).
OUTER_TAGS: tuple[str, ...] = ("header", "footer", "aside")

# class / id token segments (between - and _ separators) that mark chrome.
_CHROME_WORDS = (
    # sharing
    "share", "shares", "sharing", "sharer", "social", "sociable", "addthis", "sharethis",
    "shariff", "sharedaddy", "socialbar", "sharebar", "share-buttons",
    # related and recommended
    "related", "relatedposts", "recommended", "recommendations", "recirculation", "recirc",
    "outbrain", "taboola", "yarpp", "readnext", "read-next", "up-next", "more-stories",
    "morestories", "more-articles", "also-read", "you-may-like", "post-navigation",
    "nav-links", "next-post", "prev-post", "previous-post",
    # newsletter, subscription, paywall
    "newsletter", "newsletters", "subscribe", "subscription", "signup", "sign-up", "optin",
    "mailchimp", "paywall", "regwall", "piano", "promo", "promotion",
    # cookies and consent
    "cookie", "cookies", "consent", "gdpr", "cmp", "cky", "onetrust",
    # comments
    "comment", "comments", "disqus", "respond", "commentlist",
    # author bios
    "author-bio", "authorbio", "author-box", "authorbox", "about-author", "author-info",
    "author-card", "author-details", "bio-box",
    # advertising
    "ad", "ads", "advert", "adverts", "advertisement", "advertising", "adsense", "adslot",
    "ad-slot", "adunit", "ad-unit", "dfp", "gpt", "sponsor", "sponsored", "banner-ad",
    # navigation, breadcrumbs, tags, meta lines, edit links, paging
    "breadcrumb", "breadcrumbs", "crumbs", "tags", "tag-list", "taglist", "tagcloud",
    "tag-cloud", "post-tags", "entry-tags", "terms-list", "edit-link", "post-edit-link",
    "load-more", "loadmore", "pagination", "pager", "navbar", "menu", "sidebar", "widget-area",
    "skip-link", "screen-reader-text", "sr-only", "visually-hidden", "visuallyhidden",
    "post-meta", "entry-meta", "post-info", "byline", "dateline", "meta-data", "metadata",
    "print", "toolbar", "popup", "modal", "overlay", "lightbox",
    "trending", "most-read", "mostread", "most-popular", "popular", "read-more", "readmore",
)
CHROME_MARKUP = re.compile(
    r"(?:^|[-_])(?:" + "|".join(sorted((re.escape(w) for w in _CHROME_WORDS), key=len,
                                       reverse=True)) + r")(?:$|[-_])"
)
CHROME_ROLES = frozenset({
    "navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alert",
    "alertdialog", "menu", "menubar", "toolbar", "button",
})
# aria-label values of chrome regions.
CHROME_ARIA = re.compile(
    r"\b(?:share|sharing|social|breadcrumb|related|recommended|newsletter|cookie|consent|"
    r"comments?|advert|advertisement|menu|navigation|footer|pagination)\b",
    re.IGNORECASE,
)

# Short blocks (at most SHORT_BLOCK characters) whose whole text matches one of these.
SHORT_BLOCK = 140
_PHRASES = (
    # edit links
    r"edit", r"edit content", r"edit (this )?(post|article|page|story)", r"edit with \w+",
    # sharing
    r"share", r"shares?( this| the)?( article| story| post| page)?( on \w+)?",
    r"share (via|on) .{1,40}", r"sharing( options)?", r"sharing: .{1,300}",
    r"more sharing options", r"share this:?", r"copy link", r"link copied", r"copied!?",
    r"(tweet|pin|email|print|whatsapp|facebook|twitter|linkedin|reddit|telegram|x)( this)?",
    r"send this story to a friend.{0,40}", r"click to share on .{1,40}",
    # related and load-more
    (r"(related|more|similar|recommended|latest|trending|popular)( related)? "
    r"(articles?|posts?|stories|news|content|reads?|reading|coverage|videos?)"),
    r"you (may|might) (also )?(like|enjoy|be interested in)", r"read (this )?next",
    r"recommended( for you)?", r"more from .{1,40}", r"further reading", r"see also",
    r"(also )?read (also|more)", r"read more( ?[»›→>]+)?", r"continue reading.{0,60}",
    (r"(read more|read also|also read|more on this|related|see also|recommended|must read|"
    r"watch|listen|don['’]t miss|lesen sie (auch|mehr)|mehr zum thema|à lire aussi|lire aussi|"
    r"leggi anche|lee también|leia também|veja também|lees ook|czytaj (także|też)|läs också)"
    r"\s*[:|»›]\s*.{1,200}"),
    r"no more (articles|posts|stories|results|items)", r"(load|show|view|see) more( \w+)?",
    r"(loading|loading more)( \w+)?\.*",
    # newsletter and subscription
    r"(subscribe|sign up|signup)( now| today| here)?( (to|for) .{0,60})?",
    r"(subscribe|sign up) (to|for) (our|the) .{0,40}newsletters?.{0,80}",
    r"(get|receive) .{0,60}(in|to) your inbox.{0,60}", r"newsletters?( sign ?up)?",
    r"already (a )?(subscriber|registered|have an account)\??.{0,40}",
    # cookies and consent
    r"(we|this (web)?site) uses? cookies.{0,200}", r"cookie (settings|policy|preferences)",
    r"(accept|reject|decline)( all)?( cookies)?", r"got it!?", r"customi[sz]e",
    # comments
    r"(no |\d+ )?comments?", r"leave a (comment|reply)", r"(post|add|view|show)( a)? comments?",
    r"join the (conversation|discussion)", r"comments are closed\.?",
    # ads
    r"advertisement", r"advertising", r"ad", r"sponsored( content)?", r"scroll to continue.{0,40}",
    r"story continues below( this)? (advertisement|ad)", r"article continues below.{0,20}",
    # tags and meta
    r"tags?:.{0,200}", r"(filed|posted) (in|under):?.{0,120}", r"topics?:.{0,200}",
    r"\d+ min(ute)?s? read", r"reading time:? .{0,20}",
    r"(image|photo|picture|video) (credit|source)s?:.{0,120}",
    # skip links
    r"skip to (main )?content", r"back to top", r"print( this)?( article| page)?",
    # paywalls
    r"to read the full (story|article).{0,60}", r"subscribe to (continue|keep) reading.{0,80}",
    r"(continue|keep) reading (with|your) .{0,80}", (r"(this|the) (article|story|content) is "
    r"(for|available to|reserved for) (subscribers|members).{0,80}"),
    r"(log|sign) in to (continue|read).{0,60}", r"create (a free|an) account.{0,80}",
    # multilingual basics
    r"(teilen|partager|compartir|condividi|compartilhar|delen|udostępnij)",
    r"(weitere|ähnliche) artikel", (r"(articles?|articoli|artículos|artigos) "
    r"(similaires|correlati|relacionados)"), (r"(lesen sie auch|à lire aussi|lire aussi|"
    r"leggi anche|lee también|leia também|lees ook|czytaj także|читайте также)"),
)
CHROME_PHRASE = re.compile(r"(?:" + "|".join(_PHRASES) + r")", re.IGNORECASE)
# A cookie or consent notice, searched for anywhere in a short block.
CONSENT = re.compile(
    r"\bcookies?\b.{0,120}\b(?:agree|accept|consent|experience|polic(?:y|ies)|settings|"
    r"preferences|use)\b|\b(?:agree|accept|consent|use|uses|using)\b.{0,60}\bcookies?\b",
    re.IGNORECASE,
)

# Headings (or short labels) that open a related / recommended articles block.
RELATED_HEADING = re.compile(
    r"(?:"
    r"(?:related|similar|recommended|suggested|more|further|other)"
    r"(?: \w+){0,2} (?:articles?|posts?|stories|news|content|reading|reads|coverage|links)"
    r"|you (?:may|might|could) (?:also )?(?:like|enjoy|be interested in|have missed)"
    r"|(?:also|further) read(?:ing)?|read (?:also|next|this next)|see also|related"
    r"|recommended(?: for you)?|more (?:from|on|in|about) .{1,40}|more like this"
    r"|what to read next|don['’]t miss|in (?:other|related) news|keep reading"
    r"|(?:artículos|noticias|notas) relacionad[ao]s|te puede interesar|más noticias"
    r"|(?:articles?|sujets?) (?:similaires|liés|connexes)|à lire aussi|lire aussi"
    r"|sur le même sujet|(?:lesen sie|lies) auch|mehr zum thema|weitere artikel"
    r"|das könnte sie (?:auch )?interessieren|ähnliche artikel|leggi anche|articoli correlati"
    r"|potrebbe interessarti|(?:veja|leia) também|(?:notícias|artigos) relacionad[ao]s"
    r"|lees ook|gerelateerde artikelen|czytaj (?:także|też)|läs också|relaterade artiklar"
    r"|читайте также|похожие (?:статьи|новости)|関連記事|相关(?:文章|新闻)|相關(?:文章|新聞)"
    r"|관련 ?기사|مقالات ذات صلة|اقرأ أيضا|כתבות נוספות|קראו עוד|ilgili haberler"
    r")[:.!]?",
    re.IGNORECASE,
)
RELATED_MARKUP = re.compile(
    r"(?:^|[-_\s])(?:related|relatedposts|related-posts|recommended|recommendations|"
    r"more-stories|morestories|read-next|readnext|you-may-like|also-like|jp-relatedposts|"
    r"yarpp|crp|rp4wp|more-articles|recirc|recirculation)(?:$|[-_\s])"
)
# Class tokens of the summary / excerpt inside a card.
SUMMARY_MARKUP = re.compile(
    r"(?:^|[-_\s])(?:excerpt|summary|dek|description|desc|teaser|standfirst|lede|lead|intro|"
    r"blurb|abstract|sub-?title|sub-?head|sub-?line|sub-?headline|snippet)(?:$|[-_\s])",
    re.IGNORECASE,
)
TITLE_MARKUP = re.compile(r"(?:^|[-_\s])(?:title|headline|heading|hed|titulo|titre|titel)"
                          r"(?:$|[-_\s])", re.IGNORECASE)
# "By Jane Doe", "Von ...", "Par ...": prefixes dropped from author names.
AUTHOR_PREFIX = re.compile(
    r"^(?:(?:written|posted|reported|published|words|text|story|photos?|updated)\s+)?"
    r"(?:by|von|par|por|door|di|da|av|przez|от|автор:?)[:\s]+",
    re.IGNORECASE,
)
