"""Jobs that report on the worker process they run in (imports nothing but the standard library,
so running one adds nothing to what the worker had loaded)."""

from __future__ import annotations

import sys


def loaded_modules() -> list[str]:
    """The modules imported in this process."""
    return sorted(sys.modules)
