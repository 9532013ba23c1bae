"""The run's summary: a pandas DataFrame of one row per cell (``summary_frame``), and
summary.csv written from it. No summary.parquet: pandas writes parquet through pyarrow,
about 100 MB installed for a file of a few dozen rows that a CSV holds as well."""

from __future__ import annotations

from math import isnan, nan
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.memory import record_growth
from benchmarks.report.csvs import CELL_COLUMNS, cell_columns_of
from benchmarks.workloads import get_workload
from shared.files import write_atomic

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


def summary_frame(records: list[Record]) -> pd.DataFrame:
    """One row per record (``summary_row``), in the records' order, under the columns of
    summary.csv: the cell's columns (``threads`` after ``preset`` in a run of several
    thread counts), the rest of ``SUMMARY_COLUMNS``, then every other column sorted by
    name (``metric_<name>``, a workload's ``summary_timing`` fields).

    Units: ``*_s`` seconds; ``*_mb`` MiB (``rss_growth_mb_per_1k``: MiB per 1,000
    ``rss_unit``); ``gflops`` GFLOP/s; ``samples_per_s`` samples a second; metrics in
    their own units. Each column is typed as ``pd.read_csv`` reads summary.csv back
    (``column_typed``): int64 where every row holds an integer; float64 where rows hold
    numbers or nothing at all (NaN: none); bool where every row holds a bool, object
    (bools and NaN) where some rows hold none; ``str`` otherwise (NaN: none). So the
    frame and the file agree."""
    rows = [summary_row(record) for record in records]
    extra = sorted({key for row in rows for key in row} - set(SUMMARY_COLUMNS) - {"threads"})
    columns = [*cell_columns_of(records), *SUMMARY_COLUMNS[len(CELL_COLUMNS) :], *extra]
    return pd.DataFrame(
        {name: column_typed([row.get(name) for row in rows]) for name in columns},
        columns=columns,
        index=pd.RangeIndex(len(rows)),
    )


def column_typed(values: list[Any]) -> pd.Series:
    """``values`` (one column of rows; None or "" for none) as the Series that
    ``pd.read_csv`` makes of the same column of text (see ``summary_frame``)."""
    present = [v for v in values if not _missing(v)]
    numbers = [v for v in present if isinstance(v, int | float) and not isinstance(v, bool)]
    bools = [v for v in present if isinstance(v, bool)]
    if len(numbers) == len(present):  # numbers, or nothing at all: float64 of NaN
        if present and len(present) == len(values) and all(isinstance(v, int) for v in numbers):
            return pd.Series(values, dtype="int64")
        return pd.Series([nan if _missing(v) else float(v) for v in values], dtype="float64")
    if present and len(bools) == len(present):
        if len(present) == len(values):
            return pd.Series(values, dtype="bool")
        return pd.Series([nan if _missing(v) else v for v in values], dtype="object")
    return pd.Series([nan if _missing(v) else str(v) for v in values], dtype="str")


def _missing(value: Any) -> bool:
    """Nothing in a cell: None, "", or a NaN (written empty, read back NaN)."""
    return value is None or value == "" or (isinstance(value, float) and isnan(value))


def write_summary_csv(run_dir: Path, records: list[Record]) -> Path:
    """summary.csv: ``summary_frame(records)``, written atomically; empty cells where a
    row has no value. ``pd.read_csv`` reads it back as that frame."""
    return write_atomic(run_dir / "summary.csv", summary_frame(records).to_csv(index=False))
