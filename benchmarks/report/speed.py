"""The generic speed table: import, build, first epoch, steady epoch and step, ratios."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from benchmarks.document import Block, Heading
from benchmarks.hosts import record_ceiling
from benchmarks.report.by_host import per_host_class
from benchmarks.report.context import ReportContext
from benchmarks.report.environment import shared_host
from benchmarks.report.format import seconds
from benchmarks.report.groups import Group, groups, median_of, steady_processes, timing
from benchmarks.report.tables import Column, identity, table
from benchmarks.stats import bootstrap_ratio, center

Processes = list[list[float]]
Record = dict[str, Any]


@dataclass(frozen=True)
class SpeedRow:
    """One row of the speed table: a group of ok or diverged records, with what it is
    compared to."""

    group: Group
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
        return median_of(self.group.records, timing(name))

    def seconds_of(self, name: str) -> str:
        return seconds(self.median(name))

    def steady(self) -> str:
        steady = center(self.sample) if self.sample else None
        return f"{seconds(steady)} ± {self.seconds_of('steady_iqr_s')}" + (
            " (shared host: not comparable)"
            if any(shared_host(r) for r in self.group.records)
            else ""
        )

    def ratio(self) -> str:
        if not (self.sample and self.fastest):
            return "–"
        value, low, high = bootstrap_ratio(self.sample, self.fastest)
        return f"{value:.3g} [{low:.3g}, {high:.3g}]"

    def versus_free(self) -> str:
        step = self.median("step_median_s")
        return f"{step / self.free_step:.3g}×" if step and self.free_step is not None else "–"

    def efficiency(self) -> str:
        gflops = self.median("gflops")
        if not gflops:
            return "–"
        return f"{gflops:.3g}" + (f" ({gflops / self.ceiling:.1%})" if self.ceiling else "")

    def to_target(self) -> str:
        records = self.group.records
        reached = [r for r in records if r.get("timing", {}).get("target_epochs")]
        if not any("target_loss" in r.get("timing", {}) for r in records):
            return "–"
        if not reached:
            return f"never (0/{len(records)})"
        epochs = median_of(reached, timing("target_epochs"))
        total = median_of(reached, timing("target_s"))
        return f"{epochs:.0f} ep, {seconds(total)} ({len(reached)}/{len(records)})"


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


def _framework_free_steps(rows: list[Group], reference: str | None) -> dict[Row, float]:
    """(variant, thread count) -> per-step seconds of the framework-free loop, where it
    ran."""
    return {
        (group.variant, group.threads): step
        for group in rows
        if group.backend == reference
        and (step := median_of(group.records, timing("step_median_s"))) is not None
    }


def speed_blocks(context: ReportContext, framework_free: str | None) -> list[Block]:
    """The speed table of the workload's ok and diverged cells; ``framework_free``: the
    backend whose per-step time each row is divided by (None: no such column value).
    In a run of several thread counts, a row is compared with rows at its own count; in
    a run on several host classes, with rows of its own class, in a table per class
    (``report.by_host``). GFLOP/s are a share of the row's own host's ceiling."""

    def speed_table(records: list[Record]) -> list[Block]:
        rows = groups(records, ("ok", "diverged"))
        fastest = _fastest_by_variant(rows)
        free = _framework_free_steps(rows, framework_free)
        speed_rows = [
            SpeedRow(
                g,
                fastest.get((g.variant, g.threads)),
                free.get((g.variant, g.threads)),
                record_ceiling(g.first, context.ceiling_gflops),
            )
            for g in rows
        ]
        return [table(speed_columns(framework_free), speed_rows)] if rows else []

    tables = per_host_class(context.records, speed_table)
    return [Heading(3, "Speed"), *(tables or [table(speed_columns(framework_free), [])])]
