"""Discovery from feeds, sitemaps and section pages (pure functions over bytes), and safe XML."""

from __future__ import annotations

import gzip

import pytest

from archiver.discover import (
    MAX_ENTRIES,
    MAX_XML_BYTES,
    discover,
    inflate,
    parse_feed,
    parse_section,
    parse_sitemap,
    sniff,
)
from archiver.errors import ExtractError, TooLarge
from support.crawlsite import article_path, atom, index, news_sitemap, rdf, rss2, urlset

BASE = "https://news.example"


def filled(text: str) -> bytes:
    return text.replace("%ORIGIN%", BASE).encode()


def urls(found) -> list[str]:  # type: ignore[no-untyped-def]
    return [link.url for link in found.articles]


def test_rss2_links_are_normalised_and_dated():
    found = discover(filled(rss2([0, 1])), BASE + "/feed.rss", "application/rss+xml")
    assert found.kind == "rss"
    assert urls(found) == [BASE + article_path(0), BASE + article_path(1)]  # utm_* removed
    assert found.articles[0].published_at == "2026-03-01T08:00:00Z"


def test_rss2_guid_permalink_and_feedburner_origlink():
    feed = b"""<rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"><channel>
    <item><guid>https://news.example/2026/01/guid-only-story-about-things</guid></item>
    <item><link>https://feeds.example/~r/x/123</link>
      <feedburner:origLink>https://news.example/2026/01/original-story</feedburner:origLink></item>
    <item><guid isPermaLink="false">tag:xyz</guid></item></channel></rss>"""
    assert urls(parse_feed(feed, BASE)) == [
        BASE + "/2026/01/guid-only-story-about-things",
        BASE + "/2026/01/original-story",
    ]


def test_rss1_rdf():
    found = discover(filled(rdf([2, 3])), BASE + "/feed.rdf")
    assert found.kind == "rdf" and urls(found) == [BASE + article_path(2), BASE + article_path(3)]
    assert found.articles[1].published_at == "2026-03-01T11:00:00Z"


def test_atom_with_xml_base_and_alternate_links():
    found = discover(filled(atom([4])), BASE + "/atom.xml")
    assert found.kind == "atom" and urls(found) == [BASE + article_path(4)]
    assert found.articles[0].published_at == "2026-03-01T12:00:00Z"
    assert found.articles[0].modified_at == "2026-03-01T12:00:00Z"


def test_sitemap_index_plain_gzipped_and_news_sitemaps():
    idx = discover(filled(index(["/a.xml", "/b.xml.gz"])), BASE + "/sitemap_index.xml")
    assert idx.kind == "sitemap-index" and [s.url for s in idx.sitemaps] == [BASE + "/a.xml", BASE + "/b.xml.gz"]
    plain = discover(filled(urlset([0, 1])), BASE + "/a.xml")
    assert plain.kind == "sitemap" and plain.articles[1].modified_at == "2026-03-01T09:00:00Z"
    zipped = discover(gzip.compress(filled(urlset([5]))), BASE + "/b.xml.gz", "application/gzip")
    assert urls(zipped) == [BASE + article_path(5)]
    news = discover(filled(news_sitemap([7])), BASE + "/news.xml")
    assert news.articles[0].published_at == "2026-03-01T15:00:00Z" and news.articles[0].title == "Story 7"


def test_section_page_links_and_alternate_feeds():
    page = b"""<html><head><base href="https://news.example/world/">
    <link rel="alternate" type="application/rss+xml" title="World" href="/world/feed/">
    <link rel="alternate" type="application/rss+xml" title="Comments Feed" href="/comments/feed/">
    <link rel="alternate" type="application/atom+xml" href="atom.xml"></head><body>
    <a href="2026/03/first-story-about-the-harbour/">one</a>
    <a href="/world/2026/03/first-story-about-the-harbour/#comments">again</a>
    <a href="https://other.example/2026/03/someone-elses-story-about-things/">off site</a>
    <a href="/tag/harbour/">tag</a><a href="/world/">self</a><a href="mailto:x@y.z">mail</a>
    <a href="/p/12345-x">by pattern</a></body></html>"""
    found = parse_section(page, BASE + "/world/")
    assert urls(found) == [BASE + "/world/2026/03/first-story-about-the-harbour/", BASE + "/p/12345-x"]
    assert found.feeds == (BASE + "/world/feed/", BASE + "/world/atom.xml")
    by_pattern = parse_section(page, BASE + "/world/", patterns=[r"/p/\d+"])
    assert urls(by_pattern) == [BASE + "/p/12345-x"]


def test_sniffing_tells_sources_apart():
    assert sniff(filled(rss2([0]))) == "feed"
    assert sniff(filled(atom([0]))) == "feed"
    assert sniff(filled(urlset([0]))) == "sitemap"
    assert sniff(b"<!DOCTYPE html><html><body></body></html>") == "html"
    assert sniff(b"%PDF-1.4") == "unknown"
    with pytest.raises(ExtractError, match="neither a feed, a sitemap nor an HTML page"):
        discover(b"%PDF-1.4 ...", BASE + "/x.pdf", "application/pdf")


