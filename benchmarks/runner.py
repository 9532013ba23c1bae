"""Run a matrix of cells, each in a fresh Python process with a timeout.

A cell that is skipped, diverges, crashes or times out gets a record saying so, and
the run goes on. Records are written atomically, so an interrupted run keeps every
finished cell. ``--resume`` keeps the ok, diverged and not-applicable cells and runs the
rest: missing ones, damaged records, and cells that failed, timed out or were skipped
because their framework was not installed (``rerun_on_resume``).

Each cell runs in its own process group and dies with the runner (``benchmarks.lifetime``);
it inherits the run folder's lock (``benchmarks.run_folder``), so no other runner can
start on the folder while it is alive.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.failures import failure_reason
from benchmarks.lifetime import PARENT_PID_ENV
from benchmarks.progress import RunProgress, read_epoch
from benchmarks.records import (
    BadFile,
    Cell,
    new_record,
    read_record,
    scan_records,
    write_json_atomic,
)
from benchmarks.repeats import add_repeat
from benchmarks.workloads import get_workload
from shared import registry
from shared.cache import CACHE_DIR_ENV, cache_dir
from shared.metadata import REPO_ROOT
from shared.registry import UnknownName

STDERR_TAIL_CHARS = 4000
KEPT = "kept from the earlier run"


@dataclass(frozen=True)
class RunOptions:
    """How to run the cells (each at its own thread count, ``Cell.threads``)."""

    out_dir: Path
    timeout_s: float | None = None  # None: the workload's timeout for the preset
    resume: bool = False
    repeats: int = 1  # processes per cell; the later ones add timings to the first's record
    lock_fd: int | None = None  # the run folder's lock, inherited by every cell process
    # The environment the cells start from (default: this process's); a Dask worker's
    # leaves out the thread variables Dask set (benchmarks.cluster_task).
    environ: Mapping[str, str] | None = None
    # The host block (``benchmarks.hosts``) every record of this runner gets; None on a
    # Dask worker, whose driver adds its host's (``benchmarks.cluster_run``).
    host: dict[str, Any] | None = None


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
        str(record_path.absolute()),  # the cell's working directory is the repository
        "--threads",
        str(cell.threads),
        "--backend-module",
        info.module,
        "--progress",
        str(progress_path(options).absolute()),
    ]
    env = {
        **(os.environ if options.environ is None else options.environ),
        **thread_environment(cell.threads),
        **info.env,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        # Absolute: the cell runs in the repository, where a relative one would land.
        CACHE_DIR_ENV: str(cache_dir()),
        PARENT_PID_ENV: str(os.getpid()),
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        # Own process group: a timeout, Ctrl-C or SIGTERM kills the cell and anything it
        # started; so does its end (a worker it left behind must not load the next cell).
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=() if options.lock_fd is None else (options.lock_fd,),
        )
        try:
            returncode = _wait(process, timeout_s, on_tick)
        except subprocess.TimeoutExpired:
            return "timeout", f"no result after {timeout_s:g} s"
        finally:
            _kill_group(process)
    if returncode != 0:
        return "failed", failure_reason(record_path, log_path, returncode)
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


def _remove_cell_temporaries(record_path: Path) -> None:
    """Remove the temporary file of a write the cell was killed in (a timeout mid-record
    or mid-checkpoint: ``shared.files`` names them ``.<name>.<random>.tmp``). The cell's
    process group is dead, and while the runner holds the folder's lock nothing else
    writes these names."""
    stem = record_path.name.removesuffix(".json")
    for pattern in (f".{stem}.json.*.tmp", f".{stem}.ckpt.npz.*.tmp"):
        for path in record_path.parent.glob(pattern):
            path.unlink(missing_ok=True)


def run_cell_isolated(
    cell: Cell,
    options: RunOptions,
    on_tick: Callable[[], None] = lambda: None,
    record_path: Path | None = None,
) -> dict[str, Any]:
    """The cell's record, from its own process, or a skipped/failed/timeout record,
    written to ``record_path`` (default: the cell's file in the run folder)."""
    record_path = record_path or options.out_dir / cell.file_name
    missing = registry.missing_packages(cell.backend)
    if missing:
        record = new_record(cell, "skipped", f"not installed: {', '.join(missing)}")
        record.update({"host": options.host} if options.host else {})
        write_json_atomic(record_path, record)
        return record
    timeout_s = options.timeout_s or get_workload(cell.workload).timeout_s(cell.preset)
    log_path = options.out_dir / "logs" / record_path.name.replace(".json", ".log")
    record_path.unlink(missing_ok=True)  # a stale record must not pass for this run's
    start = time.perf_counter()
    progress_path(options).unlink(missing_ok=True)
    outcome, detail = _spawn(cell, record_path, log_path, options, timeout_s, on_tick)
    wall_s = time.perf_counter() - start
    _remove_cell_temporaries(record_path)
    if outcome == "done":
        try:
            record = read_record(record_path, cell)
            record["process_wall_s"] = wall_s
        except BadFile as error:
            outcome, detail = "failed", f"the cell wrote a bad record: {error.why}"
    if outcome != "done":
        record = new_record(
            cell, outcome, detail, output_tail=_tail(log_path), process_wall_s=wall_s
        )
    record.update({"host": options.host} if options.host else {})
    write_json_atomic(record_path, record)
    return record


def run_cells(
    cells: Iterable[Cell], options: RunOptions, estimates: Mapping[str, float] | None = None
) -> list[dict[str, Any]]:
    """Run every cell, ``options.repeats`` rounds of the whole matrix, showing progress
    on stderr (``benchmarks.progress``; ``estimates``: cell file name -> estimated
    seconds, for the ETA); with ``options.resume``, keep what the folder holds
    (``rerun_on_resume``).

    Rounds rather than back-to-back repeats: a burst of load from elsewhere on the
    machine then lands on processes of many cells, not on every process of one."""
    cells = list(cells)
    found = _earlier_records(cells, options) if options.resume else {}
    records: list[dict[str, Any]] = []
    with RunProgress(cells, options.repeats, estimates) as progress:
        try:
            for repeat in range(options.repeats):
                for index, cell in enumerate(cells):
                    if repeat == 0:
                        record, outcome = _first_process(cell, found, options, progress)
                        records.append(record)
                        ran = not outcome.startswith(KEPT)
                        _finished(progress, cell, repeat, record, outcome, ran)
                    else:
                        records[index], outcome, rerun = _repeat_process(
                            cell, records[index], repeat, options, progress
                        )
                        _finished(progress, cell, repeat, rerun, outcome, rerun is not None)
        finally:  # interrupted too: the live epoch count of the last cell is no result
            progress_path(options).unlink(missing_ok=True)
    return records


def _finished(
    progress: RunProgress,
    cell: Cell,
    repeat: int,
    record: dict[str, Any] | None,
    outcome: str | None,
    ran: bool,
) -> None:
    """Tell ``progress`` how the process ended (``record``: the one it wrote); an
    ``outcome`` of None: it had nothing to run."""
    if outcome is None:
        progress.dropped(cell)
        return
    status = record["status"] if record is not None else "ok"
    wall_s = record.get("process_wall_s") if record is not None and ran else None
    progress.finished(cell, outcome, status, wall_s, ran=ran, repeat=repeat)


def _ticker(progress: RunProgress, cell: Cell, repeat: int, options: RunOptions):
    """Marks the process started; the returned ``on_tick`` passes its epoch on."""
    progress.started(cell, repeat)
    return lambda: progress.epoch(cell, repeat, read_epoch(progress_path(options)))


def rerun_on_resume(record: dict[str, Any]) -> bool:
    """Whether ``--resume`` runs the cell again: it failed or timed out (perhaps the
    machine's fault), or was skipped because its framework was not installed. Kept:
    ok, diverged (a seeded result: it diverges again) and not applicable."""
    status, reason = record["status"], record.get("reason", "")
    return status in ("failed", "timeout") or (
        status == "skipped" and reason.startswith("not installed")
    )


def _was(record: dict[str, Any]) -> str:
    reason = record.get("reason", "")
    return record["status"] + (f" ({reason})" if reason else "")


def _earlier_records(cells: list[Cell], options: RunOptions) -> dict[str, dict[str, Any]]:
    """The readable records of ``cells`` in the run folder, by file name, those that
    ``rerun_on_resume`` runs again included; prints every damaged or foreign record file
    (their cells run again) and how many cells are kept, run again (damaged ones apart)
    and not run yet."""
    scan = scan_records(options.out_dir)
    for problem in scan.problems:
        print(f"warning: left out: {problem}", flush=True)
    found = {c.file_name: scan.records[c.file_name] for c in cells if c.file_name in scan.records}
    kept = Counter(r["status"] for r in found.values() if not rerun_on_resume(r))
    again = Counter(r["status"] for r in found.values() if rerun_on_resume(r))
    planned = {c.file_name for c in cells}
    damaged = {p.path.name.removesuffix(".gz") for p in scan.problems} & planned - set(found)
    print(
        f"resume: keeping {_counts(kept)}; running again {_counts(again)}"
        + (f" and {len(damaged)} damaged" if damaged else "")
        + f"; not run yet {len(cells) - len(found) - len(damaged)}",
        flush=True,
    )
    return found


def _counts(counter: Counter) -> str:
    """``3 (2 ok, 1 diverged)``, or ``0``."""
    by_status = ", ".join(f"{n} {status}" for status, n in sorted(counter.items()))
    return f"{sum(counter.values())}" + (f" ({by_status})" if by_status else "")


def _first_process(
    cell: Cell,
    found: dict[str, dict[str, Any]],
    options: RunOptions,
    progress: RunProgress,
) -> tuple[dict[str, Any], str]:
    earlier = found.get(cell.file_name)
    if earlier is not None and not rerun_on_resume(earlier):
        return earlier, KEPT + ("" if earlier["status"] == "ok" else f": {_was(earlier)}")
    record = run_cell_isolated(cell, options, _ticker(progress, cell, 0, options))
    again = "" if earlier is None else f" (run again: it was {_was(earlier)})"
    return record, _outcome_text(record) + again


def _repeat_process(
    cell: Cell,
    record: dict[str, Any],
    repeat: int,
    options: RunOptions,
    progress: RunProgress,
) -> tuple[dict[str, Any], str | None, dict[str, Any] | None]:
    """Run the cell's process once more and fold its timings into ``record``: the
    folded record, the line's outcome (None: nothing to run, the cell did not finish
    ok) and the process's own record (None: none ran)."""
    if record["status"] != "ok":
        return record, None, None
    if len(record.get("repeats", [])) >= repeat:
        return record, KEPT, None
    scratch = options.out_dir / "repeats" / f"{cell.file_name[:-5]}__repeat{repeat}.json"
    # A repeat is one whole process: a checkpoint left by one cut short (kill -9) would
    # make it resume and time only the rest, as if it were the whole cell.
    checkpoint = scratch.with_name(f"{scratch.name[:-5]}.ckpt.npz")
    checkpoint.unlink(missing_ok=True)
    rerun = run_cell_isolated(cell, options, _ticker(progress, cell, repeat, options), scratch)
    record = add_repeat(record, rerun)
    write_json_atomic(options.out_dir / cell.file_name, record)
    scratch.unlink(missing_ok=True)
    checkpoint.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: another repeat's scratch is there
        scratch.parent.rmdir()
    return record, _outcome_text(rerun), rerun


def _epoch_name(workload: object) -> str:
    """What one of the workload's timed epochs is ('epoch' for a name not registered)."""
    try:
        return get_workload(str(workload)).epoch_name
    except UnknownName:
        return "epoch"


def _outcome_text(record: dict[str, Any]) -> str:
    status = record["status"]
    if status == "ok":
        timing = record.get("timing", {})
        steady = timing.get("steady_median_s")
        unit = _epoch_name(record.get("workload"))
        steady_text = f", steady {steady * 1e3:.3g} ms/{unit}" if steady is not None else ""
        return f"ok in {record.get('process_wall_s', 0):.1f} s{steady_text}"
    wall_s = record.get("process_wall_s")
    after = f" after {wall_s:.1f} s" if isinstance(wall_s, (int, float)) else ""
    return f"{status.upper()}{after}: {record.get('reason', '')}"
