"""Spread and comparison of timings: bootstrap confidence intervals of time ratios."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


def bootstrap_median_ratio(
    numerator: Sequence[float], denominator: Sequence[float], seed: int = 0
) -> tuple[float, float, float]:
    """``median(numerator) / median(denominator)`` and its bootstrap 95% interval.

    Each side is resampled with replacement on its own (the epochs of two cells are
    independent measurements). Returns ``(ratio, low, high)``."""
    top = np.asarray(numerator, dtype=np.float64)
    bottom = np.asarray(denominator, dtype=np.float64)
    if top.size == 0 or bottom.size == 0:
        raise ValueError("both samples need at least one measurement")
    rng = np.random.default_rng(seed)
    top_medians = np.median(rng.choice(top, (BOOTSTRAP_SAMPLES, top.size)), axis=1)
    bottom_medians = np.median(rng.choice(bottom, (BOOTSTRAP_SAMPLES, bottom.size)), axis=1)
    ratios = top_medians / bottom_medians
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(np.median(top) / np.median(bottom)), float(low), float(high)
