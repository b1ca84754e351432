"""An article's history as its page shows it: versions of its text and changes of its other
fields (`article_changes`), newest first, in one list.

A version and the field changes stored with it (same time, version and page) are one entry;
field changes on their own (a corrected byline, new related links) are entries of their own. Each
change reads as old -> new in words: names for authors and tags, dates as people write them,
related links added and removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from archiver.datasette.display import diff_counts, human_date, json_list

FIELD_LABELS = {
    "subtitle": "standfirst",
    "authors": "authors",
    "published_at": "published",
    "modified_at": "updated",
    "section": "section",
    "tags": "tags",
    "language": "language",
    "site_name": "publication",
    "image": "lead image",
    "canonical_url": "canonical URL",
    "related": "related links",
}
CAUSES = {"fetch": "on a new capture of the page", "reextract": "by re-extraction of the stored page"}


def _links(value: str | None) -> list[dict[str, Any]]:
    try:
        links = json.loads(value or "[]")
    except ValueError:
        return []
    return [link for link in links if isinstance(link, dict)] if isinstance(links, list) else []


def describe_change(field: str, old: str | None, new: str | None) -> dict[str, Any]:
    """One field's change in words: {label, old, new} (text, None when empty), and for related
    links {added, removed} (link titles) and `reworded` when only titles or summaries changed."""
    change: dict[str, Any] = {"field": field, "label": FIELD_LABELS.get(field, field)}
    if field == "related":
        before, after = _links(old), _links(new)
        old_urls, new_urls = {link.get("url") for link in before}, {link.get("url") for link in after}
        change["added"] = [str(link.get("title") or link.get("url")) for link in after if link.get("url") not in old_urls]
        change["removed"] = [str(link.get("title") or link.get("url")) for link in before if link.get("url") not in new_urls]
        change["reworded"] = not change["added"] and not change["removed"]
        change["old"], change["new"] = (f"{len(links)} link{'' if len(links) == 1 else 's'}" for links in (before, after))
        return change
    if field in ("authors", "tags"):
        texts = [", ".join(json_list(value)) or None for value in (old, new)]
    elif field in ("published_at", "modified_at"):
        texts = [human_date(value) or value for value in (old, new)]
    else:
        texts = [old, new]
    change["old"], change["new"] = (text or None for text in texts)
    return change


def article_history(
    versions: Iterable[Mapping[str, Any]],
    changes: Iterable[Mapping[str, Any]],
    version_href: Callable[[int], str],
    page_href: Callable[[int], str],
) -> list[dict[str, Any]]:
    """The entries of an article's history, newest first, from its `article_versions` rows (id,
    version, title, created_at, page_id, diff) and `article_changes` rows (version, field,
    old_value, new_value, page_id, changed_at, cause)."""
    entries: dict[tuple[str, int, str], dict[str, Any]] = {}
    titles: dict[int, str] = {}
    for row in sorted(versions, key=lambda r: r["version"]):
        added, removed = diff_counts(row["diff"])
        previous = titles.get(row["version"] - 1)
        titles[row["version"]] = row["title"]
        entries[(row["created_at"], row["version"], "version")] = {
            "kind": "version",
            "version": row["version"],
            "at": row["created_at"],
            "at_text": human_date(row["created_at"]) or row["created_at"],
            "href": version_href(row["id"]),
            "page_id": row["page_id"],
            "page_href": page_href(row["page_id"]) if row["page_id"] else None,
            "first": row["diff"] is None,
            "added": added,
            "removed": removed,
            "title_changed": previous is not None and previous != row["title"],
            "changes": [],
        }
    for row in changes:
        key = (row["changed_at"], row["version"], "version")
        entry = entries.get(key)
        # stored with a new version: the same store made both (a first version never has changes;
        # times are to the second, so a correction can share one with the version before it)
        if entry is None or entry["first"] or entry["page_id"] != row["page_id"]:
            key = (row["changed_at"], row["version"], "changes")
            entry = entries.setdefault(key, {
                "kind": "changes",
                "version": row["version"],
                "at": row["changed_at"],
                "at_text": human_date(row["changed_at"]) or row["changed_at"],
                "cause": CAUSES.get(row["cause"], row["cause"]),
                "page_href": page_href(row["page_id"]) if row["page_id"] else None,
                "changes": [],
            })
        entry["changes"].append(describe_change(row["field"], row["old_value"], row["new_value"]))
    # newest first; a version before the field changes stored after it at the same second
    order = sorted(entries, key=lambda key: (key[0], key[1], key[2] == "changes"), reverse=True)
    return [entries[key] for key in order]
