"""Compare two runs cell by cell: which steady times or final metrics moved beyond noise.

A cell's steady time has moved when the whole bootstrap 95% interval of the ratio
NEW / BASE of its steady time lies outside ``1 ± threshold`` (default 10%): the change
is both real (the interval excludes 1) and large enough to matter on a shared machine.
The interval resamples processes, then epochs (``benchmarks.stats``): processes of the
same code differ far more than epochs of one process. A cell measured in a single
process borrows the process-to-process spread of the cells that ran several
(``run --repeats``), pooled over both runs; with none anywhere, the interval covers
epoch noise only, and the output says so.

A final metric has moved when it differs by more than a relative 1e-6 (runs are
seeded: the same code gives the same numbers). A status change (ok -> failed, ...)
always counts, and so does a cell that only one of the runs has: a cell missing from
NEW is a result lost, one missing from BASE a result nothing vouches for.

A cell is paired only with the same cell from the same host class (``benchmarks.hosts``:
CPU model, usable CPUs, memory): one that ran on another kind of machine in the other
run is listed as "not comparable: different host", never as a change, whatever its
times, status or metrics (another CPU's BLAS may round differently).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.hosts import comparable, host_class_of
from benchmarks.records import Cell, ceiling_gflops, load_run, process_steady_seconds
from benchmarks.report.format import seconds
from benchmarks.stats import bootstrap_ratio, center, center_interval, process_spread

Record = dict[str, Any]
METRIC_RTOL = 1e-6
MIN_STEADY_EPOCHS = 3
CEILING_NOTE_RATIO = 1.10  # GEMM ceilings of the two runs further apart: say so
NOT_COMPARABLE = "not comparable: different host"


@dataclass(frozen=True)
class Change:
    """One thing that moved. ``detail``: the printed line's tail; ``before``, ``after``:
    each run's side (a steady time with its 95% interval, a metric, a status), for
    compare.html."""

    cell: str
    what: str
    detail: str
    before: str = ""
    after: str = ""


@dataclass
class Comparison:
    changes: list[Change] = field(default_factory=list)
    compared: int = 0  # cells in both runs
    only_base: int = 0  # cells missing from NEW
    only_new: int = 0  # cells missing from BASE
    notes: list[str] = field(default_factory=list)
    # Cells in both runs that ran on machines of different host classes: not compared.
    not_comparable: list[Change] = field(default_factory=list)
    # Cells in both runs, weighed, with nothing moved.
    unchanged: list[Cell] = field(default_factory=list)
    threshold: float = 0.10  # the smallest relative time change that counts


def cell_key(record: Record) -> tuple:
    """What names a cell, from a record or ``Cell.to_dict()``."""
    # The preset and the thread count are part of the cell: the same variant at another
    # size, or on another number of threads, is another result.
    return Cell.of(record).key


def _label(record: Record) -> str:
    return Cell.of(record).label


def pooled_spread(records: Iterable[Record]) -> np.ndarray:
    """Process-to-process log deviations of every ok cell that ran several processes."""
    spreads = [
        process_spread(processes)
        for record in records
        if record["status"] == "ok" and len(processes := process_steady_seconds(record)) >= 2
    ]
    return np.concatenate(spreads) if spreads else np.empty(0)


def time_change(
    base: Record, new: Record, threshold: float, spread: np.ndarray | None = None
) -> Change | None:
    base_p, new_p = process_steady_seconds(base), process_steady_seconds(new)
    if min(sum(map(len, base_p)), sum(map(len, new_p))) < MIN_STEADY_EPOCHS:
        return None  # too few epochs for an interval
    ratio, low, high = bootstrap_ratio(new_p, base_p, borrowed_spread=spread)
    if low > 1 + threshold or high < 1 / (1 + threshold):
        word = "slower" if ratio > 1 else "faster"
        return Change(
            _label(new),
            f"steady time {word}",
            f"x{ratio:.3f} [95% CI {low:.3f}, {high:.3f}] "
            f"({len(base_p)} -> {len(new_p)} process(es))",
            steady_interval(base_p, spread),
            steady_interval(new_p, spread),
        )
    return None


def steady_interval(processes: list[list[float]], spread: np.ndarray | None) -> str:
    """A run's steady epoch time and its bootstrap 95% interval, with units, e.g.
    ``1.23 ms [95% CI 1.2 ms, 1.27 ms]``; a single process borrows ``spread`` as
    ``time_change``'s ratio does. ``processes``: per process, steady epoch seconds."""
    low, high = center_interval(processes, borrowed_spread=spread)
    return f"{seconds(center(processes))} [95% CI {seconds(low)}, {seconds(high)}]"


def metric_unchanged(before: Any, after: Any) -> bool:
    """Whether a final metric repeated: numbers to a relative ``METRIC_RTOL``, anything
    else (flags, strings) exactly."""
    if not isinstance(before, int | float) or isinstance(before, bool):
        return before == after
    return isinstance(after, int | float) and math.isclose(
        before, after, rel_tol=METRIC_RTOL, abs_tol=1e-12
    )


