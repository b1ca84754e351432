"""A second opinion on the body, for pages where the block classifier is in doubt.

    second_body(html) -> list[str]

trafilatura in its fast mode (no fallback extractors), comments excluded. The generic layer
asks for it only on pages where the classifier is unsure of much of what it keeps
(`classify.Verdicts.unsure`, a few pages in a hundred), so it costs little; the
cross-validation (`benchmarks/extractcv.py`) measures the choice on held-out domains.
"""

from __future__ import annotations

import logging

LOGGER = logging.getLogger(__name__)


def second_body(html: str) -> list[str]:
    """trafilatura's paragraphs for a page (empty when it finds no body)."""
    import trafilatura  # loaded on the first page in doubt (the forkserver preloads it)

    try:
        text = trafilatura.extract(html, include_comments=False, fast=True)
    except Exception as exc:  # noqa: BLE001 - a second opinion that fails is no opinion
        LOGGER.debug("trafilatura failed on a page in doubt: %r", exc)
        return []
    return [line.strip() for line in (text or "").splitlines() if line.strip()]
