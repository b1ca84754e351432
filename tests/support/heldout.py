"""A "held-out" news site for discovery: no site file knows it, and its article URLs are short
numbers (`/news/17.html`) that no URL heuristic calls articles. Its section pages link every
article from a list of story cards in the main column, mixed with what real section pages carry:
a navigation bar, a tag bar, author and tag links in each card, "Read more" links, pagination,
a "most read" aside and a footer. Chrome pages exist (tags, authors, pages 2, about ...), so a
crawl that took them for articles would fetch them; the test checks it never does.

`make_site(root, articles, sections)` writes it; `section_paths` are the pages to start from;
`chrome_paths` lists every page that is not an article or a section.
"""

from __future__ import annotations

import random
from pathlib import Path

SECTIONS = ("world", "business", "politics", "science", "culture", "sport", "health", "travel")
AUTHORS = ("Ana Writer", "Ben Okafor", "Chloe Martin", "Dev Patel", "Eva Lindqvist", "Farid Haddad")
TAGS = ("harbour", "council", "elections", "climate", "transport", "schools", "budget", "courts")
WORDS = ("council harbour budget river ferry school court vote storm rail bridge market hospital "
         "minister station festival museum farmers coast tunnel police airport library union").split()
TEXT = ("The proposal was debated for most of the evening before members agreed to send it back "
        "to committee with a request for clearer figures on the cost of the work and on who would "
        "pay for the repairs once the contract had ended. Residents who spoke at the meeting said "
        "the delays had already cost local businesses several months of trade.")


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def headline(rng: random.Random, i: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 11))]
    return f"{words[0].capitalize()} {' '.join(words[1:])} (story {i})"


def section_paths(sections: int) -> list[str]:
    return [f"/{name}/" for name in SECTIONS[:sections]]


def chrome_paths(sections: int) -> list[str]:
    paths = ["/", "/about.html", "/contact.html", "/privacy.html", "/terms.html", "/subscribe.html",
             "/archive/2026/", "/search/", "/live/"]
    paths += [f"/tag/{tag}/" for tag in TAGS] + [f"/author/{slug(a)}/" for a in AUTHORS]
    paths += [f"/{name}/page/2/" for name in SECTIONS[:sections]]
    return paths


def _page(title: str, main: str, sections: int, rng: random.Random, aside: str = "") -> str:
    nav = "".join(f'<li><a href="/{name}/">{name.capitalize()}</a></li>' for name in SECTIONS[:sections])
    tags = " ".join(f'<a href="/tag/{tag}/">#{tag}</a>' for tag in rng.sample(TAGS, 5))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} | The Held-Out Times</title></head>
<body><header class="site-header"><a href="/" class="logo">The Held-Out Times</a>
<nav class="primary"><ul>{nav}<li><a href="/live/">Live</a></li><li><a href="/search/">Search</a></li></ul></nav>
<div class="trending">Trending: {tags}</div></header>
<div class="layout"><div class="content">{main}</div>{aside}</div>
<footer class="site-footer"><a href="/about.html">About us</a> <a href="/contact.html">Contact</a>
<a href="/privacy.html">Privacy policy</a> <a href="/terms.html">Terms of use</a>
<a href="/subscribe.html">Subscribe to our newsletter today</a> <a href="/archive/2026/">Archive</a></footer>
</body></html>
"""


def article_html(i: int, title: str, section: str, author: str, rng: random.Random, sections: int) -> str:
    paras = "".join(f"<p>{TEXT} ({k}, story {i}.)</p>" for k in range(1, 5))
    main = f"""<article><h1>{title}</h1><p class="byline">By <a href="/author/{slug(author)}/">{author}</a>
<time datetime="2026-03-01T08:00:00Z">1 March 2026</time> in <a href="/{section}/">{section.capitalize()}</a></p>
{paras}<p class="tags"><a href="/tag/{rng.choice(TAGS)}/">More on this</a></p></article>"""
    return _page(title, main, sections, rng)


def make_site(root: Path, articles: int = 120, sections: int = 4, seed: int = 17) -> dict[str, str]:
    """Write the site under `root`; return article path -> headline."""
    rng = random.Random(seed)
    titles: dict[str, str] = {}
    listed: dict[str, list[str]] = {name: [] for name in SECTIONS[:sections]}
    for i in range(1, articles + 1):
        path = f"/news/{i}.html"
        section = SECTIONS[(i - 1) % sections]
        titles[path] = headline(rng, i)
        listed[section].append(path)
        page = root / "news" / f"{i}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(article_html(i, titles[path], section, rng.choice(AUTHORS), rng, sections), encoding="utf-8")
    for name, paths in listed.items():
        cards = []
        for n, path in enumerate(paths):
            author = rng.choice(AUTHORS)
            tag = rng.choice(TAGS)
            picture = (f'<a href="{path}" class="thumb"><img src="/img/{n}.jpg" alt=""></a>' if n % 3 == 0 else "")
            more = f' <a href="{path}">Read more</a>' if n % 4 == 1 else ""
            cards.append(
                f'<div class="story">{picture}<h3 class="story-title"><a href="{path}">{titles[path]}</a></h3>'
                f'<p class="meta">By <a href="/author/{slug(author)}/">{author}</a> · '
                f'<a href="/tag/{tag}/">{tag.capitalize()}</a></p>'
                f"<p>{TEXT[:120]}...{more}</p></div>"
            )
        pages = (f'<div class="pages"><a href="/{name}/">1</a> <a href="/{name}/page/2/">2</a> '
                 f'<a href="/{name}/page/2/">Next</a></div>')
        most_read = rng.sample(list(titles), min(5, len(titles)))
        aside = ('<aside class="most-read"><h2>Most read</h2><ol>'
                 + "".join(f'<li><a href="{p}">{titles[p]}</a></li>' for p in most_read) + "</ol></aside>")
        main = f'<h1>{name.capitalize()}</h1><div class="stories">{"".join(cards)}</div>{pages}'
        out = root / name / "index.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_page(name.capitalize(), main, sections, rng, aside), encoding="utf-8")
    for path in chrome_paths(sections):
        out = root / path.strip("/") / "index.html" if path.endswith("/") else root / path.lstrip("/")
        out.parent.mkdir(parents=True, exist_ok=True)
        if not out.exists():
            links = "".join(f'<li><a href="{p}">{titles[p]}</a></li>' for p in list(titles)[:10])
            out.write_text(_page("Listing", f"<h1>Listing</h1><ul>{links}</ul>", sections, rng), encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    return titles
