"""How long each planned cell and the whole run will take, from the table of measured
cell times (``benchmarks.cell_times``), and the order the runner runs the cells in.

A cell's estimate, by the first rule that applies (its listing says which):

1. its framework is not installed, or ``--resume`` keeps its record: 0 s;
2. measured: the table's measurement of the cell's key (workload, variant, backend,
   mode, dtype, preset) at the run's thread count, else at the nearest count. Its wall
   seconds are the fixed part (``fixed_s``: start, import, build, first epoch, parity
   check) plus the loop's, and the loop's are scaled by the workload's
   ``training_steps`` now over those measured (where the preset's sizes changed since)
   and, for a compute-bound cell (its steady GFLOP/s reached ``COMPUTE_BOUND_SHARE`` of
   its run's GEMM ceiling), by the table run's ceiling over this machine's:
   ``--ceiling``, else the newest ceiling measured on a machine with this CPU model and
   count at the run's thread count (in the run folders under ``results/``); unscaled
   where none is known;
3. UNMEASURED, from another preset: the same cell measured at the preset nearest in
   steps, scaled as in 2 by the ratio of steps (a workload with no step count has none);
4. UNMEASURED, nothing to go from: the cell's timeout, an upper bound.

An estimate is capped at the cell's timeout, where the runner stops it. The run's total
is the cells' sum times ``--repeats``, plus the runner's own time (the GEMM ceiling,
starting processes, the report): the median the table's runs measured, else
``DEFAULT_OVERHEAD_S``.

Longest first: the runner runs the cells in decreasing estimate, ties in the planned
order (a stable sort), so that no long cell starts near the end of a run.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from benchmarks import cell_times
from benchmarks.cell_times import Measurement, Table, cell_key, read_table, training_steps
from benchmarks.records import RUN_INFO_NAME, BadFile, Cell, read_run_info
from benchmarks.schema import number
from benchmarks.workloads import get_workload
from shared import registry
from shared.metadata import cpu_model

COMPUTE_BOUND_SHARE = 0.25  # of the GEMM ceiling: above it, a cell's time follows the ceiling
DEFAULT_OVERHEAD_S = 30.0  # the runner's own seconds, where no run of the table measured them


@dataclass(frozen=True)
class Estimate:
    """A cell's estimated wall seconds (one process) and how they were reached."""

    seconds: float
    basis: str  # for the listing: "measured", "UNMEASURED: ...", ...
    measured: bool = True  # False: from another preset or the timeout
    upper_bound: bool = False  # the timeout stands in for a measurement


@dataclass(frozen=True)
class Ceiling:
    """This machine's fp32 GEMM ceiling (GFLOP/s) and where it comes from."""

    gflops: float
    source: str  # "--ceiling", or "<run folder>, <started>"


@dataclass(frozen=True)
class RunEstimate:
    """A run's cells, longest first, each with its estimate; its total in seconds."""

    cells: list[tuple[Cell, Estimate]]
    overhead_s: float  # the runner's own seconds
    repeats: int  # processes per cell
    ceiling: Ceiling | None

    @property
    def total_s(self) -> float:
        return sum(estimate.seconds for _, estimate in self.cells) * self.repeats + self.overhead_s

    @property
    def order(self) -> list[Cell]:
        return [cell for cell, _ in self.cells]


def _nearest(rows: list[Measurement], threads: int) -> Measurement:
    """The measurement at ``threads``, else at the nearest count (the lower on a tie)."""
    return min(rows, key=lambda m: (abs(m.threads - threads), m.threads))


def _carried(
    m: Measurement, run: dict, steps_now: int | None, ceiling: Ceiling | None
) -> tuple[float, list[str]]:
    """``m``'s wall seconds carried to the planned cell (rule 2): seconds and notes."""
    fixed = min(m.fixed_s, m.wall_s)
    scaled, notes = m.wall_s - fixed, []
    if steps_now and m.steps and steps_now != m.steps:
        scaled *= steps_now / m.steps
        notes.append(f"x{steps_now / m.steps:.3g} steps")
    measured_gflops = run.get("gemm_gflops")
    compute_bound = m.ceiling_share is not None and m.ceiling_share >= COMPUTE_BOUND_SHARE
    if compute_bound and number(measured_gflops) and ceiling is not None:
        ratio = measured_gflops / ceiling.gflops
        scaled *= ratio
        notes.append(f"compute-bound ({m.ceiling_share:.0%} of its GEMM ceiling): x{ratio:.3g}")
    return fixed + scaled, notes


def _from_another_preset(
    cell: Cell, table: Table, threads: int, ceiling: Ceiling | None, steps_now: int | None
) -> Estimate | None:
    """Rule 3: the same cell at the measured preset nearest in steps, or None."""
    if not steps_now:
        return None
    prefix = cell_key(cell).rsplit("/", 1)[0] + "/"
    found = [
        (key.rsplit("/", 1)[1], m)
        for key, rows in table.cells.items()
        if key.startswith(prefix)
        for m in [_nearest(rows, threads)]
        if m.steps
    ]
    if not found:
        return None
    preset, m = min(found, key=lambda pair: abs(math.log(steps_now / pair[1].steps)))
    seconds, notes = _carried(m, table.runs.get(m.run, {}), steps_now, ceiling)
    return Estimate(seconds, "; ".join([f"UNMEASURED: from preset {preset}", *notes]), False)


