"""The generic body layer: blocks and their features, the learned classifier, its training."""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from selectolax.lexbor import LexborHTMLParser

from archiver.cli import main
from archiver.errors import ExtractError
from archiver.extract import article_blocks, extract_article
from archiver.extract.assemble import BodyEvidence, assemble_body
from archiver.extract.blocks import (
    CATEGORIES,
    FEATURE_NAMES,
    Block,
    PageContext,
    is_boilerplate,
    markup_categories,
    page_blocks,
)
from archiver.extract.classify import (
    EXIT_EVERY,
    EXIT_MARGIN,
    HEADING_CHARS,
    BodyModel,
    Ensemble,
    Tree,
    Verdicts,
    default_model,
    load_model,
    smooth,
)
from archiver.extract.second import second_body

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
PROSE = ("The council met on Tuesday evening to vote on the harbour plan, which has divided "
         "the town for a year, and the result surprised almost everyone in the room.")
URL = "https://news.example.org/2025/07/harbour-plan"


def _names(markup: str) -> set[str]:
    return {CATEGORIES[i] for i in markup_categories(markup)}


def test_class_vocabulary_reads_token_parts_not_substrings() -> None:
    assert _names("article-body c-share") == {"content", "share"}
    assert _names("articleBody") == {"content"}
    assert _names("ad-slot") == {"ad"}
    assert _names("shadow adorable") == set()  # "ad" must be a whole part
    assert _names("md:mr-[25%] u-margin@s !hidden") == {"hidden"}


def test_blocks_follow_block_boundaries_and_skip_code() -> None:
    tree = LexborHTMLParser(
        "<html><body><h2>Heading</h2><p>One <a href='/x'>link</a> here<br>and a new line</p>"
        "<ul><li>First item</li><li>Second item</li></ul><table><tr><td>Cell A</td>"
        "<td>Cell B</td></tr></table><figure><img src='a.jpg'><figcaption>A caption"
        "</figcaption></figure><script>var x = 1;</script><div>Loose text<p>Inner</p>tail"
        "</div></body></html>")
    assert tree.body is not None
    blocks = page_blocks(tree.body, PageContext())
    assert [(b.tag, b.text) for b in blocks] == [
        ("h2", "Heading"), ("p", "One link here\nand a new line"), ("li", "First item"),
        ("li", "Second item"), ("td", "Cell A"), ("td", "Cell B"), ("figcaption", "A caption"),
        ("div", "Loose text"), ("p", "Inner"), ("div", "tail"),
    ]
    assert all(len(b.features) == len(FEATURE_NAMES) for b in blocks)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)  # a name says which column it is
    density = FEATURE_NAMES.index("link_density")
    assert blocks[1].features[density] == pytest.approx(len("link") / len(blocks[1].text))
    assert blocks[0].features[density] == 0.0


def test_features_see_markup_landmarks_and_page_evidence() -> None:
    description = "A standfirst that the page shows under its headline, in full."
    tree = LexborHTMLParser(
        f"<html><body><h1>Harbour plan passes</h1><p class='standfirst'>{description}</p>"
        f"<article><p>{PROSE}</p></article><footer><p>Footer text here</p></footer>"
        "<div class='social-share'><p>Share it</p></div></body></html>")
    assert tree.body is not None
    blocks = page_blocks(tree.body, PageContext(title="Harbour plan passes",
                                                description=description))
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    title, lead, prose, footer, share = blocks
    assert title.features[index["is_title"]] == 1.0
    assert lead.features[index["description"]] == 1.0
    assert lead.features[index["class_lead"]] == 0.0  # the block's own class
    assert prose.features[index["in_article"]] == 1.0  # its parent is <article>
    assert prose.features[index["after_title"]] == 1.0
    assert footer.features[index["in_footer"]] == 1.0
    assert share.features[index["class_share"]] == 1.0
    assert prose.features[index["class_share"]] == 99.0


