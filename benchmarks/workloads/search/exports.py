"""The search's CSVs beside summary.csv, for pandas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.report.csvs import write_cell_rows_csv


def write_search_csvs(run_dir: Path, records: list[dict[str, Any]]) -> list[Path]:
    """``search_candidates.csv`` (one row per trained design per cell: layers and losses
    per epoch left out) and ``search_episodes.csv`` (one row per episode of every agent
    per cell); nothing when no record holds a search."""
    written = (
        write_cell_rows_csv(run_dir / "search_candidates.csv", records, "candidates"),
        write_cell_rows_csv(run_dir / "search_episodes.csv", records, "search_episodes"),
    )
    return [path for path in written if path is not None]
