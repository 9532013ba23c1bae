"""N-body's part of the report: accuracy on held-out trajectories, rollouts, the floor
the GEMM ceiling puts under a training step."""

from __future__ import annotations

from benchmarks.document import Block, Heading, Paragraph
from benchmarks.progress import duration
from benchmarks.report.answer import SourceFigure, too_short, value_range
from benchmarks.report.context import ReportContext
from benchmarks.report.format import fmt, seconds
from benchmarks.report.groups import Group, ok_groups
from benchmarks.report.tables import Column, identity, table


def _metric(header: str, name: str, digits: int = 4) -> Column[Group]:
    return Column(header, lambda group: fmt(group.first["metrics"][name], digits))


COLUMNS: tuple[Column[Group], ...] = (
    *identity("backend"),
    _metric("final train loss", "final_loss"),
    _metric("val loss", "val_loss"),
    _metric("val ratio loss", "val_ratio"),
    _metric("one-step rel. error", "one_step_rel_error", 3),
    Column(  # older records lack it
        "÷ no-motion error",
        lambda group: fmt(group.first["metrics"].get("one_step_error_vs_persistence"), 3),
    ),
    Column(
        "rollout position error (steps)",
        lambda group: (
            f"{fmt(group.first['metrics']['rollout_position_error'], 3)} "
            f"({group.first['metrics']['rollout_steps']})"
        ),
    ),
    Column(  # older records lack it
        "rollout ÷ no-motion error",
        lambda group: fmt(group.first["metrics"].get("rollout_vs_no_motion"), 3),
    ),
    _metric("rollout energy drift", "rollout_energy_drift", 3),
    _metric("simulator energy drift", "simulator_energy_drift", 2),
    Column("samples/s", lambda group: fmt(group.first.get("timing", {}).get("samples_per_s"), 3)),
)

ABOUT = (
    "val loss: the variant's own loss over every validation sample (the curriculum "
    "at q = 1); val ratio loss: mean |pred - target| / (1 + |target|) for every "
    "variant alike. One-step rel. error: mean |pred - target| / |target|; ÷ "
    "no-motion error: the model's mean one-step error over that of predicting the "
    "input unchanged (below 1 beats standing still). Rollouts feed the model its "
    "own predictions for every step of each validation trajectory: position error "
    "(RMS over bodies, mean over systems) and median relative energy drift at the "
    "last step, next to the simulator's own drift (Breen: velocities by central "
    "differences, so that column shows the differencing error); rollout ÷ no-motion "
    "error: that position error over the one of holding every body at its start "
    "(below 1 beats standing still). In the source, good "
    "rollouts needed losses around 1e-6 to 1e-8, after hours."
)


def nbody_sections(context: ReportContext) -> list[Block]:
    blocks: list[Block] = [
        Heading(3, "Accuracy on held-out trajectories (seed 0 of each row)"),
        table(COLUMNS, ok_groups(context.records)),
        Paragraph(ABOUT),
    ]
    ceiling = context.ceiling_gflops
    flops = next(
        (r["timing"].get("train_flops_per_step") for r in context.records if "timing" in r), None
    )
    if flops and ceiling:
        blocks.append(
            Paragraph(
                f"One training step is {flops / 1e9:.3g} GFLOP (counted from the spec); at "
                f"this run's measured GEMM ceiling ({ceiling:.0f} GFLOP/s) it cannot take "
                f"less than {seconds(flops / (ceiling * 1e9))}. Measured before: ~27 ms "
                "on the 2-core machine class at its 177 GFLOP/s two-thread ceiling, <= 40 ms "
                "a fair target for the best framework."
            )
        )
    return blocks


SOURCE_TRAINING_S = 8 * 3600.0  # the source's two-body training (reference.md 4)


def source_figures(context: ReportContext) -> list[SourceFigure]:
    """Per variant: the validation ratio loss every ok cell reached, beside the losses
    the source needed for good rollouts, and how long this run trained against it."""
    figures = []
    for variant in sorted({r["variant"] for r in context.records}):
        records = [r for r in context.records if r["variant"] == variant and r["status"] == "ok"]
        if not records:
            continue
        trained = min(r.get("timing", {}).get("train_total_s", 0.0) for r in records)
        caveat = too_short(
            records[0]["preset"], trained, SOURCE_TRAINING_S, "of training", show=duration
        )
        ratios = [r["metrics"].get("rollout_vs_no_motion") for r in records]
        if any(ratio is not None for ratio in ratios):  # older records lack it
            steps = records[0]["metrics"]["rollout_steps"]
            figures.append(
                SourceFigure(
                    f"{variant}: {steps}-step rollout error ÷ no-motion error",
                    value_range(ratios, 3),
                    "below 1 beats holding every body at its start; two bodies "
                    "recognisably work after ~8 h (shared/reference.md 4)",
                    caveat,
                )
            )
        figures.append(
            SourceFigure(
                f"{variant}: validation ratio loss",
                value_range([r["metrics"].get("val_ratio") for r in records], 3),
                "good rollouts need losses of 1e-6 to 1e-8; two bodies recognisably work "
                "after ~8 h, three bodies with ~10× the error (shared/reference.md 4)",
                caveat,
            )
        )
    return figures
