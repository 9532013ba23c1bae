"""Compare two runs cell by cell: which steady times or final metrics moved beyond noise.

A cell's steady time has moved when the whole bootstrap 95% interval of the ratio
NEW / BASE of its median steady epoch lies outside ``1 ± threshold`` (default 10%):
the change is both real (the interval excludes 1) and large enough to matter on a
shared machine. A final metric has moved when it differs by more than a relative
1e-6 (runs are seeded: the same code gives the same numbers). A status change
(ok -> failed, ...) always counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.records import load_records
from benchmarks.stats import bootstrap_median_ratio

Record = dict[str, Any]
METRIC_RTOL = 1e-6
MIN_STEADY_EPOCHS = 3


@dataclass(frozen=True)
class Change:
    cell: str
    what: str
    detail: str


def _key(record: Record) -> tuple:
    # The preset is part of the cell: the same variant at another size is another result.
    keys = ("workload", "variant", "backend", "mode", "dtype", "seed", "preset")
    return tuple(record[k] for k in keys)


def _label(record: Record) -> str:
    return (
        f"{record['workload']}/{record['variant']} {record['backend']}:{record['mode']} "
        f"{record['dtype']} seed {record['seed']}"
    )


def _steady(record: Record) -> list[float]:
    return [row["seconds"] for row in record.get("epochs", [])[1:]]


def time_change(base: Record, new: Record, threshold: float) -> Change | None:
    base_s, new_s = _steady(base), _steady(new)
    if min(len(base_s), len(new_s)) < MIN_STEADY_EPOCHS:
        return None  # too few epochs for an interval
    ratio, low, high = bootstrap_median_ratio(new_s, base_s)
    if low > 1 + threshold or high < 1 / (1 + threshold):
        word = "slower" if ratio > 1 else "faster"
        return Change(
            _label(new), f"steady time {word}", f"x{ratio:.3f} [95% CI {low:.3f}, {high:.3f}]"
        )
    return None


def metric_changes(base: Record, new: Record) -> list[Change]:
    changes = []
    base_metrics, new_metrics = base.get("metrics", {}), new.get("metrics", {})
    for name, before in base_metrics.items():
        after = new_metrics.get(name)
        if not isinstance(before, int | float) or isinstance(before, bool):
            if before != after:
                changes.append(Change(_label(new), f"metric {name}", f"{before} -> {after}"))
            continue
        if not isinstance(after, int | float) or not math.isclose(
            before, after, rel_tol=METRIC_RTOL, abs_tol=1e-12
        ):
            changes.append(Change(_label(new), f"metric {name}", f"{before:.6g} -> {after}"))
    return changes


def compare_runs(
    base_dir: Path, new_dir: Path, threshold: float = 0.10
) -> tuple[list[Change], int]:
    """The changes between two runs, and how many cells both runs have."""
    base = {_key(r): r for r in load_records(base_dir)}
    new = {_key(r): r for r in load_records(new_dir)}
    changes: list[Change] = []
    common = sorted(set(base) & set(new))
    for key in common:
        before, after = base[key], new[key]
        if before["status"] != after["status"]:
            changes.append(
                Change(_label(after), "status", f"{before['status']} -> {after['status']}")
            )
            continue
        if after["status"] != "ok":
            continue
        change = time_change(before, after, threshold)
        changes += [change] if change else []
        changes += metric_changes(before, after)
    return changes, len(common)


def format_changes(changes: list[Change], compared: int, base: Path, new: Path) -> str:
    lines = [f"compared {compared} cells: {base} -> {new}"]
    if not changes:
        return "\n".join([*lines, "no cell moved beyond its spread"])
    width = max(len(c.cell) for c in changes)
    lines += [f"{c.cell:<{width}}  {c.what}: {c.detail}" for c in changes]
    lines.append(f"{len(changes)} change(s)")
    return "\n".join(lines)
