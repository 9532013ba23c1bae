"""The committed table of measured cell times, ``results/cell_times.json``, from which
``run --dry-run`` estimates a run's wall time and the runner orders its cells
(``benchmarks.estimates``). ``python -m benchmarks estimates --from RUN_DIR [...]``
refreshes it from finished runs.

The table is one JSON object:

- ``runs``: run name (its folder's name) -> where it was measured: ``cpu`` (model),
  ``logical_cpus``, ``threads``, ``gemm_gflops`` (the run's fp32 GEMM ceiling at its
  thread count, GFLOP/s; null where not measured), ``started``, ``git_commit``, and
  ``overhead_s``: the runner's seconds outside its cells (the GEMM ceiling, the report),
  null unless one invocation ran the whole matrix.
- ``cells``: cell key ``workload/variant/backend/mode/dtype/preset`` -> one measurement
  per thread count: ``threads``; ``wall_s``, the median over the cell's processes (every
  seed, every ``--repeats`` process that finished ok) of the process's wall seconds as
  the runner saw them; ``fixed_s``, the median seconds of its first processes that its
  step count does not drive (start, import, build, the first epoch or step, parity
  check); ``steps``, the workload's
  ``training_steps`` at the preset (null where its time follows no step count);
  ``ceiling_share``, the steady GFLOP/s over the run's ceiling (null where not
  counted); ``processes``; ``run``.

Only cells that finished ``ok`` are measurements: a failed or diverged cell stopped
early, a timed-out one says only that it needs more than its timeout. Seeds pool into
one key: a cell's time follows its sizes, not its seed.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.options import BadInput, WriteFailed, check_output_file, path_option
from benchmarks.records import BadFile, Cell, ceiling_gflops, load_run, read_json
from benchmarks.schema import number
from benchmarks.workloads import get_workload
from shared.files import write_json_atomic
from shared.metadata import REPO_ROOT
from shared.paths import absolute
from shared.registry import UnknownName
from shared.specs import SpecError

TABLE_PATH = REPO_ROOT / "results" / "cell_times.json"
TABLE_VERSION = 1
FIXED_PHASES = ("import_s", "build_s", "prepare_s")  # fixed, where a record has no loop time
ABOUT = (
    "Measured wall seconds of benchmark cells, for `run --dry-run` and the runner's "
    "longest-first order; refresh with `python -m benchmarks estimates --from RUN_DIR`."
)


@dataclass(frozen=True)
class Measurement:
    """One cell key's time at one thread count (module docstring: the fields)."""

    threads: int
    wall_s: float
    fixed_s: float
    steps: int | None
    ceiling_share: float | None
    processes: int
    run: str


@dataclass
class Table:
    runs: dict[str, dict[str, Any]]  # run name -> machine, threads, gemm_gflops, ...
    cells: dict[str, list[Measurement]]  # cell key -> one per thread count

    def to_json(self) -> dict[str, Any]:
        cells = {key: [asdict(m) for m in self.cells[key]] for key in sorted(self.cells)}
        return {"table_version": TABLE_VERSION, "about": ABOUT, "runs": self.runs, "cells": cells}


def cell_key(cell: Cell) -> str:
    """``workload/variant/backend/mode/dtype/preset``: a cell without its seed."""
    return "/".join((cell.workload, cell.variant, cell.backend, cell.mode, cell.dtype, cell.preset))


def training_steps(workload: str, variant: str, preset: str) -> int | None:
    """The workload's ``training_steps``; None where it has none, or no longer knows the
    workload, variant or preset (a table older than the code)."""
    try:
        return get_workload(workload).training_steps(variant, preset)
    except (UnknownName, SpecError, KeyError):
        return None


