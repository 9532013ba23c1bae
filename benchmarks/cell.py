"""Run one cell in this (fresh) process and write its record: ``python -m benchmarks.cell``.

Order matters for honest timing: thread settings come from the environment the
runner set; the backend (and its framework) is imported and timed first, then
configured, then the model is built, the data prepared, and every epoch timed. What a
cell runs is its workload's ``CellRun`` (benchmarks.workloads.base; its kind, in
benchmarks.workloads.kinds), called here the same way for every workload.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.failures import describe_exception
from benchmarks.lifetime import die_with_parent
from benchmarks.memory import peak_rss_mb
from benchmarks.records import Cell, new_record, write_json_atomic
from benchmarks.workloads import get_workload
from benchmarks.workloads.base import CellRun
from shared.metadata import environment, threads_in_effect
from shared.protocol import NotSupported


def cell_environment(threads: int) -> dict[str, Any]:
    """The record's environment block, with the thread counts each framework loaded in
    this process reports it really uses (``threads`` is only what was asked for)."""
    return {**environment(threads), "threads_in_effect": threads_in_effect()}


def load_backend(backend_module: str, threads: int, seed: int) -> tuple[ModuleType, float]:
    """Import the cell's backend (and its framework), timed, then configure it; returns
    the module and the import's seconds. Every driver's cell starts with this."""
    start = time.perf_counter()
    backend = importlib.import_module(backend_module)
    import_s = time.perf_counter() - start
    backend.configure(threads, seed)
    return backend, import_s


def run_cell(
    cell: Cell,
    threads: int,
    backend_module: str,
    progress: Path | None = None,
    record_path: Path | None = None,
) -> dict[str, Any]:
    """Run the cell by its workload's ``CellRun`` and return its record (status ok,
    diverged or skipped): build, prepare, run, outcome, then parity (seed 0).

    ``backend_module`` is the registry's module path for the cell's backend; the runner
    resolved it and set the backend's environment before starting this process.
    ``record_path``: where the record goes (a workload may keep files beside it)."""
    run = get_workload(cell.workload).start(cell, record_path)  # before the timed import
    backend, import_s = load_backend(backend_module, threads, cell.seed)
    timing: dict[str, Any] = {"import_s": import_s}
    try:
        run.build(backend, timing)
        run.prepare(timing)
        run.run(progress, timing)
    except NotSupported as error:
        record = new_record(
            cell, "skipped", f"not applicable: {error}", environment=cell_environment(threads)
        )
    else:
        outcome = run.outcome(timing)
        record = new_record(cell, outcome.status, outcome.reason, **outcome.fields)
        record["environment"] = cell_environment(threads)
        if cell.seed == 0 and outcome.check_parity:  # once per configuration, after timing
            record["parity"] = cell_parity(run, backend, backend_module)
    record.setdefault("peak_rss_mb", peak_rss_mb())  # where the outcome did not say
    return record


def cell_parity(run: CellRun, backend: ModuleType, backend_module: str) -> dict[str, Any]:
    """The run's check against the NumPy reference (benchmarks.parity_check); imported
    here, after the timed import: the reference is the NumPy backend itself."""
    from benchmarks.parity_check import REFERENCE_MODULE

    if backend_module == REFERENCE_MODULE:
        return {"reference": True}
    return run.parity(backend)


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 with the cell's record written; 1 when the cell crashed, with a
    failed record whose reason is the exception (the traceback goes to stderr, the
    cell's log), so the runner and the report show why it failed."""
    die_with_parent()  # first: a cell must never outlive its runner
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cell", required=True, help="the cell as JSON")
    parser.add_argument("--out", required=True, type=Path, help="record file to write")
    parser.add_argument("--threads", required=True, type=int)
    parser.add_argument("--backend-module", required=True, help="from the registry")
    parser.add_argument("--progress", type=Path, help="file to report epochs to")
    args = parser.parse_args(argv)
    cell = Cell(**json.loads(args.cell))
    try:
        write_json_atomic(
            args.out, run_cell(cell, args.threads, args.backend_module, args.progress, args.out)
        )
    except Exception as error:
        traceback.print_exc()
        failed = new_record(
            cell,
            "failed",
            describe_exception(error),
            environment=cell_environment(args.threads),
            peak_rss_mb=peak_rss_mb(),
        )
        with contextlib.suppress(OSError):  # the runner then reads the reason from the log
            write_json_atomic(args.out, failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
