"""Structured data: JSON-LD (including @graph), OpenGraph / article:* meta, canonical links.

`read_metadata` reads everything the page states about itself into a `PageMeta`; the
extractor then fills each Article field from site rules first, this second, markup last.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from archiver.extract.dates import machine_date
from archiver.extract.text import absolute_url, language_code, squash

ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "blogposting",
    "liveblogposting", "socialmediaposting", "techarticle", "scholarlyarticle", "report",
    "satiricalarticle", "askpublicnewsarticle", "advertisercontentarticle", "posting",
})
ORGANIZATION_TYPES = frozenset({
    "organization", "newsmediaorganization", "corporation", "localbusiness",
    "educationalorganization", "governmentorganization", "ngo", "onlinebusiness", "brand",
})
# Objects that may date the page when it has no article object (WebPage, a video ...).
DATED_TYPES = frozenset({"webpage", "itempage", "medicalwebpage", "collectionpage", "faqpage",
                         "howto", "recipe", "videoobject", "review", "creativework"})


@dataclass
class PageMeta:
    """What a page says about itself in structured data and meta tags."""

    title: str | None = None  # JSON-LD headline
    og_title: str | None = None
    html_title: str | None = None
    description: str | None = None
    alternative_headline: str | None = None
    authors: list[str] = field(default_factory=list)  # people named in JSON-LD
    organization_authors: list[str] = field(default_factory=list)  # organisations named there
    meta_authors: list[str] = field(default_factory=list)
    published_at: str | None = None
    modified_at: str | None = None
    language: str | None = None
    site_name: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    canonical_url: str | None = None
    article_body: str | None = None
    word_count: int | None = None
    has_article: bool = False  # a JSON-LD article object or og:type article


def _types(obj: dict[str, Any]) -> set[str]:
    raw = obj.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {str(v).lower().rsplit("/", 1)[-1] for v in values if v}


def _walk(data: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a JSON-LD document, @graph members and nested values included."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            yield item
            for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
                if isinstance(item.get(key), (list, dict)):
                    stack.append(item[key])


def _load_json(text: str) -> Any:
    text = text.strip()
    text = re.sub(r"^\s*(?:<!--|//\s*<!\[CDATA\[)|(?:-->|//\s*\]\]>)\s*$", "", text).strip()
    if not text:
        return None
    try:
        return json.loads(text, strict=False)
    except ValueError:
        # Common breakage: trailing commas, raw newlines are handled by strict=False.
        try:
            return json.loads(re.sub(r",\s*([}\]])", r"\1", text), strict=False)
        except ValueError:
            return None


def _text_of(value: Any) -> str | None:
    if isinstance(value, str):
        return squash(value) or None
    if isinstance(value, dict):
        for key in ("name", "@value", "text", "headline"):
            if isinstance(value.get(key), str):
                return squash(value[key]) or None
    if isinstance(value, list) and value:
        return _text_of(value[0])
    return None


def _url_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        for key in ("url", "contentUrl", "@id"):
            if isinstance(value.get(key), str):
                return value[key].strip() or None
    if isinstance(value, list) and value:
        return _url_of(value[0])
    return None


def _names(value: Any, index: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The people and the organisations among JSON-LD author values."""
    items = value if isinstance(value, list) else [value]
    people: list[str] = []
    organizations: list[str] = []
    for item in items:
        if isinstance(item, dict) and "name" not in item and isinstance(item.get("@id"), str):
            item = index.get(item["@id"], item)
        name = _text_of(item)
        if name:
            is_org = isinstance(item, dict) and bool(_types(item) & ORGANIZATION_TYPES)
            (organizations if is_org else people).append(name)
    return people, organizations


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        return [squash(v) for v in value.split(",") if squash(v)]
    if isinstance(value, list):
        return [t for v in value for t in _keywords(v)]
    return []


