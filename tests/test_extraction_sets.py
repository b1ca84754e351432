"""The development sets gate extraction: every page of both is extracted once per session; no
page may raise anything but ExtractError, and the scores may not fall below the committed floors
(tests/extraction_floors.json). A missing set fails the run: CI must never pass without them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchextract import BenchReport, run_bench

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FLOORS = json.loads((ROOT / "tests" / "extraction_floors.json").read_text(encoding="utf-8"))
SETS = ("aeb", "wcxb-dev")


@pytest.fixture(scope="session")
def set_reports() -> dict[str, BenchReport]:
    """archiver's bench report on each development set (no trafilatura: only ours is gated)."""
    reports = {}
    for name in SETS:
        directory = SHARED / name
        if not (directory / "ground-truth.json").is_file():
            pytest.fail(f"{directory} is missing: the extraction gate needs ../shared/{name} "
                        "(the development set) next to the checkout")
        reports[name] = run_bench(directory, compare=False)
    return reports


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", SETS)
def test_no_page_of_the_development_sets_raises_anything_but_extract_error(
        set_reports: dict[str, BenchReport], name: str) -> None:
    score = set_reports[name].archiver
    assert score.pages == FLOORS[name]["pages"]
    others = {kind: n for kind, n in score.failure_types if kind != "ExtractError"}
    assert not others, f"{name}: extraction raised {others} (only ExtractError is allowed)"


@pytest.mark.parametrize("name", SETS)
def test_scores_do_not_fall_below_the_committed_floors(
        set_reports: dict[str, BenchReport], name: str) -> None:
    report, floors = set_reports[name], FLOORS[name]
    measured = {"f1": report.archiver.f1}
    if report.meta:
        meta = report.meta["archiver"]
        measured |= {f: meta.accuracy(f) or 0.0 for f in ("title", "author", "date")}
    low = {key: round(measured[key], 4) for key, floor in floors.items()
           if key != "pages" and measured[key] < floor}
    assert not low, f"{name}: below the floors in tests/extraction_floors.json: {low} " \
                    f"(floors {floors})"
