"""The search's charts: accuracy against the episode, accuracy against parameters
(without and with the size penalty), and where a candidate's time goes.

Records with ``search_episodes`` and ``candidates`` instead of epochs (loop.py)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks.document import Block
from benchmarks.report.charts import chart_section, series_label
from benchmarks.report.context import ReportContext
from benchmarks.report.figure import PALETTE, Band, Figure, Note, Panel, Series, spans_decades

Record = dict[str, Any]

PHASES = (  # a candidate's phases, in the order they run (benchmarks/workloads/search/cell.py)
    ("build_s", "build"),
    ("prepare_s", "prepare"),
    ("first_epoch_s", "first epoch"),
    ("later_epochs_s", "later epochs"),
    ("first_eval_s", "first evaluation"),
)
PENALTY_PAIR = ("qlearning", "qlearning-penalty")  # the same agent without and with P
PAIR_REWARDS = {"qlearning": "accuracy", "qlearning-penalty": "accuracy - size penalty"}


def _search_records(records: list[Record]) -> dict[str, list[Record]]:
    """Ok records that hold a search, by variant."""
    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record["status"] == "ok" and record.get("search_episodes"):
            by_variant[record["variant"]].append(record)
    return dict(sorted(by_variant.items()))


def search_example(group: list[Record]) -> Record:
    """The cell a variant's search charts show: NumPy (the reference) if it ran, then the
    lowest seed."""
    return min(group, key=lambda r: (r["backend"] != "numpy", r["seed"], r["mode"], r["dtype"]))


def cell_name(record: Record) -> str:
    return f"{series_label(record)} seed {record['seed']}"


def _by_agent(record: Record) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in record["search_episodes"]:
        rows[row["agent"]].append(row)
    return dict(rows)


def _epsilon_stages(rows: list[dict[str, Any]]) -> list[tuple[int, int, float]]:
    """(first episode, last episode, epsilon) of each run of equal epsilon."""
    stages: list[tuple[int, int, float]] = []
    for row in rows:
        if stages and stages[-1][2] == row["epsilon"]:
            stages[-1] = (stages[-1][0], row["episode"], row["epsilon"])
        else:
            stages.append((row["episode"], row["episode"], row["epsilon"]))
    return stages


def _bands(stages: list[tuple[int, int, float]]) -> tuple[Band, ...]:
    """A band per Q-learning epsilon stage, every other one grey, each labelled."""
    if len(stages) < 2:
        return ()
    return tuple(
        Band(first - 0.5, last + 0.5, f"ε={epsilon:g}", shaded=bool(index % 2))
        for index, (first, last, epsilon) in enumerate(stages)
    )


def _agent_series(agent: str, rows: list[dict[str, Any]]) -> list[Series]:
    """An agent's accuracy of each episode (dots, hidden with its best so far), its
    running best and the trailing mean of its last 10 episodes, in the agent's colour."""
    episode = [row["episode"] for row in rows]
    accuracy = np.array([row["accuracy"] for row in rows], dtype=float)
    # trailing mean over up to 10 episodes (fewer at the start)
    cumulative = np.concatenate([[0.0], np.cumsum(accuracy)])
    start = np.maximum(np.arange(len(accuracy)) + 1 - 10, 0)
    rolling = (cumulative[1:] - cumulative[start]) / (np.arange(len(accuracy)) + 1 - start)
    best = f"{agent}: best so far"
    return [
        Series(
            f"{agent}: each episode",
            episode,
            accuracy.tolist(),
            kind="markers",
            group=best,
            color=agent,
            legend=False,
            opacity=0.3,
        ),
        Series(best, episode, np.maximum.accumulate(accuracy).tolist(), color=agent),
        Series(f"{agent}: mean of the last 10", episode, rolling.tolist(), "dash", color=agent),
    ]


def search_accuracy_figures(context: ReportContext) -> list[Figure]:
    """Per variant, one cell's validation accuracy against the episode for every agent:
    each episode's design (dots), the running best and the mean of the last 10 episodes."""
    figures = []
    for variant, group in _search_records(context.records).items():
        record = search_example(group)
        agents = _by_agent(record)
        qlearning = [rows for agent, rows in agents.items() if agent != "random"]
        series = [s for agent, rows in agents.items() for s in _agent_series(agent, rows)]
        panel = Panel(
            tuple(series),
            x_title="episode (of each agent)",
            y_title="validation accuracy",
            bands=_bands(_epsilon_stages(qlearning[0]) if qlearning else []),
        )
        title = (
            f"{context.workload}/{variant}, {cell_name(record)}: accuracy of each episode's "
            "design (dots); grey bands: the Q-learning agents' epsilon stages"
        )
        name = f"{context.workload}__{variant}__accuracy"
        alt = f"{context.workload}/{variant} accuracy against episode, {cell_name(record)}"
        figures.append(Figure(name, title, alt, (panel,), panel_height=4.0))
    return figures