def test_ancestor_features_count_look_alikes_above_the_owner() -> None:
    cards = "".join(f"<li class='teaser-card'><p>Other story {n}</p></li>" for n in range(3))
    tree = LexborHTMLParser(
        f"<html><body><article class='story'><div class='story-body'><p>{PROSE}</p></div>"
        f"</article><aside><ul class='related'>{cards}</ul></aside></body></html>")
    assert tree.body is not None
    blocks = page_blocks(tree.body, PageContext())
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    prose, *teasers = blocks

    def value(block: Block, name: str) -> float:
        return block.features[index[name]]

    assert len(teasers) == 3
    # The prose's parent and grandparent are one of a kind; its great-grandparent, <body>,
    # has no markup.
    assert value(prose, "parent_alike") == 0.0  # log of one element with that markup
    assert value(prose, "grand_alike") == 0.0
    assert value(prose, "great_alike") == -1.0
    # A teaser's parent is one of three alike cards, in a list in an <aside> with no markup.
    first = teasers[0]
    assert value(first, "parent_alike") == pytest.approx(math.log(3))
    assert value(first, "grand_alike") == 0.0
    assert value(first, "great_alike") == -1.0
    share = len("".join(b.text for b in teasers)) / sum(b.chars for b in blocks)
    assert value(first, "great_share") == pytest.approx(share)
    assert value(first, "great_link_density") == 0.0
    assert value(first, "great_blocks") == pytest.approx(math.log1p(3))
    # The prose's great-grandparent is <body>: the whole page.
    assert value(prose, "great_share") == 1.0
    assert value(prose, "great_blocks") == pytest.approx(math.log1p(4))


def _block(text: str) -> Block:
    return Block(text, "p", (0,), chars=len(text))


def test_boilerplate_lines_are_never_kept() -> None:
    assert is_boilerplate(_block("By Jane Roe | July 10, 2025"))
    assert is_boilerplate(_block("By Maria Lopez and James Whitfield\n3 September 2025, 7:40 am"))
    assert is_boilerplate(_block("Share this story"))
    assert is_boilerplate(_block("October 12, 2017"))
    assert not is_boilerplate(_block("by the end of the day the council had voted."))
    assert not is_boilerplate(_block(PROSE))
    tree = LexborHTMLParser(
        "<p>Share: <a href='https://www.facebook.com/sharer/sharer.php?u=x'>Facebook</a> | "
        "<a href='mailto:?body=x'>Email</a></p><p>See <a href='https://facebook.com/x'>our "
        "page</a> and <a href='/about'>about us</a>.</p>")
    assert tree.body is not None
    share, prose = page_blocks(tree.body, PageContext())
    assert (share.links, share.share_links) == (2, 2) and is_boilerplate(share)
    assert (prose.links, prose.share_links) == (2, 1) and not is_boilerplate(prose)


def _tree(feature: int, threshold: float, low: float, high: float) -> Tree:
    return Tree((feature, -1, -1), (threshold, 0.0, 0.0), (1, -1, -1), (2, -1, -1),
                (0.0, low, high))


def test_model_is_evaluated_as_its_trees_say() -> None:
    width = len(FEATURE_NAMES)
    first = Ensemble((_tree(0, 3.0, -2.0, 2.0), _tree(2, 0.5, 1.0, -1.0)), 0.25, width)
    model = BodyModel(first, 0.5)
    row = [0.0] * width
    assert model.feature_probabilities([row])[0] == pytest.approx(1 / (1 + 2.718281828 ** 0.75),
                                                                rel=1e-6)
    row[0], row[2] = 4.0, 0.9
    assert model.feature_probabilities([row])[0] == pytest.approx(1 / (1 + 2.718281828 ** -1.25),
                                                                rel=1e-6)


def test_scoring_stops_early_only_for_a_block_far_from_even() -> None:
    width = len(FEATURE_NAMES)
    trees = tuple(_tree(0, 3.0, -0.05, 0.5) for _ in range(2 * EXIT_EVERY))
    ensemble = Ensemble(trees, 0.0, width)
    plain, confident = [0.0] * width, [4.0] + [0.0] * (width - 1)
    # 0.5 a tree: past EXIT_MARGIN after EXIT_EVERY trees, so the second half is not scored
    assert ensemble.compile()(confident) == pytest.approx(0.5 * EXIT_EVERY)
    assert ensemble.compile(None)(confident) == pytest.approx(2 * 0.5 * EXIT_EVERY)
    assert 0.5 * EXIT_EVERY > EXIT_MARGIN
    # -0.05 a tree never gets that far: every tree counts
    assert ensemble.compile()(plain) == pytest.approx(-0.05 * 2 * EXIT_EVERY)


def test_verdicts_smooth_over_neighbours_and_flag_pages_in_doubt() -> None:
    assert smooth([1.0, 0.0, 1.0]) == pytest.approx([0.75, 0.25, 0.75])
    assert smooth([0.2, 0.6]) == [0.2, 0.6]  # too few blocks to have neighbours on both sides
    width = len(FEATURE_NAMES)
    # feature 0 above 3: probability ~0.98; else 0.5 (in doubt)
    model = BodyModel(Ensemble((_tree(0, 3.0, 0.0, 4.0),), 0.0, width), 0.55)
    sure, doubt = [5.0] + [0.0] * (width - 1), [0.0] * width
    texts = ["a" * 100, "b" * 100, "c" * 100, "d" * 100]
    verdicts = model.verdicts([sure, doubt, sure, sure], texts, [False, False, False, True])
    assert verdicts.keep == [True, True, True, False]  # 0.5 alone is under 0.55; smoothed, over
    assert not verdicts.unsure  # 100 doubtful characters of 300 kept
    verdicts = model.verdicts([doubt, doubt, sure, doubt], texts, [False] * 4)
    assert verdicts.unsure and verdicts.keep == [False, True, True, True]
    assert model.keep([]) == []


