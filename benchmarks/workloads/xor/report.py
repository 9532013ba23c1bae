"""XOR's part of the report: convergence over seeds."""

from __future__ import annotations

import numpy as np

from benchmarks.document import Block, Heading, Paragraph
from benchmarks.report.answer import SourceFigure, too_short, value_range
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


SOURCE = "shared/reference.md 2"
RATE_SEEDS = 8  # the fewest seeds a success rate is read from (quick's; full runs 100)


def _rates(records: list[dict]) -> str:
    """Seeds solved per backend:mode, once where every backend solved as many."""
    rows = ok_groups(records)
    rates = {group.implementation: f"{_solved(group)} of {len(group.records)}" for group in rows}
    if len(set(rates.values())) == 1:
        return f"{next(iter(rates.values()))} seeds solved on each of {len(rates)} backends"
    return ", ".join(f"{name} {rate}" for name, rate in rates.items()) + " seeds solved"


def source_figures(context: ReportContext) -> list[SourceFigure]:
    """The momentum variant's success rate and the single layer's points right, beside
    what the source says of them."""
    figures = []
    for variant in ("momentum", "single-layer"):
        records = [r for r in context.records if r["variant"] == variant and r["status"] == "ok"]
        if not records:
            continue
        preset, epochs = records[0]["preset"], records[0].get("config", {}).get("epochs", 0)
        if variant == "momentum":
            seeds = min(len(group.records) for group in ok_groups(records))
            caveat = too_short(preset, epochs, 2001, "epochs") or (
                f"roughly: {seeds} seeds a backend (a rate needs {RATE_SEEDS}+)"
                if seeds < RATE_SEEDS
                else ""
            )
            figures.append(
                SourceFigure(
                    "momentum: success rate over seeds",
                    _rates(records),
                    f"some seeds fail to converge within 2,000 epochs; no rate given ({SOURCE})",
                    caveat,
                )
            )
        else:
            correct = [float(r["metrics"]["correct"]) for r in records]
            figures.append(
                SourceFigure(
                    "single-layer: points right of 4",
                    value_range(correct),
                    f"at most 3: one layer cannot represent XOR (Keras, 20 epochs; {SOURCE})",
                    too_short(preset, epochs, 20, "epochs"),
                )
            )
    return figures