def _read_json_ld(tree: LexborHTMLParser, meta: PageMeta, base: str) -> None:
    objects: list[dict[str, Any]] = []
    for script in tree.css('script[type="application/ld+json"]'):
        data = _load_json(script.text(deep=True) or "")
        if data is not None:
            objects.extend(_walk(data))
    if not objects:
        return
    index = {o["@id"]: o for o in objects if isinstance(o.get("@id"), str)}
    articles = [o for o in objects if _types(o) & ARTICLE_TYPES]
    if articles:
        # The richest article object: pages often carry stubs for related items too.
        article = max(articles, key=lambda o: (bool(o.get("articleBody")), len(o)))
        meta.has_article = True
        meta.title = _text_of(article.get("headline")) or _text_of(article.get("name"))
        meta.alternative_headline = _text_of(article.get("alternativeHeadline"))
        meta.description = meta.description or _text_of(article.get("description"))
        if article.get("author"):
            meta.authors, meta.organization_authors = _names(article.get("author"), index)
        meta.published_at = machine_date(_text_of(article.get("datePublished"))) or \
            machine_date(_text_of(article.get("dateCreated")))
        meta.modified_at = machine_date(_text_of(article.get("dateModified")))
        meta.language = language_code(_text_of(article.get("inLanguage")))
        section = article.get("articleSection")
        meta.section = _text_of(section)
        meta.tags = _keywords(article.get("keywords"))
        image = article.get("image")
        if isinstance(image, dict) and "url" not in image and isinstance(image.get("@id"), str):
            image = index.get(image["@id"], image)
        meta.image = absolute_url(base, _url_of(image) or _url_of(article.get("thumbnailUrl")))
        publisher = article.get("publisher")
        if isinstance(publisher, dict) and "name" not in publisher:
            publisher = index.get(str(publisher.get("@id")), publisher)
        meta.site_name = _text_of(publisher)
        body = article.get("articleBody")
        if isinstance(body, str) and body.strip():
            meta.article_body = body
        count = article.get("wordCount")
        if isinstance(count, (int, str)) and str(count).strip().isdigit():
            meta.word_count = int(str(count).strip())
    for obj in objects:
        if meta.published_at or not _types(obj) & DATED_TYPES:
            continue
        meta.published_at = machine_date(_text_of(obj.get("datePublished")))
        meta.modified_at = meta.modified_at or machine_date(_text_of(obj.get("dateModified")))
    if not meta.site_name:
        for obj in objects:
            if "website" in _types(obj):
                meta.site_name = _text_of(obj.get("name"))
                break


def read_metadata(tree: LexborHTMLParser, url: str) -> PageMeta:
    """Everything a page declares about itself, from JSON-LD and meta tags."""
    meta = PageMeta()
    props: dict[str, list[str]] = {}
    for node in tree.css("meta"):
        attrs = node.attributes
        key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or \
            attrs.get("http-equiv")
        content = attrs.get("content")
        if key and content and content.strip():
            props.setdefault(key.strip().lower(), []).append(squash(content))

    def first(*keys: str) -> str | None:
        for key in keys:
            if props.get(key):
                return props[key][0]
        return None

    def first_date(*keys: str) -> str | None:
        """The first of `keys` whose value is a date (a tag may hold text that is not one)."""
        for key in keys:
            for value in props.get(key, ()):
                stamp = machine_date(value)
                if stamp:
                    return stamp
        return None

    _read_json_ld(tree, meta, url)
    meta.og_title = first("og:title", "twitter:title", "dc.title")
    title_node = tree.css_first("title")
    meta.html_title = squash(title_node.text()) if title_node else None
    meta.description = meta.description or first("og:description", "description",
                                                 "twitter:description", "dc.description")
    named = [a for key in ("author", "article:author", "dc.creator", "dcterms.creator",
                           "parsely-author", "sailthru.author", "byl", "citation_author",
                           "citation_authors")
             for a in props.get(key, [])]
    meta.meta_authors = [a for a in named if "://" not in a]
    meta.published_at = meta.published_at or first_date(
        "article:published_time", "og:article:published_time", "article:published",
        "datepublished", "pubdate", "publishdate", "publish-date", "publish_date", "date",
        "dc.date", "dc.date.issued", "dc.date.created", "dc.date.publication", "dc.created",
        "dcterms.created", "dcterms.issued", "dcterms.date", "sailthru.date",
        "parsely-pub-date", "article.published", "article.created", "og:published_time",
        "citation_publication_date", "citation_date", "datecreated", "dateposted",
        "published-date", "publication-date", "publication_date", "date-published",
        "date_published", "article:published_date", "published", "originalpublicationdate",
        "article_date_original", "rnews:datepublished", "shareaholic:article_published_time")
    meta.modified_at = meta.modified_at or first_date(
        "article:modified_time", "og:updated_time", "datemodified", "dcterms.modified",
        "last-modified", "article.updated", "dc.date.modified", "modified-date",
        "date-modified")
    meta.site_name = first("og:site_name") or meta.site_name or first("application-name")
    meta.section = first("article:section") or meta.section or first("parsely-section")
    meta.tags = props.get("article:tag") or meta.tags or _keywords(first("news_keywords"))
    image = first("og:image", "og:image:url", "og:image:secure_url", "twitter:image",
                  "twitter:image:src")
    meta.image = absolute_url(url, image) if image else meta.image
    if not meta.has_article:
        meta.has_article = (first("og:type") or "").lower() == "article"

    html = tree.css_first("html")
    lang = html.attributes.get("lang") if html is not None else None
    meta.language = language_code(lang) or language_code(first("content-language")) or \
        meta.language or language_code(first("og:locale"))

    canonical = None
    for link in tree.css("link[rel][href]"):
        rels = (link.attributes.get("rel") or "").lower().split()
        if "canonical" in rels:
            canonical = link.attributes.get("href")
            break
    meta.canonical_url = absolute_url(url, canonical) or absolute_url(url, first("og:url"))
    return meta
