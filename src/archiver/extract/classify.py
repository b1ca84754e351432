"""The learned body classifier: which blocks of a page are the article's text.

    model = default_model()          # the model shipped beside this module (body_model.json)
    keep = model.keep(blocks)        # one bool per block (features from `blocks.py`)

A small gradient-boosted tree ensemble, trained by `benchmarks/trainbody.py` on the
development sets (see the README). Context comes in through the features themselves (the
block's neighbours, its container's text and link density, its place relative to the title
and to the densest paragraph container) and through `verdicts`, which mixes each block's
probability with its neighbours' before the threshold, keeps a short heading that sits between
two kept blocks, and says when the page as a whole is in doubt. A second stage of trees fed
with the first stage's probabilities of the neighbours was tried twice and did not raise the
cross-validated F1, so there is none.

The trees are stored as plain JSON numbers and evaluated in pure Python: at load time the
ensemble becomes the source of one function of nested comparisons, compiled once. A model
whose feature list differs from this code's is refused, so a feature change cannot silently
run against a model trained on other features.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from archiver.errors import ExtractError
from archiver.extract.blocks import FEATURE_NAMES, Block

MODEL_PATH = Path(__file__).with_name("body_model.json")
MODEL_FORMAT = 1
# Chosen by the domain-grouped cross-validation (benchmarks/extractcv.py), on held-out
# probabilities: a block's own probability weighs this much against its two neighbours' mean,
OWN_WEIGHT = 0.75
# and a page is in doubt when blocks of probability inside UNSURE carry more text than
# UNSURE_SHARE of the text kept.
UNSURE = (0.2, 0.8)
UNSURE_SHARE = 0.6
# A block whose score is this far from even (log-odds; probability below 0.05 or above 0.95)
# after a whole number of EXIT_EVERY trees is not scored by the rest: the later trees are
# small corrections that seldom carry such a block across the threshold, and most blocks are
# that plain. Measured on the held-out probabilities like the settings above: the model then
# evaluates 45% of its trees per block on average and the cross-validated F1 moves by 0.0003.
EXIT_MARGIN = 3.0
EXIT_EVERY = 25
# A short heading (h2-h6) that the model drops between two blocks it keeps is kept: the story's
# own subheads are short and alike across sites, so they score low on their own, and a heading
# whose neighbours on both sides are the story is the story's. Measured like the settings above
# (held-out union F1 +0.0004 and +0.0002 on two deals of the domains, both sets up on each).
HEADING_CHARS = 120
_HEADINGS = tuple(FEATURE_NAMES.index(f"tag_h{level}") for level in range(2, 7))


@dataclass(frozen=True)
class Verdicts:
    """Which blocks the classifier keeps, and whether it is in doubt about the page."""

    keep: list[bool]
    unsure: bool


def smooth(probabilities: Sequence[float], own: float = OWN_WEIGHT) -> list[float]:
    """Each probability mixed with its neighbours' mean (an end block's one neighbour): a lone
    doubtful block between kept ones is kept, a lone confident one among chrome is not."""
    n = len(probabilities)
    if n < 3:
        return list(probabilities)
    out = []
    for i, p in enumerate(probabilities):
        if i == 0:
            near = probabilities[1]
        elif i == n - 1:
            near = probabilities[n - 2]
        else:
            near = (probabilities[i - 1] + probabilities[i + 1]) / 2
        out.append(own * p + (1 - own) * near)
    return out


@dataclass(frozen=True)
class Tree:
    """One regression tree: per node a feature index (-1 at a leaf), a threshold (go left when
    the feature is <= it), the two children and the leaf value."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]


def _tree_source(tree: Tree, node: int, indent: str, out: list[str]) -> None:
    if tree.feature[node] < 0:
        out.append(f"{indent}s += {float(tree.value[node])!r}")
        return
    out.append(f"{indent}if x{int(tree.feature[node])} <= {float(tree.threshold[node])!r}:")
    _tree_source(tree, tree.left[node], indent + " ", out)
    out.append(f"{indent}else:")
    _tree_source(tree, tree.right[node], indent + " ", out)


