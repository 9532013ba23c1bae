"""summary.csv: one row per cell, pandas-ready."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.memory import record_growth
from benchmarks.report.csvs import CELL_COLUMNS, cell_columns_of, write_csv_atomic
from benchmarks.workloads import get_workload

Record = dict[str, Any]

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


def summary_row(record: Record) -> dict[str, Any]:
    """One flat row: the cell, its timing, and every scalar metric as ``metric_<name>``;
    then the timing fields its workload adds (``Workload.summary_timing``)."""
    row = {key: record.get(key, "") for key in SUMMARY_COLUMNS[:9]}
    if record.get("threads_in_name"):  # the run has several counts (write_summary_csv)
        row["threads"] = record["threads"]
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
            # short labels too (a label per agent, say: best_key[random])
            for key, inner in value.items():
                if isinstance(inner, (int, float, str)):
                    row[f"metric_{name}[{key}]"] = inner
    extra = get_workload(record["workload"]).summary_timing
    row.update({key: timing[key] for key in extra if key in timing})
    return row


def write_summary_csv(run_dir: Path, records: list[Record]) -> Path:
    """One row per record; a run of several thread counts has ``threads`` after the
    cell's columns (``preset``), one of a single count the columns it always had."""
    rows = [summary_row(r) for r in records]
    extra = sorted({key for row in rows for key in row} - set(SUMMARY_COLUMNS) - {"threads"})
    cell = cell_columns_of(records)
    columns = [*cell, *SUMMARY_COLUMNS[len(CELL_COLUMNS) :], *extra]
    return write_csv_atomic(run_dir / "summary.csv", columns, rows)
