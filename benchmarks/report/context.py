"""What a section of the report is given: one workload's records of one run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ReportContext:
    """One workload's part of a run, as its report sections and charts see it."""

    workload: str  # the workload's name (charts are named after it)
    run_dir: Path  # the run folder: charts are written under its plots/
    records: list[dict[str, Any]]  # the workload's records that ran (not "not applicable")
    ceiling_gflops: float | None  # the run's measured GEMM ceiling, if measured
