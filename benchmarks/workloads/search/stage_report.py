"""The report's view of a search at MetaQNN's schedule (the ``full`` and ``long``
presets): per agent, the mean accuracy and the mean size of the designs proposed in
each epsilon stage (stages.py), as charts and as a table of the last stage, and the
answer's figures from that stage.

A row is one configuration (variant, backend:mode, dtype, thread count) over its seeds:
with several seeds the intervals are over the seeds' stage means, with one over the
stage's episodes (which says nothing of another seed's search)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from benchmarks.document import Block, Heading, Paragraph
from benchmarks.report.answer import SourceFigure
from benchmarks.report.charts import chart_section
from benchmarks.report.context import ReportContext
from benchmarks.report.figure import Band, Figure, Panel, Series
from benchmarks.report.format import fmt
from benchmarks.report.groups import Group, ok_groups
from benchmarks.report.tables import Column, identity, table
from benchmarks.workloads.search.stages import StageRow, across_seeds, stage_summary

Record = dict[str, Any]
Stages = dict[str, list[StageRow]]
AGENT_NAMES = {
    "random": "random search",
    "qlearning": "Q-learning",
    "qlearning-penalty": "Q-learning with the size penalty",
}


def _stages(record: Record) -> Stages:
    """The record's stage summary, from its episodes and schedule (records of any age)."""
    return stage_summary(record["search_episodes"], record["config"]["schedule"])


def stage_groups(records: list[Record], presets: Collection[str]) -> list[tuple[Group, Stages]]:
    """Each configuration of a search at one of ``presets`` and its stages over seeds."""
    chosen = [r for r in records if r["preset"] in presets and r.get("search_episodes")]
    return [(g, across_seeds([_stages(r) for r in g.records])) for g in ok_groups(chosen)]


def _label(group: Group) -> str:
    seeds = len(group.records)
    return f"{group.variant}, {group.implementation} {group.dtype}, {seeds} seed(s)"


def _interval(row: StageRow, field: str) -> str:
    mean, low, high = row[f"mean_{field}"], row[f"{field}_low"], row[f"{field}_high"]
    if field == "params":
        return f"{mean:,.0f} [{low:,.0f}–{high:,.0f}]"
    return f"{mean:.3f} [{low:.3f}–{high:.3f}]"


def _series(agent: str, rows: list[StageRow], field: str) -> Series:
    mean = np.array([row[f"mean_{field}"] for row in rows])
    return Series(
        AGENT_NAMES.get(agent, agent),
        list(range(1, len(rows) + 1)),
        mean.tolist(),
        kind="line",
        error_low=(mean - [row[f"{field}_low"] for row in rows]).tolist(),
        error_high=([row[f"{field}_high"] for row in rows] - mean).tolist(),
        color=agent,
    )


def stage_figure(context: ReportContext, group: Group, stages: Stages) -> Figure:
    """Accuracy and mean parameters (log axis) by epsilon stage, a line per agent with
    95% error bars; a band per stage, labelled with its epsilon."""
    longest = max(stages.values(), key=len)
    bands = tuple(
        Band(i + 0.5, i + 1.5, f"ε={row['epsilon']:g}", shaded=bool(i % 2))
        for i, row in enumerate(longest)
    )
    ticks = tuple(float(i) for i in range(1, len(longest) + 1))
    panels = tuple(
        Panel(
            tuple(_series(agent, rows, field) for agent, rows in stages.items()),
            x_title="epsilon stage (Q-learning's schedule)",
            y_title=title,
            y_log=field == "params",
            x_ticks=ticks,
            bands=bands,
        )
        for field, title in (
            ("accuracy", "mean validation accuracy"),
            ("params", "mean parameters"),
        )
    )
    name = f"{context.workload}__{group.variant}__{group.backend}__{group.dtype}__stages"
    title = f"{context.workload}/{_label(group)}: the designs of each epsilon stage (95% intervals)"
    alt = f"{context.workload}/{group.variant} accuracy and parameters by epsilon stage"
    return Figure(name, title, alt, panels, panel_height=3.8)


def _last(stages: Stages, agent: str) -> StageRow | None:
    rows = stages.get(agent)
    return rows[-1] if rows else None