def test_a_short_heading_between_kept_blocks_is_kept() -> None:
    width = len(FEATURE_NAMES)
    # feature 0 above 3: probability ~0.98; else ~0.02, which smoothing does not lift past 0.5
    model = BodyModel(Ensemble((_tree(0, 3.0, -4.0, 4.0),), 0.0, width), 0.5)
    story = [5.0] + [0.0] * (width - 1)
    chrome = [0.0] * width
    h3, h2_long, div = list(chrome), list(chrome), list(chrome)
    h3[FEATURE_NAMES.index("tag_h3")] = 1.0
    h2_long[FEATURE_NAMES.index("tag_h2")] = 1.0
    texts = ["Paragraph one.", "Pain", "Paragraph two.", "x" * (HEADING_CHARS + 1),
             "Paragraph three.", "Share this", "Paragraph four.", "Pain", "Footer"]
    rows = [story, h3, story, h2_long, story, div, story, h3, chrome]
    keep = model.verdicts(rows, texts, [False] * len(rows)).keep
    # the heading between story blocks is kept; a long heading, a non-heading and a heading
    # with chrome after it are not
    assert keep == [True, True, True, False, True, False, True, False, False]
    never = [False, True] + [False] * (len(rows) - 2)
    assert not model.verdicts(rows, texts, never).keep[1]  # never-keep still wins


def test_a_page_in_doubt_takes_the_second_opinion() -> None:
    evidence = BodyEvidence("Title", [], list, lambda: ["Second opinion's body."])
    texts = ["Title", "Kept text of the story."]
    assert assemble_body(texts, Verdicts([True, True], False), evidence) == (
        ["Kept text of the story."], "generic")
    assert assemble_body(texts, Verdicts([True, True], True), evidence) == (
        ["Second opinion's body."], "trafilatura")
    no_opinion = BodyEvidence("Title", [], list, list)
    assert assemble_body(texts, Verdicts([True, True], True), no_opinion)[1] == "generic"


def test_model_round_trips_and_refuses_bad_data(tmp_path: Path) -> None:
    width = len(FEATURE_NAMES)
    model = BodyModel(Ensemble((_tree(1, 1.0, -1.0, 1.0), _tree(0, 0.5, -1.0, 1.0)), 0.1,
                               width), 0.4)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model.to_json()), encoding="utf-8")
    again = load_model(path)
    assert again.to_json() == model.to_json()
    bad = model.to_json()
    bad["features"] = bad["features"][:-1]
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ExtractError, match="retrain"):
        load_model(path)
    bad = model.to_json()
    bad["trees"][0]["left"] = [5, -1, -1]
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ExtractError, match="malformed"):
        load_model(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ExtractError, match=str(path)):
        load_model(path)


def test_exported_trees_score_as_scikit_learn_does() -> None:
    np = pytest.importorskip("numpy")
    pytest.importorskip("sklearn")
    from sklearn.ensemble import HistGradientBoostingClassifier

    sys.path.insert(0, str(BENCHMARKS))
    import trainbody

    rng = random.Random(3)
    width = len(FEATURE_NAMES)
    rows = [[rng.random() * 4 for _ in range(width)] for _ in range(400)]
    labels = [int(r[0] + r[5] > 4 or r[9] > 3.5) for r in rows]
    clf = HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=7, random_state=1)
    clf.fit(np.asarray(rows), np.asarray(labels))
    model = BodyModel(trainbody.export(clf), 0.5)
    ours = model.feature_probabilities(rows[:50])
    theirs = clf.predict_proba(np.asarray(rows[:50]))[:, 1]
    assert ours == pytest.approx(list(theirs), rel=1e-9, abs=1e-12)


def test_domain_folds_never_split_a_domain() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    import extractcv
    import extractdata
    from benchextract import BenchPage

    pages = [extractdata.Page("s", extractdata.registered_domain(url), BenchPage(str(i), url,
                                                                              b"", ""))
             for i, url in enumerate(["https://www.bbc.co.uk/a", "https://news.bbc.co.uk/b",
                                      "https://example.com/c", "https://blog.example.com/d",
                                      "https://other.org/e", "https://third.net/f"])]
    assert pages[1].domain == "bbc.co.uk" and pages[3].domain == "example.com"
    fold_of = extractcv.folds(pages, 3)
    assert fold_of[0] == fold_of[1] and fold_of[2] == fold_of[3]
    assert sorted(set(fold_of)) == [0, 1, 2]
    # Another seed deals the domains differently, still keeping each domain in one fold.
    others = [extractcv.folds(pages, 3, seed) for seed in range(1, 10)]
    assert all(f[0] == f[1] and f[2] == f[3] and sorted(set(f)) == [0, 1, 2] for f in others)
    assert any(f != fold_of for f in others)


