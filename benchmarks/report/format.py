"""How the report writes numbers: values, seconds, megabytes."""

from __future__ import annotations

from typing import Any

import numpy as np


def fmt(value: Any, digits: int = 4) -> str:
    """A value in a table cell: ``digits`` significant digits, "–" for nothing."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def seconds(value: float | None) -> str:
    """Seconds in s, ms or µs, three significant digits."""
    if value is None or not np.isfinite(value):
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(value) >= scale or unit == "µs":
            return f"{value / scale:.3g} {unit}"
    return "–"


def megabytes(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} MB"
