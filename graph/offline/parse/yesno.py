"""Yes and no, the way customers say them: shared with production code in `graph.language`."""

from __future__ import annotations

from graph.language.yesno import parse_yes_no

__all__ = ["parse_yes_no"]
