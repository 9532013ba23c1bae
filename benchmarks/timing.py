"""Summary statistics of the harness's clock readings (seconds)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def steady_summary(epoch_seconds: Sequence[float], steps_per_epoch: int) -> dict[str, float]:
    """First epoch apart (tracing, compiling, warm-up); median, IQR, min of the rest."""
    seconds = np.asarray(epoch_seconds, dtype=np.float64)
    summary: dict[str, float] = {
        "first_epoch_s": float(seconds[0]) if seconds.size else float("nan"),
        "train_total_s": float(seconds.sum()),
        "epochs_run": int(seconds.size),
        "steps_per_epoch": steps_per_epoch,
    }
    steady = seconds[1:]
    if steady.size:
        q25, median, q75 = np.percentile(steady, [25, 50, 75])
        summary.update(
            steady_median_s=float(median),
            steady_iqr_s=float(q75 - q25),
            steady_min_s=float(steady.min()),
            steady_count=int(steady.size),
            step_median_s=float(median) / steps_per_epoch,
        )
    return summary