def _params_panel(agent: str, rows: list[dict[str, Any]]) -> Panel:
    """Accuracy against parameters of each episode's design, coloured by episode, and a
    dashed line at the mean size."""
    params = [float(row["n_params"]) for row in rows]
    accuracy = [row["accuracy"] for row in rows]
    mean = float(np.mean(params))
    designs = Series(
        f"{agent}: designs",
        params,
        accuracy,
        kind="markers",
        shade=[row["episode"] for row in rows],
        shade_title="episode",
        legend=False,
    )
    line = Series(
        f"{agent}: mean {mean:,.0f} parameters",
        [mean, mean],
        [min(accuracy), max(accuracy)],
        kind="dash",
        color=PALETTE[3],
    )
    return Panel(
        (designs, line),
        title=f"{agent} (reward: {PAIR_REWARDS.get(agent, '?')})",
        x_title="parameters",
        y_title="validation accuracy",
        x_log=spans_decades(params),
    )


def search_params_figures(context: ReportContext) -> list[Figure]:
    """Per variant, accuracy against parameters of every episode's design, a panel for
    Q-learning without the size penalty and one with it; a line marks the mean size."""
    figures = []
    for variant, group in _search_records(context.records).items():
        record = search_example(group)
        agents = _by_agent(record)
        pair = [agent for agent in PENALTY_PAIR if agent in agents]
        if not pair:
            continue
        title = (
            f"{context.workload}/{variant}, {cell_name(record)}: the designs with and without "
            "the size penalty"
        )
        name = f"{context.workload}__{variant}__params"
        alt = f"{context.workload}/{variant} accuracy against parameters, {cell_name(record)}"
        panels = tuple(_params_panel(agent, agents[agent]) for agent in pair)
        figures.append(
            Figure(name, title, alt, panels, width=5.5 * len(pair) + 1.5, panel_height=3.8)
        )
    return figures


def search_phases_figures(context: ReportContext) -> list[Figure]:
    """Per variant, the mean candidate's seconds by phase, a bar per backend:mode and
    dtype (lowest seed): in seconds, and as shares of the candidate."""
    figures = []
    for variant, group in _search_records(context.records).items():
        rows: dict[str, Record] = {}
        for record in sorted(group, key=lambda r: r["seed"], reverse=True):
            rows[series_label(record)] = record
        labels = sorted(rows, reverse=True)  # top to bottom in sorted order
        means = np.array(
            [
                [rows[label]["timing"].get(f"mean_{key}") or 0.0 for key, _ in PHASES]
                for label in labels
            ]
        )
        totals = means.sum(axis=1)
        shares = means / np.where(totals > 0, totals, 1.0)[:, None]
        seconds = Panel(
            tuple(
                Series(name, means[:, index].tolist(), labels, kind="barh")
                for index, (_, name) in enumerate(PHASES)
            ),
            x_title="seconds per candidate (mean over the candidates)",
            x_range=(0.0, float(totals.max()) * 1.2 if totals.max() > 0 else 1.0),
            notes=tuple(
                Note(float(total), label, _seconds_text(total))
                for total, label in zip(totals, labels, strict=True)
            ),
        )
        share = Panel(
            tuple(
                Series(name, shares[:, index].tolist(), labels, kind="barh")
                for index, (_, name) in enumerate(PHASES)
            ),
            x_title="share of the candidate's time",
            x_range=(0.0, 1.0),
        )
        title = f"{context.workload}/{variant}: where a candidate's time goes"
        name = f"{context.workload}__{variant}__phases"
        alt = f"{context.workload}/{variant} seconds per candidate by phase"
        height = 1.2 + 0.35 * len(labels)
        figures.append(
            Figure(
                name,
                title,
                alt,
                (seconds, share),
                stacked=True,
                panel_height=height,
                shared_y=True,
            )
        )
    return figures


def _seconds_text(value: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-6:.3g} µs"


def search_chart_sections(context: ReportContext) -> list[Block]:
    run_dir = context.run_dir
    return (
        chart_section(
            run_dir,
            "Accuracy against episode (one cell per variant: NumPy where it ran, lowest seed)",
            search_accuracy_figures(context),
        )
        + chart_section(
            run_dir,
            "Accuracy against parameters, without and with the size penalty (the same cell)",
            search_params_figures(context),
        )
        + chart_section(run_dir, "Seconds per candidate by phase", search_phases_figures(context))
    )