def read_table(path: Path) -> Table:
    """The table in ``path``; an empty one where there is none. Raises BadFile, naming
    the file, when it is damaged or of another shape."""
    if not path.exists():
        return Table({}, {})
    data = read_json(path)
    if not isinstance(data, dict) or data.get("table_version") != TABLE_VERSION:
        raise BadFile(path, f"not a cell-time table of version {TABLE_VERSION}")
    runs, cells = data.get("runs"), data.get("cells")
    if not (isinstance(runs, dict) and all(isinstance(r, dict) for r in runs.values())):
        raise BadFile(path, "its 'runs' is not an object of objects")
    if not isinstance(cells, dict):
        raise BadFile(path, "its 'cells' is not an object")
    try:
        table = Table(runs, {key: [Measurement(**m) for m in rows] for key, rows in cells.items()})
    except TypeError as error:  # a list that is not of objects, or other fields
        raise BadFile(path, f"a measurement of another shape ({error})") from None
    for rows in table.cells.values():
        if not all(_valid(m) for m in rows):
            raise BadFile(path, "a measurement whose numbers are not numbers")
    return table


def _valid(m: Measurement) -> bool:
    """Numbers where the estimates compute with them (null where a field may be)."""
    whole = isinstance(m.threads, int) and m.threads >= 1
    optional = all(v is None or number(v) for v in (m.steps, m.ceiling_share))
    return whole and optional and number(m.wall_s) and number(m.fixed_s) and m.wall_s >= 0


def _process_walls(record: dict[str, Any]) -> list[float]:
    """Wall seconds of each process of the cell that finished ok."""
    walls = [record.get("process_wall_s")]
    walls += [r.get("process_wall_s") for r in record.get("repeats", []) if r.get("status") == "ok"]
    return [wall for wall in walls if number(wall)]


def _resumed(record: dict[str, Any]) -> bool:
    """Whether the record's cell resumed from a checkpoint: its process wall time is the
    rest of the cell only (a 300-step cell resumed at step 200 measured 15 s of 56 s)."""
    try:
        field = get_workload(record["workload"]).resumed_field
    except UnknownName:
        return False
    return bool(field and record.get(field))


def _fixed_s(record: dict[str, Any]) -> float:
    """Seconds of the cell's first process that its step count does not drive: its wall
    seconds less its loop's (``Workload.loop_seconds_field``) plus its first epoch or
    step (tracing and compiling, however many steps follow); where
    the record lacks the loop's seconds, its import, build and prepare seconds."""
    timing = record.get("timing", {})
    try:
        loop = timing.get(get_workload(record["workload"]).loop_seconds_field)
    except UnknownName:
        loop = None
    wall = record.get("process_wall_s")
    if number(loop) and number(wall):
        first = timing.get("first_epoch_s")
        first = min(first, loop) if number(first) else 0.0
        return min(max(wall - loop + first, 0.0), wall)
    return sum(timing.get(name) or 0.0 for name in FIXED_PHASES)


def measure_run(
    run_dir: Path,
) -> tuple[dict[str, Any], dict[tuple[str, int], Measurement]]:
    """What the run in ``run_dir`` measured: its description for ``runs`` and one
    measurement per cell key and thread count of its ok records (seeds pooled; a run of
    ``--threads 1,2`` measures each key at each count)."""
    contents = load_run(run_dir)
    info = contents.info
    environment = info.get("environment") or {}
    threads = info.get("threads", environment.get("threads", 1))
    ceiling = ceiling_gflops(run_dir)
    by_key: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for record in contents.records:
        if record["status"] == "ok" and _process_walls(record) and not _resumed(record):
            cell = Cell.of(record)
            by_key.setdefault((cell_key(cell), cell.threads), []).append(record)
    measured = {}
    for key, records in by_key.items():
        first = Cell.of(records[0])
        gflops = [r["timing"]["gflops"] for r in records if number(r["timing"].get("gflops"))]
        walls = [wall for record in records for wall in _process_walls(record)]
        measured[key] = Measurement(
            threads=first.threads,
            wall_s=statistics.median(walls),
            fixed_s=statistics.median([_fixed_s(record) for record in records]),
            steps=training_steps(first.workload, first.variant, first.preset),
            ceiling_share=statistics.median(gflops) / ceiling if gflops and ceiling else None,
            processes=len(walls),
            run=run_dir.name,
        )
    description = {
        "cpu": environment.get("cpu"),
        "logical_cpus": environment.get("logical_cpus"),
        "threads": threads,
        "gemm_gflops": ceiling,
        "started": info.get("started"),
        "git_commit": environment.get("git_commit"),
        "overhead_s": _overhead_s(info, contents.records),
    }
    return description, measured


