"""CSV files written atomically (the workloads' exports), and the columns that name a
cell (summary.csv's first columns too)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from benchmarks.records import Cell
from benchmarks.schema import THREAD_FIELDS
from shared.files import write_atomic

Record = dict[str, Any]
# workload .. preset: what names a cell; ``threads`` joins them in a run of several counts
CELL_COLUMNS = tuple(name for name in Cell.__dataclass_fields__ if name not in THREAD_FIELDS)


def write_csv_atomic(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` under ``columns`` (missing values empty) to ``path`` atomically:
    a reader never sees half a file."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return write_atomic(path, text.getvalue())


def cell_columns_of(records: list[Record]) -> tuple[str, ...]:
    """The columns naming the cells of ``records``: ``CELL_COLUMNS``, and ``threads``
    where a record's run has several thread counts (a run of one keeps the columns it
    always had; its count is in run.json)."""
    several = any(record.get("threads_in_name") for record in records)
    return (*CELL_COLUMNS, "threads") if several else CELL_COLUMNS


def scalar_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The keys of ``rows`` whose values are scalars (lists and dicts left out), in the
    order they first appear."""
    columns: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if value is None or isinstance(value, (bool, int, float, str)):
                columns.setdefault(key)
    return list(columns)


def write_cell_rows_csv(path: Path, records: list[Record], field: str) -> Path | None:
    """A CSV of one row per item of each record's ``field`` list (a list of objects),
    prefixed with the cell's columns; the items' scalar fields only. Nothing (None) when
    no record has such items."""
    rows, cell_columns = [], cell_columns_of(records)
    for record in records:
        cell = {key: record.get(key, "") for key in cell_columns}
        rows += [{**cell, **item} for item in record.get(field) or []]
    if not rows:
        return None
    columns = [*cell_columns, *(c for c in scalar_columns(rows) if c not in cell_columns)]
    rows = [{key: row.get(key, "") for key in columns} for row in rows]
    return write_csv_atomic(path, columns, rows)
