"""XOR's part of the report: convergence over seeds."""

from __future__ import annotations

import numpy as np

from benchmarks.document import Block, Heading, Paragraph
from benchmarks.report.context import ReportContext
from benchmarks.report.format import fmt
from benchmarks.report.groups import Group, median_of, ok_groups
from benchmarks.report.tables import Column, identity, table


def _solved(group: Group) -> int:
    return sum(bool(r["metrics"]["solved"]) for r in group.records)


def _to_target(group: Group) -> str:
    epochs = [
        r["metrics"]["epochs_to_target"]
        for r in group.records
        if r["metrics"]["epochs_to_target"] is not None
    ]
    return f"{int(np.median(epochs))} ({min(epochs)}–{max(epochs)})" if epochs else "never"


def _correct(group: Group) -> str:
    correct = [r["metrics"]["correct"] for r in group.records]
    return f"{min(correct)}–{max(correct)} of 4"


COLUMNS: tuple[Column[Group], ...] = (
    *identity("backend"),
    Column("solved", lambda group: f"{_solved(group)}/{len(group.records)}"),
    Column("success rate", lambda group: f"{_solved(group) / len(group.records):.0%}"),
    Column("epochs to loss < target: median (min–max)", _to_target),
    Column(
        "median final loss",
        lambda group: fmt(median_of(group.records, lambda r: r["metrics"]["final_loss"])),
    ),
    Column("points right", _correct),
)


def xor_sections(context: ReportContext) -> list[Block]:
    return [
        Heading(3, "Convergence over seeds"),
        table(COLUMNS, ok_groups(context.records)),
        Paragraph(
            "A seed is solved when all four outputs are within 0.5 of their targets. "
            "`single-layer` is the negative control: one layer can get at most 3 of the 4."
        ),
    ]