def test_block_labels_follow_the_truth() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    import extractdata

    truth = f"Heading of the story\n\n{PROSE}"
    labels, weights = extractdata.label_blocks(
        ["Heading of the story", PROSE, "Subscribe to our newsletter today", "Home"], truth)
    assert labels == [1, 1, 0, 0]
    assert weights[1] > weights[0] > 0


def test_shipped_model_keeps_the_story_and_drops_chrome() -> None:
    page = (
        "<html><head><title>Harbour plan passes</title>"
        "<meta name='description' content='A description no reader sees on the page itself.'>"
        "</head><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        "<header class='site-header'><a href='/'>The Town Crier</a></header>"
        "<main><article><h1>Harbour plan passes</h1>"
        "<p class='standfirst'>The vote ends a year of argument over the old quay.</p>"
        + "".join(f"<p>{PROSE} Paragraph {i}.</p>" for i in range(6)) +
        "<h2>What comes next</h2><ul><li>Building starts in May, the council said.</li>"
        "<li>The quay stays open to boats until then, officials added.</li></ul>"
        + "".join(f"<p>{PROSE} Later paragraph {i}.</p>" for i in range(3)) +
        "</article></main><footer><p>© 2025 The Town Crier. All rights reserved.</p>"
        "<ul><li><a href='/about'>About us</a></li><li><a href='/contact'>Contact</a></li>"
        "<li><a href='/privacy'>Privacy</a></li></ul></footer></body></html>")
    article = extract_article(page, URL)
    assert article.extractor == "generic"
    assert "Paragraph 0." in article.body and "Later paragraph 2." in article.body
    assert "What comes next" in article.body
    assert "Building starts in May" in article.body
    assert "The vote ends a year of argument" in article.body  # a standfirst it shows
    assert "no reader sees" not in article.body  # a description it does not
    assert article.subtitle == "A description no reader sees on the page itself."
    for chrome in ("Home", "The Town Crier", "All rights reserved", "About us", "Privacy"):
        assert chrome not in article.body
    assert article.body.splitlines()[0] != "Harbour plan passes"
    assert len(article_blocks(page, URL)[0]) >= 14
    assert default_model() is default_model()


def test_cross_validation_assembles_bodies_as_the_extractor_does() -> None:
    """The CV scores bodies assembled from cached blocks; they must be extract_article's."""
    sys.path.insert(0, str(BENCHMARKS))
    import extractcv
    import extractdata

    story = "".join(f"<p>{PROSE} Paragraph {i}.</p>" for i in range(5))
    plain = (f"<html><head><title>Harbour plan passes</title></head><body><nav><a href='/'>Home"
             f"</a></nav><main><h1>Harbour plan passes</h1><p>12 May 2025</p>{story}</main>"
             "<footer><p>© 2025 The Town Crier.</p></footer></body></html>")
    full_body = "\n\n".join(f"{PROSE} Paragraph {i}. And more." for i in range(5))
    with_json_ld = plain.replace("</head>", "<script type='application/ld+json'>" + json.dumps(
        {"@type": "NewsArticle", "headline": "Harbour plan passes", "articleBody": full_body})
        + "</script></head>")
    def constant(score: float) -> BodyModel:  # one probability for every block
        leaf = Tree((-1,), (0.0,), (-1,), (-1,), (score,))
        return BodyModel(Ensemble((leaf,), 0.0, len(FEATURE_NAMES)), 0.5)

    seen = set()
    for page in (plain, with_json_ld):
        for model in (default_model(), constant(-9.0), constant(0.0)):
            data = extractdata.cut_page("k", "example.com", page, URL, "")
            article = extract_article(page, URL, model=model)
            seen.add(article.extractor)
            assert extractcv.held_out_body(data, model) == article.body
    assert seen == {"generic", "json-ld", "fallback", "trafilatura"}
    data = extractdata.cut_page("k", "example.com", plain, URL, "")
    assert data.second and data.second == second_body(plain)


def test_bench_extract_needs_a_directory_or_cv() -> None:
    result = CliRunner().invoke(main, ["bench", "extract"])
    assert result.exit_code != 0
    assert "DIRECTORY" in result.output and "--cv" in result.output
