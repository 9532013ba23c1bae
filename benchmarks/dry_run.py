"""``run --dry-run``: the plan, printed before anything is imported, measured or written.

Every cell in the order the runner would run it (longest first), its estimated wall
seconds and how they were reached (``benchmarks.estimates``), then the run's estimated
total. The command's options and its run folder are checked as a real run checks them
(bad ones exit 2), but the folder is neither created nor locked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks import cell_times
from benchmarks.estimates import RunEstimate, plan_estimate
from benchmarks.progress import duration
from benchmarks.records import Cell, read_run_info, scan_records
from benchmarks.run_folder import check_folder, matrix_fields


def kept_on_resume(
    args: argparse.Namespace, cells: list[Cell], not_applicable: list[tuple[Cell, str]]
) -> frozenset[str]:
    """Apply the run folder's start and resume rules (``run_folder.check_folder``: a
    RefusedFolder exits 2) without writing anything, and return the file names of the
    cells whose records a resume keeps. A damaged ``run.json``, which a resume renames
    before it starts over, is left as it is: its checks are a real run's business."""
    if not args.out.is_dir():
        return frozenset()
    skipped = [cell for cell, _ in not_applicable]
    matrix = matrix_fields(cells, skipped, args.preset, args.threads)
    _, damaged = read_run_info(args.out)
    if not (args.resume and damaged):
        # run.json's form of the counts (a run of one count records the int), as a run checks
        threads = matrix["threads"]
        check_folder(args.out, args.resume, matrix["matrix"], threads, preset=args.preset)
    if not args.resume:
        return frozenset()
    from benchmarks.runner import rerun_on_resume

    records = scan_records(args.out).records
    return frozenset(name for name, record in records.items() if not rerun_on_resume(record))


def print_plan(
    args: argparse.Namespace, estimate: RunEstimate, not_applicable: int, table: Path
) -> None:
    """The listing: a header, one line per cell, the runner's own time and the total."""
    ceiling = estimate.ceiling
    threads = ",".join(map(str, args.threads))
    print(
        f"dry run, nothing is run or written: {len(estimate.cells)} cells at preset "
        f"{args.preset}, {threads} thread(s), {estimate.repeats} process(es) each, "
        f"longest first, for {args.out}"
    )
    print(
        f"estimates from {table}; "
        + (
            f"GEMM ceiling here {ceiling.gflops:.1f} GFLOP/s ({ceiling.source})"
            if ceiling
            else "no GEMM ceiling known here: compute-bound cells unscaled (--ceiling GFLOPS)"
        )
    )
    width = max(len(cell.label) for cell, _ in estimate.cells)
    for cell, cell_estimate in estimate.cells:
        print(
            f"{duration(cell_estimate.seconds):>14}  {cell.label:<{width}}  {cell_estimate.basis}"
        )
    print(f"{duration(estimate.overhead_s):>14}  the runner: GEMM ceiling, processes, report")
    if not_applicable:
        print(f"{'':>14}  {not_applicable} requested cell(s) not applicable: not run")
    unmeasured = [e for _, e in estimate.cells if not e.measured]
    bounds = sum(e.upper_bound for e in unmeasured)
    print(
        f"estimated total: {duration(estimate.total_s)} ({estimate.total_s:.0f} s)"
        + (
            f"; {len(unmeasured)} cell(s) UNMEASURED, {bounds} of them at their timeout "
            f"(an upper bound)"
            if unmeasured
            else ""
        )
    )


def dry_run(
    args: argparse.Namespace,
    cells: list[Cell],
    not_applicable: list[tuple[Cell, str]],
    results_dir: Path,
) -> int:
    """Check the run folder, estimate the cells and print the plan; exit status 0."""
    kept = kept_on_resume(args, cells, not_applicable)
    estimate = plan_estimate(args, cells, results_dir, kept)
    print_plan(args, estimate, len(not_applicable), cell_times.TABLE_PATH)
    return 0
