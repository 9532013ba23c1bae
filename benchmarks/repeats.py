"""Repeats of a cell (``run --repeats``): each further process's timings folded into the
first process's record, and the steady-state summary recomputed over all of them."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.compare import metric_unchanged
from benchmarks.records import process_steady_seconds
from benchmarks.stats import center
from benchmarks.timing import throughput


def add_repeat(record: dict[str, Any], rerun: dict[str, Any]) -> dict[str, Any]:
    """``record`` with ``rerun``'s timings appended to its ``repeats`` and its steady
    summary recomputed over every process (see ``stats.center``).

    The other timings (import, build, first epoch) stay the first process's. A repeat
    that does not finish ok makes the cell's status its status: a cell that sometimes
    fails is a failing cell. Seeded runs must repeat their result: ``same_result``
    says whether the final loss repeated, by compare's rule."""
    record = {**record, "timing": dict(record.get("timing", {}))}
    rerun_timing = rerun.get("timing", {})
    before, after = (
        record.get("metrics", {}).get("final_loss"),
        rerun.get("metrics", {}).get("final_loss"),
    )
    entry = {
        "status": rerun["status"],
        "reason": rerun.get("reason", ""),
        "process_wall_s": rerun.get("process_wall_s"),
        **{k: rerun_timing.get(k) for k in ("import_s", "build_s", "first_epoch_s")},
        "steady_epoch_s": [row["seconds"] for row in rerun.get("epochs", [])[1:]],
        "final_loss": after,
        "same_result": metric_unchanged(before, after),
    }
    record["repeats"] = [*record.get("repeats", []), entry]
    if rerun["status"] != "ok":
        record["status"] = rerun["status"]
        record["reason"] = f"repeat {len(record['repeats'])}: {rerun.get('reason', '')}"
        return record
    processes = process_steady_seconds(record)
    if processes:
        pooled = np.concatenate(processes)
        q25, q75 = np.percentile(pooled, [25, 75])
        timing = record["timing"]
        steady = center(processes)
        if "train_flops_per_step" in timing:
            flops = int(timing["train_flops_per_step"])
            timing.update(throughput(flops, timing["steps_per_epoch"], steady))
        timing.update(
            steady_median_s=steady,
            steady_iqr_s=float(q75 - q25),
            steady_min_s=float(pooled.min()),
            steady_count=int(pooled.size),
            steady_processes=len(processes),
            step_median_s=steady / timing.get("steps_per_epoch", 1),
        )
    return record
