"""The generic speed table: import, build, first epoch, steady epoch and step, ratios."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd

from benchmarks.document import Block, Heading, Number
from benchmarks.hosts import record_ceiling
from benchmarks.report.by_host import per_host_class
from benchmarks.report.context import ReportContext
from benchmarks.report.environment import shared_host
from benchmarks.report.format import gflops, interval, seconds, times
from benchmarks.report.groups import (
    Group,
    groups,
    median_of,
    steady_processes,
    timing,
    timing_medians,
)
from benchmarks.report.tables import Column, identity, table
from benchmarks.stats import bootstrap_ratio, center

Processes = list[list[float]]
Record = dict[str, Any]


@dataclass(frozen=True)
class SpeedRow:
    """One row of the speed table: a group of ok or diverged records, with what it is
    compared to."""

    group: Group
    medians: pd.Series  # the group's median of each of SPEED_TIMING (groups.timing_medians)
    fastest: Processes | None  # the steady processes of the variant's fastest row
    free_step: float | None  # per-step seconds of the variant's framework-free loop
    ceiling: float | None  # the GEMM ceiling of the row's host, GFLOP/s

    @property
    def variant(self) -> str:
        return self.group.variant

    @property
    def implementation(self) -> str:
        return self.group.implementation

    @property
    def dtype(self) -> str:
        return self.group.dtype

    @property
    def threads(self) -> int | None:
        return self.group.threads

    @cached_property
    def sample(self) -> Processes:
        return steady_processes(self.group.records)

    def median(self, name: str) -> float | None:
        """The median of the records' ``timing[name]`` (one of SPEED_TIMING); None: none."""
        value = self.medians[name]
        return None if pd.isna(value) else float(value)

    def seconds_of(self, name: str) -> str:
        return seconds(self.median(name))

    def steady(self) -> str:
        steady = center(self.sample) if self.sample else None
        shared = any(shared_host(r) for r in self.group.records)
        text = f"{seconds(steady)} ± {self.seconds_of('steady_iqr_s')}" + (
            " (shared host: not comparable)" if shared else ""
        )
        return Number(text, steady)

    def ratio(self) -> str:
        if not (self.sample and self.fastest):
            return "–"
        return interval(*bootstrap_ratio(self.sample, self.fastest))

    def versus_free(self) -> str:
        step = self.median("step_median_s")
        return times(step / self.free_step if step and self.free_step is not None else None)

    def efficiency(self) -> str:
        return gflops(self.median("gflops"), self.ceiling)

    def to_target(self) -> str:
        records = self.group.records
        reached = [r for r in records if r.get("timing", {}).get("target_epochs")]
        if not any("target_loss" in r.get("timing", {}) for r in records):
            return Number("–", None)
        if not reached:
            return Number(f"never (0/{len(records)})", None)
        epochs = median_of(reached, timing("target_epochs"))
        total = median_of(reached, timing("target_s"))
        # sorts by the seconds to target: the column's time, which epochs do not compare
        return Number(f"{epochs:.0f} ep, {seconds(total)} ({len(reached)}/{len(records)})", total)


def speed_columns(framework_free: str | None) -> tuple[Column[SpeedRow], ...]:
    return (
        *identity(),
        Column("seeds, processes", lambda row: f"{len(row.group.records)}, {len(row.sample)}"),
        Column("import", lambda row: row.seconds_of("import_s")),
        Column("build", lambda row: row.seconds_of("build_s")),
        Column("first epoch", lambda row: row.seconds_of("first_epoch_s")),
        Column("steady epoch ± IQR", SpeedRow.steady),
        Column("per step", lambda row: row.seconds_of("step_median_s")),
        Column("× fastest [95% CI]", SpeedRow.ratio),
        Column(f"× framework-free ({framework_free or '–'})", SpeedRow.versus_free),
        Column("GFLOP/s (of ceiling)", SpeedRow.efficiency),
        Column("to target: epochs, s (first epoch incl.)", SpeedRow.to_target),
    )


# The timing fields whose medians the table shows, in their units (seconds, GFLOP/s).
SPEED_TIMING = ("import_s", "build_s", "first_epoch_s", "steady_iqr_s", "step_median_s", "gflops")

Row = tuple[str, int | None]  # a row's variant and thread count: what it is compared within


def _fastest_by_variant(rows: list[Group]) -> dict[Row, Processes]:
    """For each variant (at each thread count), the steady processes of its fastest row."""
    fastest: dict[Row, tuple[float, Processes]] = {}
    for group in rows:
        sample = steady_processes(group.records)
        key = (group.variant, group.threads)
        if sample and (key not in fastest or center(sample) < fastest[key][0]):
            fastest[key] = (center(sample), sample)
    return {key: sample for key, (_, sample) in fastest.items()}


def _framework_free_steps(
    rows: list[Group], medians: pd.DataFrame, reference: str | None
) -> dict[Row, float]:
    """(variant, thread count) -> per-step seconds of the framework-free loop, where it
    ran (``medians``: ``timing_medians`` of ``rows``)."""
    steps = medians["step_median_s"]
    return {
        (group.variant, group.threads): float(steps[position])
        for position, group in enumerate(rows)
        if group.backend == reference and not pd.isna(steps[position])
    }


def speed_blocks(context: ReportContext, framework_free: str | None) -> list[Block]:
    """The speed table of the workload's ok and diverged cells; ``framework_free``: the
    backend whose per-step time each row is divided by (None: no such column value).
    In a run of several thread counts, a row is compared with rows at its own count; in
    a run on several host classes, with rows of its own class, in a table per class
    (``report.by_host``). GFLOP/s are a share of the row's own host's ceiling."""

    def speed_table(records: list[Record]) -> list[Block]:
        rows = groups(records, ("ok", "diverged"))
        medians = timing_medians(rows, SPEED_TIMING)
        fastest = _fastest_by_variant(rows)
        free = _framework_free_steps(rows, medians, framework_free)
        speed_rows = [
            SpeedRow(
                g,
                medians.loc[position],
                fastest.get((g.variant, g.threads)),
                free.get((g.variant, g.threads)),
                record_ceiling(g.first, context.ceiling_gflops),
            )
            for position, g in enumerate(rows)
        ]
        return [table(speed_columns(framework_free), speed_rows)] if rows else []

    tables = per_host_class(context.records, speed_table)
    return [Heading(3, "Speed"), *(tables or [table(speed_columns(framework_free), [])])]
