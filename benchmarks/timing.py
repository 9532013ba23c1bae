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


def time_to_target(
    losses: Sequence[float], epoch_seconds: Sequence[float], target: float | None
) -> dict[str, float | int | None]:
    """Epochs and training seconds until the loss first drops below ``target``.

    ``target_s`` sums every epoch up to that one, the first (compiling) epoch included;
    ``target_after_first_s`` leaves the first epoch out, so compile time shows apart."""
    if target is None:
        return {}
    below = np.flatnonzero(np.asarray(losses, dtype=np.float64) < target)
    if not below.size:
        return {"target_loss": target, "target_epochs": None, "target_s": None}
    epochs = int(below[0]) + 1
    seconds = np.asarray(epoch_seconds[:epochs], dtype=np.float64)
    return {
        "target_loss": target,
        "target_epochs": epochs,
        "target_s": float(seconds.sum()),
        "target_after_first_s": float(seconds[1:].sum()),
    }


def throughput(
    flops_per_step: int, steps_per_epoch: int, steady_median_s: float | None, batch_size: int = 1
) -> dict:
    """Achieved GFLOP/s (FLOPs counted from the spec) and training samples per second of
    the steady epochs."""
    result: dict[str, float] = {"train_flops_per_step": float(flops_per_step)}
    if steady_median_s:
        result["gflops"] = flops_per_step * steps_per_epoch / steady_median_s / 1e9
        result["samples_per_s"] = batch_size * steps_per_epoch / steady_median_s
    return result