def test_entities_are_never_expanded():
    laughs = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
    <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
    <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
    <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <url><loc>https://news.example/2026/a-story-&lol4;</loc></url></urlset>"""
    found = parse_sitemap(laughs, BASE + "/s.xml")
    assert all(len(u) < 200 for u in urls(found))


def test_external_entities_and_the_network_are_never_loaded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = f"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>
    <rss version="2.0"><channel><item><link>https://news.example/2026/03/a-story-&x;</link></item>
    </channel></rss>""".encode()
    assert not [u for u in urls(parse_feed(xxe, BASE)) if "TOP-SECRET" in u]


def test_gzip_bombs_stop_at_the_cap():
    bomb = gzip.compress(b"<" + b" " * (MAX_XML_BYTES + 10))
    with pytest.raises(TooLarge):
        inflate(bomb, BASE + "/bomb.xml.gz")
    with pytest.raises(TooLarge):
        inflate(b"x" * 101, BASE, limit=100)


def test_broken_xml_is_a_clear_error():
    with pytest.raises(ExtractError, match="not a sitemap"):
        parse_sitemap(b"<html><body>hi</body></html>", BASE + "/s.xml")
    with pytest.raises(ExtractError):
        parse_feed(b"\x00\x01", BASE + "/f.xml")


def test_broken_xml_with_nothing_readable_fails_and_with_something_left_notes():
    from archiver.discover import discover
    from archiver.errors import ExtractError

    with pytest.raises(ExtractError, match="not well-formed XML.*no links"):
        discover(b"<rss><channel><item><title>unclosed", "https://n.example/feed", "application/rss+xml")
    half = (b'<rss version="2.0"><channel><item><link>https://n.example/2026/01/a-story/</link></item>'
            b"<item><link>https://n.example/20")
    found = discover(half, "https://n.example/feed", "application/rss+xml")
    assert [link.url for link in found.articles][:1] == ["https://n.example/2026/01/a-story/"]
    assert any("not well-formed XML" in note for note in found.notes)
    broken_map = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://n.example/a/</loc>'
    assert discover(broken_map, "https://n.example/s.xml").notes


def huge_sitemap(entries: int, tail: bytes = b"") -> bytes:
    rows = b"".join(b"<url><loc>https://n.example/news/%07d.html</loc></url>" % i for i in range(entries))
    return b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + rows + tail + b"</urlset>"


def test_a_huge_sitemap_is_read_up_to_the_cap_and_no_further():
    """Reading stops at the 50,000th entry: what follows is never inflated nor parsed, so a
    bomb after it (100 MB of blanks, a few hundred KB gzipped), or a document past the 50 MiB
    cap, is no error."""
    bomb = b"<!--" + b" " * (100 * 1024 * 1024) + b"-->"
    with_bomb = gzip.compress(huge_sitemap(MAX_ENTRIES + 10, tail=bomb), compresslevel=1, mtime=0)
    with pytest.raises(TooLarge):
        inflate(with_bomb, BASE + "/s.xml.gz")  # read whole, it passes the cap
    found = discover(with_bomb, BASE + "/s.xml.gz")
    assert len(found.articles) == MAX_ENTRIES
    assert found.articles[-1].url == "https://n.example/news/%07d.html" % (MAX_ENTRIES - 1)
    assert found.notes == (f"sitemap has more than {MAX_ENTRIES} entries; the rest were not read",)
    past_the_cap = huge_sitemap(MAX_XML_BYTES // 40)  # about 70 MB of XML
    assert len(past_the_cap) > MAX_XML_BYTES
    assert len(discover(past_the_cap, BASE + "/s.xml").articles) == MAX_ENTRIES
    with pytest.raises(TooLarge):  # a document that is all one huge entry still meets the cap
        discover(b'<urlset><url><loc>https://n.example/' + b"a" * (MAX_XML_BYTES + 1) + b"</loc></url></urlset>",
                 BASE + "/s.xml")


def test_reading_a_million_entry_sitemap_keeps_memory_flat(tmp_path):
    """Read in a process of its own, so its peak RSS is the read's: a million gzipped entries are
    read with a peak under 150 MB (the whole document parsed at once took ~500 MB)."""
    import subprocess
    import sys

    path = tmp_path / "sitemap.xml.gz"
    path.write_bytes(gzip.compress(huge_sitemap(1_000_000), compresslevel=1, mtime=0))
    script = (  # VmHWM, not ru_maxrss: Linux carries a parent's peak into ru_maxrss across exec
        "import sys\n"
        "from pathlib import Path\n"
        "from archiver.discover import discover\n"
        "found = discover(Path(sys.argv[1]).read_bytes(), 'https://n.example/s.xml.gz')\n"
        "peak = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "print(len(found.articles), int(peak.split()[1]) // 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          timeout=120, check=True)
    links, peak_mb = map(int, done.stdout.split())
    assert links == MAX_ENTRIES
    assert peak_mb < 150, f"peak RSS {peak_mb} MB"
