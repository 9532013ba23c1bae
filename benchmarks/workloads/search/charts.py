"""The search's charts: accuracy against the episode, accuracy against parameters
(without and with the size penalty), and where a candidate's time goes.

Records with ``search_episodes`` and ``candidates`` instead of epochs (loop.py)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks.document import Block
from benchmarks.report.charts import Chart, chart_section, pyplot, save_chart, series_label
from benchmarks.report.context import ReportContext

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


def _shade_stages(ax, stages: list[tuple[int, int, float]]) -> None:
    """Alternate grey bands under the Q-learning agents' epsilon stages, each labelled."""
    if len(stages) < 2:
        return
    for index, (first, last, epsilon) in enumerate(stages):
        if index % 2:
            ax.axvspan(first - 0.5, last + 0.5, color="0.92", zorder=0)
        ax.text(
            (first + last) / 2,
            1.0,
            f"ε={epsilon:g}",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=6,
        )


def plot_search_accuracy(context: ReportContext) -> list[Chart]:
    """Per variant, one cell's validation accuracy against the episode for every agent:
    each episode's design (dots), the running best and the mean of the last 10 episodes."""
    plt = pyplot()
    images = []
    for variant, group in _search_records(context.records).items():
        record = search_example(group)
        agents = _by_agent(record)
        fig, ax = plt.subplots(figsize=(11, 4))
        qlearning = [rows for agent, rows in agents.items() if agent != "random"]
        _shade_stages(ax, _epsilon_stages(qlearning[0]) if qlearning else [])
        for index, (agent, rows) in enumerate(agents.items()):
            color = f"C{index}"
            episode = np.array([row["episode"] for row in rows])
            accuracy = np.array([row["accuracy"] for row in rows])
            # trailing mean over up to 10 episodes (fewer at the start)
            cumulative = np.concatenate([[0.0], np.cumsum(accuracy)])
            start = np.maximum(np.arange(len(accuracy)) + 1 - 10, 0)
            rolling = (cumulative[1:] - cumulative[start]) / (np.arange(len(accuracy)) + 1 - start)
            ax.plot(episode, accuracy, "o", color=color, alpha=0.3, markersize=3)
            ax.plot(
                episode,
                np.maximum.accumulate(accuracy),
                color=color,
                linewidth=1.5,
                label=f"{agent}: best so far",
            )
            ax.plot(
                episode,
                rolling,
                "--",
                color=color,
                linewidth=1,
                label=f"{agent}: mean of the last 10",
            )
        ax.set(xlabel="episode (of each agent)", ylabel="validation accuracy")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.suptitle(
            f"{context.workload}/{variant}, {cell_name(record)}: accuracy of each episode's "
            "design (dots); grey bands: the Q-learning agents' epsilon stages",
            fontsize=9,
        )
        fig.tight_layout()
        path = save_chart(fig, context.run_dir, f"{context.workload}__{variant}__accuracy.png")
        alt = f"{context.workload}/{variant} accuracy against episode, {cell_name(record)}"
        images.append((path, alt))
    return images


def plot_search_params(context: ReportContext) -> list[Chart]:
    """Per variant, accuracy against parameters of every episode's design, a panel for
    Q-learning without the size penalty and one with it; a line marks the mean size."""
    plt = pyplot()
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    images = []
    for variant, group in _search_records(context.records).items():
        record = search_example(group)
        agents = _by_agent(record)
        pair = [agent for agent in PENALTY_PAIR if agent in agents]
        if not pair:
            continue
        fig, axes = plt.subplots(
            1,
            len(pair),
            figsize=(5.5 * len(pair), 3.8),
            sharex=True,
            sharey=True,
            squeeze=False,
            layout="constrained",
        )
        episodes = max(len(agents[agent]) for agent in pair)
        for ax, agent in zip(axes.flat, pair, strict=True):
            rows = agents[agent]
            params = np.array([row["n_params"] for row in rows], dtype=float)
            dots = ax.scatter(
                params,
                [row["accuracy"] for row in rows],
                c=[row["episode"] for row in rows],
                cmap="viridis",
                vmin=1,
                vmax=episodes,
                s=14,
            )
            mean = float(np.mean(params))
            ax.axvline(
                mean, color="C3", linestyle="--", linewidth=1, label=f"mean: {mean:,.0f} parameters"
            )
            ax.set(xscale="log", xlabel="parameters")
            ax.set_title(f"{agent} (reward: {PAIR_REWARDS.get(agent, '?')})", fontsize=9)
            # 1, 2 and 5 of each decade in plain numbers: 10^3 alone says little
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _count_text(v)))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.legend(fontsize=7, loc="lower right")
        axes.flat[0].set_ylabel("validation accuracy")
        bar = fig.colorbar(dots, ax=list(axes.flat), label="episode")
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
        fig.suptitle(
            f"{context.workload}/{variant}, {cell_name(record)}: the designs with and without "
            "the size penalty",
            fontsize=9,
        )
        path = save_chart(fig, context.run_dir, f"{context.workload}__{variant}__params.png")
        alt = f"{context.workload}/{variant} accuracy against parameters, {cell_name(record)}"
        images.append((path, alt))
    return images


def plot_search_phases(context: ReportContext) -> list[Chart]:
    """Per variant, the mean candidate's seconds by phase, a bar per backend:mode and
    dtype (lowest seed): in seconds, and as shares of the candidate."""
    plt = pyplot()
    images = []
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
        fig, (seconds_ax, share_ax) = plt.subplots(
            1, 2, figsize=(11, 1.6 + 0.35 * len(labels)), sharey=True, layout="constrained"
        )
        left = np.zeros(len(labels))
        share_left = np.zeros(len(labels))
        for index, (_, name) in enumerate(PHASES):
            share = means[:, index] / np.where(totals > 0, totals, 1.0)
            seconds_ax.barh(labels, means[:, index], left=left, color=f"C{index}", label=name)
            share_ax.barh(labels, share, left=share_left, color=f"C{index}")
            left += means[:, index]
            share_left += share
        for y, total in enumerate(totals):
            seconds_ax.text(total, y, f" {_seconds_text(total)}", va="center", fontsize=7)
        seconds_ax.set(xlabel="seconds per candidate (mean over the candidates)")
        seconds_ax.set_xlim(0, totals.max() * 1.2 if totals.max() > 0 else 1)
        share_ax.set(xlabel="share of the candidate's time", xlim=(0, 1))
        seconds_ax.tick_params(labelsize=7)
        fig.legend(fontsize=7, ncol=len(PHASES), loc="outside lower center")
        fig.suptitle(f"{context.workload}/{variant}: where a candidate's time goes", fontsize=9)
        path = save_chart(fig, context.run_dir, f"{context.workload}__{variant}__phases.png")
        images.append((path, f"{context.workload}/{variant} seconds per candidate by phase"))
    return images


def _count_text(value: float) -> str:
    """100, 2k, 50k, 1M."""
    for suffix, scale in (("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _seconds_text(value: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-6:.3g} µs"


def search_chart_sections(context: ReportContext) -> list[Block]:
    return (
        chart_section(
            "Accuracy against episode (one cell per variant: NumPy where it ran, lowest seed)",
            plot_search_accuracy(context),
        )
        + chart_section(
            "Accuracy against parameters, without and with the size penalty (the same cell)",
            plot_search_params(context),
        )
        + chart_section("Seconds per candidate by phase", plot_search_phases(context))
    )