def _overhead_s(info: dict[str, Any], records: list[dict[str, Any]]) -> float | None:
    """Seconds the runner spent outside its cells' processes (the GEMM ceiling, starting
    processes, the report), where one invocation ran the whole matrix to its end."""
    invocations = info.get("invocations") or []
    if len(invocations) != 1 or invocations[0].get("outcome") != "finished":
        return None
    try:
        started, ended = (
            datetime.strptime(invocations[0][name], "%Y-%m-%dT%H:%M:%S%z")
            for name in ("started", "ended")
        )
    except (KeyError, TypeError, ValueError):
        return None
    cells_s = sum(
        wall
        for record in records
        for wall in [record.get("process_wall_s")]
        + [r.get("process_wall_s") for r in record.get("repeats", [])]
        if number(wall)
    )
    return max((ended - started).total_seconds() - cells_s, 0.0)


def merge(table: Table, run: str, description: dict[str, Any], measured: dict) -> Table:
    """``table`` with ``measured`` (from ``run``) replacing the measurements of the same
    key and thread count; runs no measurement refers to any more are dropped."""
    cells = {key: list(rows) for key, rows in table.cells.items()}
    for (key, _), new in measured.items():
        cells[key] = [m for m in cells.get(key, []) if m.threads != new.threads] + [new]
        cells[key].sort(key=lambda m: m.threads)
    runs = {**table.runs, run: description}
    used = {m.run for rows in cells.values() for m in rows}
    return Table({name: runs[name] for name in sorted(runs) if name in used}, cells)


def command_estimates(args: argparse.Namespace) -> int:
    """``estimates --from RUN_DIR [RUN_DIR ...] [--table PATH]``: refresh the table."""
    table_path = absolute(args.table)
    run_dirs = [absolute(path) for path in args.from_dirs]
    check_output_file(table_path, "--table")
    names = [path.name for path in run_dirs]
    if len(set(names)) != len(names):
        raise BadInput("--from: two run folders of the same name; the table names runs by it")
    for path in run_dirs:
        if not path.is_dir():
            raise BadInput(f"--from: {path} is not a folder holding a run")
    try:
        table = read_table(table_path)
    except BadFile as error:
        raise BadInput(f"--table: {error}; remove it to start a new table") from None
    for path in run_dirs:
        description, measured = measure_run(path)
        if not measured:
            raise BadInput(f"--from: {path} holds no cell that finished ok")
        table = merge(table, path.name, description, measured)
        print(f"{path.name}: {len(measured)} measurement(s), one per cell key and thread count")
    try:
        write_json_atomic(table_path, table.to_json())
    except OSError as error:
        raise WriteFailed(f"{table_path} was not written: {error}") from None
    print(f"{table_path}: {sum(map(len, table.cells.values()))} measurement(s) in all")
    return 0


def add_commands(
    commands: argparse._SubParsersAction,
) -> dict[str, Callable[[argparse.Namespace], int]]:
    """The ``estimates`` command's parser, added to ``commands``; its handler by name."""
    parser = commands.add_parser(
        "estimates", help="refresh the table of measured cell times from run folders"
    )
    parser.add_argument(
        "--from",
        dest="from_dirs",
        nargs="+",
        type=path_option,
        required=True,
        metavar="RUN_DIR",
        help="finished run folders; their ok cells replace the table's at the same threads",
    )
    parser.add_argument(
        "--table",
        type=path_option,
        default=TABLE_PATH,
        help="the table to refresh (default results/cell_times.json)",
    )
    return {"estimates": command_estimates}
