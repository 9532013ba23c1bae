"""The harness's clock for calls into a framework, and summary statistics of its
readings (seconds)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

Result = TypeVar("Result")


class CallClock:
    """Times every call into a framework, per function name, and keeps each function's
    first call apart from the others.

    A framework traces and compiles a function on its first call (torch.compile,
    jax.jit, tf.function: seconds to a minute), so no steady or throughput figure may
    include a first call. Every timed call of a loop goes through one clock: ``steady_s``
    leaves the first call out by construction, and a throughput over a stretch of wall
    time subtracts ``first_calls_s`` of that stretch.
    """

    def __init__(self) -> None:
        self._seconds: dict[str, list[float]] = {}
        self._first_start: dict[str, float] = {}  # perf_counter at each first call's start

    def call(self, name: str, function: Callable[..., Result], *args: Any) -> Result:
        """``function(*args)``, timed with ``time.perf_counter`` under ``name``."""
        start = time.perf_counter()
        result = function(*args)
        elapsed = time.perf_counter() - start
        self._first_start.setdefault(name, start)
        self._seconds.setdefault(name, []).append(elapsed)
        return result

    def all_s(self, name: str) -> list[float]:
        """Every call's seconds in order, the first (compiling) included: the rows of a
        record, for ``steady_summary``."""
        return list(self._seconds.get(name, []))

    def first_s(self, name: str) -> float | None:
        """The first call's seconds (None: never called)."""
        seconds = self._seconds.get(name)
        return seconds[0] if seconds else None

    def steady_s(self, name: str) -> list[float]:
        """The seconds of every call after the first."""
        return self._seconds.get(name, [])[1:]

    def first_calls_s(self, since: float, until: float = float("inf")) -> float:
        """Seconds of the first calls (of every name) that started in ``[since, until)``,
        ``time.perf_counter`` readings."""
        return sum(
            self._seconds[name][0]
            for name, start in self._first_start.items()
            if since <= start < until
        )

    def first_fields(self) -> dict[str, float]:
        """``first_<name>_s`` for each function called: the record's first-call fields."""
        return {f"first_{name}_s": seconds[0] for name, seconds in self._seconds.items()}


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
