"""How the report writes numbers, in one place: values, seconds, megabytes, GFLOP/s,
shares, ratios and intervals.

Each function returns the cell's text as a ``Number`` (a ``str`` that also carries the
raw value, in the unit named: seconds, MiB, GFLOP/s, a fraction), so that report.html
sorts a column by value while report.md shows the text alone. A missing or non-finite
value is written "–" and carries no value (it sorts last).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchmarks.document import Number

MISSING = "–"


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None (nothing, text, NaN, infinity, a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    return float(value) if math.isfinite(value) else None


def fmt(value: Any, digits: int = 4) -> str:
    """A value in a table cell: ``digits`` significant digits, "–" for nothing, "yes" or
    "no" for a bool, text as it is."""
    if value is None or value == "":
        return Number(MISSING, None)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return Number(str(value), float(value))
    if isinstance(value, float):
        return Number(f"{value:.{digits}g}", _number(value))
    return str(value)


def seconds(value: float | None) -> str:
    """Seconds in s, ms or µs, three significant digits; carries the seconds."""
    number = _number(value)
    if number is None:
        return Number(MISSING, None)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(number) >= scale or unit == "µs":
            return Number(f"{number / scale:.3g} {unit}", number)
    return Number(MISSING, None)  # unreachable: µs takes every value left


def megabytes(value: float | None) -> str:
    """MiB (the records' ``*_mb`` fields) as whole "MB"; carries the MiB."""
    number = _number(value)
    return Number(MISSING if number is None else f"{number:.0f} MB", number)


def percent(share: float | None, digits: int = 1) -> str:
    """A fraction (0.125) as a percentage ("12.5%"); carries the fraction."""
    number = _number(share)
    return Number(MISSING if number is None else f"{number:.{digits}%}", number)


def times(ratio: float | None) -> str:
    """A ratio as "1.23×"; carries the ratio."""
    number = _number(ratio)
    return Number(MISSING if number is None else f"{number:.3g}×", number)


def gflops(value: float | None, ceiling: float | None = None) -> str:
    """GFLOP/s, three significant digits, with its share of ``ceiling`` (GFLOP/s) where
    there is one: "12.3 (4.5%)"; carries the GFLOP/s. Zero or nothing is "–"."""
    number = _number(value)
    if not number:
        return Number(MISSING, None)
    share = f" ({percent(number / ceiling)})" if ceiling else ""
    return Number(f"{number:.3g}{share}", number)


def interval(value: float, low: float, high: float) -> str:
    """A value with its interval, three significant digits: "1.2 [1.1, 1.3]"; carries
    the value."""
    return Number(f"{value:.3g} [{low:.3g}, {high:.3g}]", _number(value))