def metric_changes(base: Record, new: Record) -> list[Change]:
    changes = []
    base_metrics, new_metrics = base.get("metrics", {}), new.get("metrics", {})
    for name, before in base_metrics.items():
        after = new_metrics.get(name)
        if metric_unchanged(before, after):
            continue
        shown = f"{before:.6g}" if isinstance(before, float) else f"{before}"
        changes.append(
            Change(_label(new), f"metric {name}", f"{shown} -> {after}", shown, f"{after}")
        )
    return changes


def compare_runs(base_dir: Path, new_dir: Path, threshold: float = 0.10) -> Comparison:
    """The changes between two runs, with notes on what limits the comparison."""
    base_run, new_run = load_run(base_dir), load_run(new_dir)
    base = {cell_key(r): r for r in base_run.records}
    new = {cell_key(r): r for r in new_run.records}
    common = sorted(set(base) & set(new))
    spread = pooled_spread([*base.values(), *new.values()])
    result = Comparison(
        compared=len(common),
        only_base=len(set(base) - set(new)),
        only_new=len(set(new) - set(base)),
        notes=_notes(base_dir, new_dir, spread),
        threshold=threshold,
    )
    # Damaged or foreign files are left out on either side, and named.
    result.notes += [f"left out: {p}" for p in [*base_run.problems, *new_run.problems]]
    for key in common:
        before, after = base[key], new[key]
        if not comparable(before, after):
            result.not_comparable.append(_other_host(before, after))
            continue
        moved = _cell_changes(before, after, threshold, spread)
        result.changes += moved
        if not moved:
            result.unchanged.append(Cell.of(after))
    result.changes += one_sided_changes(base, new)
    return result


def _cell_changes(
    before: Record, after: Record, threshold: float, spread: np.ndarray
) -> list[Change]:
    """What moved in one cell that both runs ran on the same host class."""
    if before["status"] != after["status"]:
        statuses = before["status"], after["status"]
        return [Change(_label(after), "status", " -> ".join(statuses), *statuses)]
    if after["status"] != "ok":
        return []
    change = time_change(before, after, threshold, spread)
    return ([change] if change else []) + metric_changes(before, after)


def _other_host(before: Record, after: Record) -> Change:
    """The line of a cell that ran on other kinds of machine in the two runs."""
    kinds = [host_class_of(record) for record in (before, after)]
    labels = [kind.label if kind else "unknown" for kind in kinds]
    return Change(_label(after), NOT_COMPARABLE, " -> ".join(labels), *labels)


def one_sided_changes(base: dict[tuple, Record], new: dict[tuple, Record]) -> list[Change]:
    """A change for each cell only one run has (its status in that run)."""
    changes = [
        Change(
            _label(base[key]),
            "missing from NEW",
            f"{base[key]['status']} in BASE",
            base[key]["status"],
            "missing",
        )
        for key in sorted(set(base) - set(new))
    ]
    changes += [
        Change(
            _label(new[key]),
            "missing from BASE",
            f"{new[key]['status']} in NEW",
            "missing",
            new[key]["status"],
        )
        for key in sorted(set(new) - set(base))
    ]
    return changes


def _notes(base_dir: Path, new_dir: Path, spread: np.ndarray) -> list[str]:
    notes = []
    if spread.size:
        notes.append(
            f"process-to-process spread from repeated cells: {np.std(spread):.1%} "
            f"(log sd, {spread.size} processes); single-process cells borrow it"
        )
    else:
        notes.append(
            "neither run repeated a cell (run --repeats 3), so the intervals cover epoch "
            "noise only; processes of the same code can differ by more than that"
        )
    ceilings = [ceiling_gflops(path) for path in (base_dir, new_dir)]
    if all(ceilings):
        ratio = ceilings[1] / ceilings[0]
        text = f"GEMM ceiling {ceilings[0]:.1f} -> {ceilings[1]:.1f} GFLOP/s (x{ratio:.2f})"
        if max(ratio, 1 / ratio) > CEILING_NOTE_RATIO:
            text += ": the machine itself ran at another speed, so times moved with it"
        notes.append(text)
    return notes


def format_changes(comparison: Comparison, base: Path, new: Path) -> str:
    one_sided = [
        f"{count} only in {side}"
        for count, side in ((comparison.only_base, "BASE"), (comparison.only_new, "NEW"))
        if count
    ]
    if comparison.not_comparable:
        one_sided.append(f"{len(comparison.not_comparable)} {NOT_COMPARABLE}")
    extra = f" ({', '.join(one_sided)})" if one_sided else ""
    lines = [f"compared {comparison.compared} cells: {base} -> {new}{extra}"]
    lines += [f"note: {note}" for note in comparison.notes]
    lines += [f"{c.cell}  {c.what}: {c.detail}" for c in comparison.not_comparable]
    changes = comparison.changes
    if not changes:
        paired = comparison.compared - len(comparison.not_comparable)
        if comparison.compared and not paired:  # nothing was weighed: say so, not "no move"
            verdict = "no cell compared: every cell in common ran on another host class"
        else:
            verdict = "no cell moved beyond its spread"
        return "\n".join([*lines, verdict])
    width = max(len(c.cell) for c in changes)
    lines += [f"{c.cell:<{width}}  {c.what}: {c.detail}" for c in changes]
    lines.append(f"{len(changes)} change(s)")
    return "\n".join(lines)
