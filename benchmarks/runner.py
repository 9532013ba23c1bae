"""Run a matrix of cells, each in a fresh Python process with a timeout.

A cell that is skipped, diverges, crashes or times out gets a record saying so, and
the run goes on. Records are written atomically, so an interrupted run keeps every
finished cell and ``--resume`` runs only the missing ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.progress import LiveStatus, read_epoch
from benchmarks.records import Cell, new_record, write_json_atomic
from shared import registry
from shared.metadata import REPO_ROOT, environment
from shared.workloads import get_workload

STDERR_TAIL_CHARS = 4000


@dataclass(frozen=True)
class RunOptions:
    out_dir: Path
    threads: int
    timeout_s: float | None = None  # None: the workload's timeout for the preset
    resume: bool = False


def thread_environment(threads: int) -> dict[str, str]:
    """Thread counts every framework reads at import; the same for all of them."""
    value = str(threads)
    return {
        "OMP_NUM_THREADS": value,
        "OPENBLAS_NUM_THREADS": value,
        "MKL_NUM_THREADS": value,
        "TF_NUM_INTRAOP_THREADS": value,
        "TF_NUM_INTEROP_THREADS": value,
        "BENCH_THREADS": value,
    }


def progress_path(options: RunOptions) -> Path:
    return options.out_dir / ".cell-progress"


def _tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-STDERR_TAIL_CHARS:]


def _spawn(
    cell: Cell,
    record_path: Path,
    log_path: Path,
    options: RunOptions,
    timeout_s: float,
    on_tick: Callable[[], None],
) -> tuple[str, str]:
    """Run the cell's process; returns ``(outcome, detail)``: done, failed or timeout."""
    info = registry.get(cell.backend)
    command = [
        sys.executable,
        "-m",
        "benchmarks.cell",
        "--cell",
        json.dumps(cell.to_dict()),
        "--out",
        str(record_path),
        "--threads",
        str(options.threads),
        "--backend-module",
        info.module,
        "--progress",
        str(progress_path(options)),
    ]
    env = {
        **os.environ,
        **thread_environment(options.threads),
        **info.env,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        # Own process group: a timeout or Ctrl-C kills the cell and anything it started.
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = _wait(process, timeout_s, on_tick)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return "timeout", f"no result after {timeout_s:g} s"
        except BaseException:
            _kill_group(process)
            raise
    if returncode != 0:
        return "failed", f"exit status {returncode}"
    if not record_path.exists():
        return "failed", "the cell exited 0 but wrote no record"
    return "done", ""


def _wait(process: subprocess.Popen, timeout_s: float, on_tick: Callable[[], None]) -> int:
    """The process's exit status; calls ``on_tick`` twice a second while it runs."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return process.wait(timeout=min(0.5, max(deadline - time.monotonic(), 0.01)))
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise
            on_tick()


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_cell_isolated(
    cell: Cell, options: RunOptions, on_tick: Callable[[], None] = lambda: None
) -> dict[str, Any]:
    """The cell's record, from its own process, or a skipped/failed/timeout record."""
    record_path = options.out_dir / cell.file_name
    missing = registry.missing_packages(cell.backend)
    if missing:
        record = new_record(cell, "skipped", f"not installed: {', '.join(missing)}")
        write_json_atomic(record_path, record)
        return record
    timeout_s = options.timeout_s or get_workload(cell.workload).timeout_s(cell.preset)
    log_path = options.out_dir / "logs" / cell.file_name.replace(".json", ".log")
    record_path.unlink(missing_ok=True)  # a stale record must not pass for this run's
    start = time.perf_counter()
    progress_path(options).unlink(missing_ok=True)
    outcome, detail = _spawn(cell, record_path, log_path, options, timeout_s, on_tick)
    wall_s = time.perf_counter() - start
    if outcome == "done":
        record = json.loads(record_path.read_text())
        record["process_wall_s"] = wall_s
    else:
        record = new_record(
            cell, outcome, detail, output_tail=_tail(log_path), process_wall_s=wall_s
        )
    write_json_atomic(record_path, record)
    return record


def run_cells(
    cells: Iterable[Cell], options: RunOptions, run_info: dict[str, Any]
) -> list[dict[str, Any]]:
    """Run every cell in order, printing one progress line per cell."""
    cells = list(cells)
    info_path = options.out_dir / "run.json"
    write_json_atomic(
        info_path,
        {
            **run_info,
            "environment": environment(options.threads),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    records, started, done = [], time.perf_counter(), 0
    status = LiveStatus()
    for index, cell in enumerate(cells, start=1):
        path = options.out_dir / cell.file_name
        prefix = f"[{index:>{len(str(len(cells)))}}/{len(cells)}] {cell.label}"
        if options.resume and path.exists():
            records.append(json.loads(path.read_text()))
            status.line(f"{prefix}: kept from the earlier run")
            continue

        def show_running(prefix: str = prefix) -> None:
            epoch = read_epoch(progress_path(options))
            failed = sum(r["status"] in ("failed", "timeout") for r in records)
            status.show(
                f"{prefix}: running{f', epoch {epoch}' if epoch else ''} | "
                f"{len(records)} done, {failed} failed | "
                f"elapsed {time.perf_counter() - started:.0f} s"
            )

        record = run_cell_isolated(cell, options, show_running)
        records.append(record)
        done += 1
        elapsed = time.perf_counter() - started
        eta = elapsed / done * (len(cells) - index)
        status.line(f"{prefix}: {_outcome_text(record)} (elapsed {elapsed:.0f} s, ETA {eta:.0f} s)")
    return records


def _outcome_text(record: dict[str, Any]) -> str:
    status = record["status"]
    if status == "ok":
        timing = record.get("timing", {})
        steady = timing.get("steady_median_s")
        steady_text = f", steady {steady * 1e3:.3g} ms/epoch" if steady is not None else ""
        return f"ok in {record.get('process_wall_s', 0):.1f} s{steady_text}"
    return f"{status.upper()}: {record.get('reason', '')}"
