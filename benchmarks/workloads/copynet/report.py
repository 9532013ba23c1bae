"""copy-net's part of the report: its results and step time next to the source's."""

from __future__ import annotations

from benchmarks.document import Block, Heading, Paragraph, Table
from benchmarks.report.answer import SourceFigure, too_short, value_range
from benchmarks.report.context import ReportContext
from benchmarks.report.format import fmt, seconds
from benchmarks.report.groups import Group, median_of, ok_groups, timing
from benchmarks.report.tables import Column, identity, table

# The source's own results (reference.md section 1), shown beside ours in the report.
# variant -> (framework and device, final loss or None, {probe: output}).
SOURCE_RESULTS = {
    "supervised-e10": (
        "PyTorch, GPU",
        0.1725,
        {"1": 1.3649, "123": 115.7177, "1.23123e+11": 115405479936.0},
    ),
    "supervised-e50": (
        "PyTorch, GPU",
        0.1119,
        {"1": 0.7919, "123": 127.1819, "1.23123e+11": 127553527808.0},
    ),
    "supervised-e250": (
        "PyTorch, GPU",
        0.0061,
        {"1": 0.8742, "123": 125.4488, "1.23123e+11": 125721346048.0},
    ),
    "supervised": (
        "PyTorch, GPU",
        0.0000,
        {"1": 1.0394, "123": 122.2405, "1.23123e+11": 122316914688.0},
    ),
    "supervised-lr0.001-e500": (
        "PyTorch, GPU",
        0.0164,
        {"1": 0.7929, "123": 127.0430, "1.23123e+11": 127412420608.0},
    ),
    "supervised-lr0.001-e5000": (
        "PyTorch, GPU",
        0.0003,
        {"1": 1.0278, "123": 122.4605, "1.23123e+11": 122550575104.0},
    ),
    "reward": (
        "PyTorch, GPU",
        None,
        {"1": 0.9999, "9": 8.9949, "123": 122.9963, "1.23123e+11": 123119566848.0},
    ),
    "reward-exp": (
        "PyTorch, GPU",
        None,
        {"1": 0.9998, "123": 123.7488, "1.23123e+11": 123879079936.0},
    ),
    "reward-linear": (
        "PyTorch, GPU",
        None,
        {"1": 1.0576, "123": 127.3472, "1.23123e+11": 127452110848.0},
    ),
}
# Source timings: seconds per step (reference.md 1a-1c).
SOURCE_STEP_SECONDS = {
    "supervised": ("PyTorch on an RTX GPU, per epoch", 0.001),
    "reward": ("PyTorch on an RTX GPU (27.0 s / 25,000 steps)", 27.0 / 25_000),
    "reward (plain Python)": (
        "plain Python, no framework (0.018 s / 25,000 steps)",
        0.018 / 25_000,
    ),
}
PROBES = ("1", "9", "123", "1.23123e+11")
PROBE_HEADERS = ("f(1)", "f(9)", "f(123)", "f(123123123123)")
SOURCE_RUN_STEPS = 25_000  # the source's reward run


def _metric(name: str, digits: int = 4) -> Column[Group]:
    return Column(name, lambda group: fmt(group.first["metrics"][name], digits))


RESULT_COLUMNS: tuple[Column[Group], ...] = (
    *identity("backend"),
    Column("final loss", lambda group: fmt(group.first["metrics"]["final_loss"])),
    _metric("w"),
    _metric("b"),
    *(
        Column(header, lambda group, probe=probe: fmt(group.first["metrics"]["probes"][probe], 12))
        for probe, header in zip(PROBES, PROBE_HEADERS, strict=True)
    ),
    Column(
        "rel. error of f(123123123123)",
        lambda group: fmt(group.first["metrics"]["probe_rel_errors"]["1.23123e+11"], 3),
    ),
)


def _step(group: Group) -> float | None:
    return median_of(group.records, timing("step_median_s"))


def _run(group: Group) -> str:
    step = _step(group)
    return seconds(step * SOURCE_RUN_STEPS) if group.variant == "reward" and step else "–"


STEP_COLUMNS: tuple[Column[Group], ...] = (
    *identity("backend"),
    Column("per step", lambda group: seconds(_step(group))),
    Column("25,000 steps", _run),
)


def _source_results() -> tuple[tuple[str, ...], ...]:
    return tuple(
        (
            variant,
            f"source ({source})",
            "float32",
            fmt(loss),
            "–",
            "–",
            *(fmt(outputs.get(p), 12) for p in PROBES),
            "–",
        )
        for variant, (source, loss, outputs) in SOURCE_RESULTS.items()
    )


def _source_steps() -> tuple[tuple[str, ...], ...]:
    return tuple(
        (
            name,
            f"source: {what}",
            "float32",
            seconds(per_step),
            seconds(per_step * SOURCE_RUN_STEPS) if name.startswith("reward") else "–",
        )
        for name, (what, per_step) in SOURCE_STEP_SECONDS.items()
    )


def copynet_sections(context: ReportContext) -> list[Block]:
    """Seed 0 of each row next to the source's results; the steady step time next to the
    source's."""
    rows = ok_groups(context.records)
    results = table(RESULT_COLUMNS, rows)
    steps = table(STEP_COLUMNS, [g for g in rows if g.variant in ("supervised", "reward")])
    return [
        Heading(3, "Results (seed 0 of each row) next to the source's"),
        Table(results.header, results.rows + _source_results()),
        Heading(3, "Time per optimizer step next to the source's"),
        Paragraph(
            "The 25,000-step column is the steady step time × 25,000 (the source's "
            "run length); the first (compiling) epoch is in the speed table."
        ),
        Table(steps.header, steps.rows + _source_steps()),
    ]


# The source's run length per variant, in optimizer steps (reference.md 1a, 1b: a
# supervised epoch is one full-batch step); None: not stated.
SOURCE_STEPS = {
    "supervised-e10": 10,
    "supervised-e50": 50,
    "supervised-e250": 250,
    "supervised": 500,
    "supervised-lr0.001-e500": 500,
    "supervised-lr0.001-e5000": 5000,
    "reward": 25_000,
    "reward-exp": None,
    "reward-linear": 25_000,
}


def source_figures(context: ReportContext) -> list[SourceFigure]:
    """Per variant the source ran: the probes' outputs of every ok cell (their range)
    beside the source's, and whether this run trained as many steps."""
    figures = []
    for variant, (where, _, outputs) in SOURCE_RESULTS.items():
        records = [r for r in context.records if r["variant"] == variant and r["status"] == "ok"]
        if not records:
            continue
        shown = [(p, h) for p, h in zip(PROBES, PROBE_HEADERS, strict=True) if p in outputs]
        ours = "; ".join(
            f"{header} {value_range([r['metrics']['probes'].get(p) for r in records], 6, False)}"
            for p, header in shown
        )
        source = "; ".join(f"{header} {outputs[p]:.6g}" for p, header in shown)
        config = records[0].get("config", {})
        steps = config.get("epochs", 0) * config.get("steps_per_epoch", 0)
        length = SOURCE_STEPS.get(variant)
        caveat = (
            too_short(records[0]["preset"], steps, length, "steps")
            if length
            else "the source's run length is not stated"
        )
        figures.append(
            SourceFigure(
                f"{variant}: probes",
                f"{ours} ({len(records)} cell{'' if len(records) == 1 else 's'})",
                f"{source} ({where}, one run; shared/reference.md 1)",
                caveat,
            )
        )
    return figures
