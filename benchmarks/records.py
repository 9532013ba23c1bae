"""Cell records: one JSON file per cell, written atomically; summary.csv from them."""

from __future__ import annotations

import csv
import gzip
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.memory import record_growth

STATUSES = ("ok", "skipped", "diverged", "failed", "timeout")
RECORD_VERSION = 1


@dataclass(frozen=True)
class Cell:
    """One measurement: a workload variant on one backend, mode, dtype and seed."""

    workload: str
    variant: str
    backend: str
    mode: str
    dtype: str
    seed: int
    preset: str

    @property
    def file_name(self) -> str:
        return (
            f"{self.workload}__{self.variant}__{self.backend}__{self.mode}__"
            f"{self.dtype}__seed{self.seed}.json"
        )

    @property
    def label(self) -> str:
        return (
            f"{self.workload}/{self.variant} {self.backend}:{self.mode} {self.dtype} "
            f"seed {self.seed}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_record(cell: Cell, status: str, reason: str = "", **fields: Any) -> dict[str, Any]:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    return {
        "record_version": RECORD_VERSION,
        **cell.to_dict(),
        "status": status,
        "reason": reason,
        **fields,
    }


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, allow_nan=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ceiling_gflops(run_dir: Path) -> float | None:
    """Best GEMM GFLOP/s measured at the run's thread count, if it was measured."""
    info_path = run_dir / "run.json"
    if not info_path.exists():
        return None
    info = json.loads(info_path.read_text())
    threads = info.get("environment", {}).get("threads")
    matching = [c for c in info.get("gemm_ceiling", []) if c["threads"] == threads]
    return matching[0]["gflops_best"] if matching else None


def load_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every cell record of a run, sorted by cell; ``.json.gz`` records are read too (the
    committed baseline keeps its records gzipped: their per-epoch rows compress 5x)."""
    records = []
    paths = [*run_dir.glob("*__seed*.json"), *run_dir.glob("*__seed*.json.gz")]
    for path in sorted(paths):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        records.append(json.loads(data))
    return records


SUMMARY_COLUMNS = (
    "workload",
    "variant",
    "backend",
    "mode",
    "dtype",
    "seed",
    "preset",
    "status",
    "reason",
    "import_s",
    "build_s",
    "prepare_s",
    "first_epoch_s",
    "steady_median_s",
    "steady_iqr_s",
    "steady_min_s",
    "steady_count",
    "step_median_s",
    "train_total_s",
    "epochs_run",
    "steps_per_epoch",
    "target_epochs",
    "target_s",
    "target_after_first_s",
    "gflops",
    "samples_per_s",
    "final_loss",
    "peak_rss_mb",
    # benchmarks.memory.record_growth: RSS growth over the run's second half
    "rss_growth_mb",
    "rss_growth_mb_per_1k",
    "rss_unit",
    "rss_growing",
)


SEARCH_TIMING_COLUMNS = (
    "search_total_s",
    "mean_candidate_s",
    "mean_build_s",
    "mean_prepare_s",
    "mean_first_epoch_s",
    "mean_later_epochs_s",
    "mean_eval_s",
    "median_steady_epoch_s",
)
CELL_COLUMNS = SUMMARY_COLUMNS[:7]  # workload .. preset: what names a cell


def summary_row(record: dict[str, Any]) -> dict[str, Any]:
    """One flat row: the cell, its timing, and every scalar metric as ``metric_<name>``."""
    row = {key: record.get(key, "") for key in SUMMARY_COLUMNS[:9]}
    timing = record.get("timing", {})
    row.update({key: value for key, value in timing.items() if key in SUMMARY_COLUMNS})
    metrics = record.get("metrics", {})
    row["final_loss"] = metrics.get("final_loss", "")
    row["peak_rss_mb"] = record.get("peak_rss_mb", "")
    row.update(record_growth(record) or {})
    for name, value in metrics.items():
        if isinstance(value, (int, float, bool)) or value is None:
            row[f"metric_{name}"] = value
        elif isinstance(value, dict):
            # short labels too: a search cell's best design per agent (best_key[random])
            for key, inner in value.items():
                if isinstance(inner, (int, float, str)):
                    row[f"metric_{name}[{key}]"] = inner
    # the timing of cells that train many models instead of epochs (search)
    row.update({key: timing[key] for key in SEARCH_TIMING_COLUMNS if key in timing})
    return row


def write_csv_atomic(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` under ``columns`` (missing values empty) to a temporary file beside
    ``path``, then rename it over ``path``: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return path


def write_summary_csv(run_dir: Path, records: list[dict[str, Any]]) -> Path:
    rows = [summary_row(r) for r in records]
    extra = sorted({key for row in rows for key in row} - set(SUMMARY_COLUMNS))
    return write_csv_atomic(run_dir / "summary.csv", [*SUMMARY_COLUMNS, *extra], rows)


def _scalar_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The keys of ``rows`` whose values are scalars (lists and dicts left out), in the
    order they first appear."""
    columns: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if value is None or isinstance(value, (bool, int, float, str)):
                columns.setdefault(key)
    return list(columns)


def _cell_rows(records: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """One row per item of each record's ``field`` list, prefixed with the cell."""
    rows = []
    for record in records:
        cell = {key: record.get(key, "") for key in CELL_COLUMNS}
        rows += [{**cell, **item} for item in record.get(field) or []]
    return rows


def write_search_csvs(run_dir: Path, records: list[dict[str, Any]]) -> list[Path]:
    """``search_candidates.csv`` (one row per trained design per cell: layers and losses
    per epoch left out) and ``search_episodes.csv`` (one row per episode of every agent
    per cell), for pandas; nothing when no record holds a search."""
    written = []
    for field, name in (
        ("candidates", "search_candidates.csv"),
        ("search_episodes", "search_episodes.csv"),
    ):
        rows = _cell_rows(records, field)
        if rows:
            columns = [*CELL_COLUMNS, *(c for c in _scalar_columns(rows) if c not in CELL_COLUMNS)]
            rows = [{key: row.get(key, "") for key in columns} for row in rows]
            written.append(write_csv_atomic(run_dir / name, columns, rows))
    return written


def process_steady_seconds(record: dict[str, Any]) -> list[list[float]]:
    """Steady epoch seconds per process of the cell: its first process, then each
    ``--repeats`` process that finished ok (processes with no steady epoch left out)."""
    processes = [[row["seconds"] for row in record.get("epochs", [])[1:]]]
    processes += [
        list(rerun.get("steady_epoch_s", []))
        for rerun in record.get("repeats", [])
        if rerun.get("status") == "ok"
    ]
    return [p for p in processes if p]