def _cell(stages: Stages, agent: str, field: str) -> str:
    row = _last(stages, agent)
    return _interval(row, field) if row else "–"


def _smaller(stages: Stages) -> str:
    plain, penalised = _last(stages, "qlearning"), _last(stages, "qlearning-penalty")
    if not plain or not penalised or not penalised["mean_params"]:
        return "–"
    return fmt(plain["mean_params"] / penalised["mean_params"], 3) + "×"


def _stage_name(stages: Stages) -> str:
    row = _last(stages, "qlearning") or next(iter(stages.values()))[-1]
    return f"ε={row['epsilon']:g}, episodes {row['first_episode']}–{row['last_episode']}"


Row = tuple[Group, Stages]
LAST_STAGE_COLUMNS: tuple[Column[Row], ...] = (
    *(Column(c.header, lambda row, c=c: c.value(row[0])) for c in identity()),
    Column("seeds", lambda row: str(len(row[0].records))),
    Column("last stage", lambda row: _stage_name(row[1])),
    Column("Q-learning accuracy", lambda row: _cell(row[1], "qlearning", "accuracy")),
    Column("random search accuracy", lambda row: _cell(row[1], "random", "accuracy")),
    Column("parameters without penalty", lambda row: _cell(row[1], "qlearning", "params")),
    Column("parameters with penalty", lambda row: _cell(row[1], "qlearning-penalty", "params")),
    Column("smaller by", lambda row: _smaller(row[1])),
)

STAGE_ABOUT = (
    "Mean validation accuracy and mean parameter count of the designs each agent proposed "
    "in each epsilon stage of Q-learning's schedule (random search's episodes of the same "
    "numbers; it always walks at epsilon 1), with bootstrap 95% intervals in brackets: over "
    "the seeds' stage means where a configuration ran several seeds, else over the "
    "stage's episodes, which show one search's spread and not a rerun's."
)


def stage_sections(context: ReportContext, presets: Collection[str]) -> list[Block]:
    """The stage charts and the last stage's table, for searches at ``presets``."""
    rows = stage_groups(context.records, presets)
    if not rows:
        return []
    figures = [stage_figure(context, group, stages) for group, stages in rows]
    return [
        *chart_section(context.run_dir, "Accuracy and size by epsilon stage", figures),
        Heading(3, "The last epsilon stage: Q-learning against random search, and the penalty"),
        table(LAST_STAGE_COLUMNS, rows),
        Paragraph(STAGE_ABOUT),
    ]


def stage_source_figures(context: ReportContext, presets: Collection[str]) -> list[SourceFigure]:
    """Per variant, one configuration (NumPy's where it ran): the last stage's accuracy
    of Q-learning and random search, and the penalty's effect on the mean size."""
    figures = []
    by_variant: dict[str, list[Row]] = {}
    for group, stages in stage_groups(context.records, presets):
        by_variant.setdefault(group.variant, []).append((group, stages))
    for variant, rows in sorted(by_variant.items()):
        group, stages = min(rows, key=lambda row: (row[0].backend != "numpy", row[0].backend))
        whose = f"{group.implementation} {group.dtype}, {len(group.records)} seed(s), "
        whose += _stage_name(stages)
        figures += [
            SourceFigure(
                f"{variant}: last-stage accuracy, Q-learning vs random search",
                f"{_cell(stages, 'qlearning', 'accuracy')} vs "
                f"{_cell(stages, 'random', 'accuracy')} ({whose})",
                "MetaQNN's greedy designs beat random search's; reference.md 5 gives no "
                "figure for it",
            ),
            SourceFigure(
                f"{variant}: last-stage mean parameters, without → with the size penalty",
                f"{_cell(stages, 'qlearning', 'params')} → "
                f"{_cell(stages, 'qlearning-penalty', 'params')}, {_smaller(stages)} smaller; "
                f"accuracy {_cell(stages, 'qlearning-penalty', 'accuracy')} ({whose})",
                "the penalty cut mean model size by two orders of magnitude at similar "
                "accuracy (shared/reference.md 5)",
            ),
        ]
    return figures