@dataclass(frozen=True)
class Ensemble:
    """Trees whose leaf values add up (from `base`) to a log-odds score."""

    trees: tuple[Tree, ...]
    base: float
    width: int  # number of input features

    def compile(self, margin: float | None = EXIT_MARGIN) -> Callable[[Sequence[float]], float]:
        """One Python function of nested comparisons; inputs are unpacked to locals first.
        With a `margin`, the score is returned early once it is that far from 0 after a
        multiple of EXIT_EVERY trees (see EXIT_MARGIN)."""
        names = ", ".join(f"x{i}" for i in range(self.width))
        lines = ["def score(x):", f" {names}, = x", f" s = {float(self.base)!r}"]
        for done, tree in enumerate(self.trees, 1):
            _tree_source(tree, 0, " ", lines)
            if margin is not None and done % EXIT_EVERY == 0 and done < len(self.trees):
                lines.append(f" if s > {float(margin)!r} or s < {-float(margin)!r}: return s")
        lines.append(" return s")
        namespace: dict[str, Any] = {}
        exec(compile("\n".join(lines), "<body model>", "exec"), namespace)  # noqa: S102 (numbers only)
        function: Callable[[Sequence[float]], float] = namespace["score"]
        return function

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base, "trees": [
            {"feature": list(t.feature), "threshold": list(t.threshold), "left": list(t.left),
             "right": list(t.right), "value": list(t.value)} for t in self.trees]}

    @classmethod
    def from_json(cls, data: dict[str, Any], width: int) -> Ensemble:
        trees = []
        for raw in data["trees"]:
            tree = Tree(tuple(int(v) for v in raw["feature"]),
                        tuple(float(v) for v in raw["threshold"]),
                        tuple(int(v) for v in raw["left"]),
                        tuple(int(v) for v in raw["right"]),
                        tuple(float(v) for v in raw["value"]))
            _check(tree, width)
            trees.append(tree)
        return cls(tuple(trees), float(data["base"]), width)


def _check(tree: Tree, width: int) -> None:
    n = len(tree.feature)
    if not n or any(len(part) != n for part in (tree.threshold, tree.left, tree.right,
                                                 tree.value)):
        raise ValueError("tree arrays differ in length")
    for node in range(n):
        if tree.feature[node] >= width:
            raise ValueError(f"feature index {tree.feature[node]} out of range")
        if tree.feature[node] >= 0 and not (node < tree.left[node] < n and
                                            node < tree.right[node] < n):
            raise ValueError(f"node {node} has children out of range")


def sigmoid(raw: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, raw))))


class BodyModel:
    """A block classifier: `probabilities(blocks)` and `keep(blocks)`."""

    def __init__(self, ensemble: Ensemble, threshold: float,
                 features: Sequence[str] = FEATURE_NAMES) -> None:
        if tuple(features) != FEATURE_NAMES or ensemble.width != len(FEATURE_NAMES):
            raise ExtractError("body model", "its features differ from this extractor's; "
                               "retrain it with benchmarks/trainbody.py")
        self.ensemble = ensemble
        self.threshold = threshold
        self._score = ensemble.compile()

    def feature_probabilities(self, features: Sequence[Sequence[float]]) -> list[float]:
        """The probability that each block (given by its feature row) is article text."""
        return [sigmoid(self._score(f)) for f in features]

    def probabilities(self, blocks: Sequence[Block]) -> list[float]:
        return self.feature_probabilities([b.features for b in blocks])

    def verdicts(self, features: Sequence[Sequence[float]], texts: Sequence[str],
                 never: Sequence[bool]) -> Verdicts:
        """The blocks kept (smoothed probability over the threshold, and not `never`; a short
        heading between two kept blocks too, see HEADING_CHARS) and whether the page is in
        doubt (see UNSURE)."""
        raw = self.feature_probabilities(features)
        keep = [p >= self.threshold and not no for p, no in zip(smooth(raw), never)]
        for i in range(1, len(keep) - 1):
            if not keep[i] and keep[i - 1] and keep[i + 1] and not never[i] and \
                    len(texts[i]) <= HEADING_CHARS and any(features[i][c] for c in _HEADINGS):
                keep[i] = True
        kept = sum(len(t) for t, k in zip(texts, keep) if k)
        doubtful = sum(len(t) for t, p in zip(texts, raw) if UNSURE[0] < p < UNSURE[1])
        return Verdicts(keep, doubtful > UNSURE_SHARE * max(kept, 1))

    def keep(self, blocks: Sequence[Block]) -> list[bool]:
        """Which blocks are article text (`verdicts` without a never-keep list)."""
        return self.verdicts([b.features for b in blocks], [b.text for b in blocks],
                             [False] * len(blocks)).keep

    def to_json(self) -> dict[str, Any]:
        return {"format": MODEL_FORMAT, "features": list(FEATURE_NAMES),
                "threshold": self.threshold, **self.ensemble.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BodyModel:
        """A model from its JSON form; raises ExtractError when the data is malformed."""
        try:
            if data["format"] != MODEL_FORMAT:
                raise ValueError(f"format {data['format']!r}, expected {MODEL_FORMAT}")
            features = tuple(str(f) for f in data["features"])
            return cls(Ensemble.from_json(data, len(features)), float(data["threshold"]),
                       features)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ExtractError("body model", f"malformed model data: {exc}; "
                               "retrain it with benchmarks/trainbody.py") from exc


def load_model(path: str | Path) -> BodyModel:
    """Read a model file; raises ExtractError naming the file when it cannot."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExtractError(str(path), f"cannot read the body model: {exc}") from exc
    return BodyModel.from_json(data)


@lru_cache(maxsize=1)
def default_model() -> BodyModel:
    """The model shipped with the package (loaded and compiled once per process)."""
    return load_model(MODEL_PATH)