def estimate_cell(
    cell: Cell,
    table: Table,
    threads: int,
    ceiling: Ceiling | None,
    timeout_s: float,
    steps_now: int | None,
) -> Estimate:
    """The cell's estimate by rules 2 to 4 (module docstring), capped at ``timeout_s``;
    ``steps_now``: the workload's ``training_steps`` for the cell (None: unknown)."""
    rows = table.cells.get(cell_key(cell))
    if rows:
        m = _nearest(rows, threads)
        seconds, notes = _carried(m, table.runs.get(m.run, {}), steps_now, ceiling)
        if m.threads != threads:
            notes.insert(0, f"at {m.threads} thread(s)")
        estimate = Estimate(seconds, "; ".join(["measured", *notes]))
    else:
        estimate = _from_another_preset(cell, table, threads, ceiling, steps_now) or Estimate(
            timeout_s, "UNMEASURED: its timeout, an upper bound", False, True
        )
    if estimate.seconds > timeout_s:
        return replace(estimate, seconds=timeout_s, basis=f"{estimate.basis}; its timeout")
    return estimate


def longest_first(pairs: list[tuple[Cell, Estimate]]) -> list[tuple[Cell, Estimate]]:
    """Decreasing estimate; equal ones keep their planned order (``sorted`` is stable)."""
    return sorted(pairs, key=lambda pair: -pair[1].seconds)


def estimate_run(
    cells: list[Cell],
    table: Table,
    repeats: int = 1,
    timeout_s: float | None = None,
    ceiling: Ceiling | None = None,
    kept: frozenset[str] = frozenset(),
) -> RunEstimate:
    """Every cell's estimate (rule 1 first), longest first, each at its own thread count
    (``Cell.threads``). ``timeout_s``: ``--timeout`` (None: each workload's for the
    preset); ``kept``: the file names of the cells whose records a resume keeps."""
    missing = {
        backend: registry.missing_packages(backend) for backend in {c.backend for c in cells}
    }
    steps: dict[tuple[str, str, str], int | None] = {}
    pairs = []
    for cell in cells:
        if cell.file_name in kept:
            estimate = Estimate(0.0, "kept from the earlier run")
        elif missing[cell.backend]:
            estimate = Estimate(0.0, f"skipped: not installed ({', '.join(missing[cell.backend])})")
        else:
            sizes = (cell.workload, cell.variant, cell.preset)
            if sizes not in steps:
                steps[sizes] = training_steps(*sizes)
            limit = timeout_s or get_workload(cell.workload).timeout_s(cell.preset)
            estimate = estimate_cell(cell, table, cell.threads, ceiling, limit, steps[sizes])
        pairs.append((cell, estimate))
    overheads = [r["overhead_s"] for r in table.runs.values() if number(r.get("overhead_s"))]
    overhead_s = statistics.median(overheads) if overheads else DEFAULT_OVERHEAD_S
    return RunEstimate(longest_first(pairs), overhead_s, repeats, ceiling)


def _started(text: object) -> datetime | None:
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def last_ceiling(results_dir: Path, threads: int) -> Ceiling | None:
    """The newest GEMM ceiling at ``threads`` that a run under ``results_dir`` measured
    on a machine with this CPU model and logical CPU count, or None."""
    here = (cpu_model(), os.cpu_count())
    newest: tuple[datetime, Ceiling] | None = None
    for path in sorted(results_dir.glob(f"*/{RUN_INFO_NAME}")):
        info, _ = read_run_info(path.parent)
        for invocation in info.get("invocations") or [info]:
            environment = invocation.get("environment") or {}
            started = _started(invocation.get("started"))
            if (environment.get("cpu"), environment.get("logical_cpus")) != here or not started:
                continue
            for measured in invocation.get("gemm_ceiling") or []:
                if measured.get("threads") == threads and (newest is None or started > newest[0]):
                    source = f"{path.parent.name}, {invocation['started']}"
                    newest = (started, Ceiling(measured["gflops_best"], source))
    return newest[1] if newest else None


def plan_estimate(
    args: argparse.Namespace,
    cells: list[Cell],
    results_dir: Path,
    kept: frozenset[str] = frozenset(),
) -> RunEstimate:
    """The estimates of a ``run`` command's cells from the committed table (a damaged
    table is said on stderr and counts as empty: its cells are then unmeasured)."""
    try:
        table = read_table(cell_times.TABLE_PATH)
    except BadFile as error:
        print(f"warning: {error}; every cell is estimated as unmeasured", file=sys.stderr)
        table = Table({}, {})
    if args.ceiling is not None:
        ceiling: Ceiling | None = Ceiling(args.ceiling, "--ceiling")
    else:
        # The ceiling at the run's largest count, as the report reads it.
        ceiling = last_ceiling(results_dir, max(args.threads))
    return estimate_run(cells, table, args.repeats, args.timeout, ceiling, kept)
