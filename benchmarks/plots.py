"""Convergence charts: loss against epoch and against wall time, every backend on one."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from shared.files import write_figure_atomic

Record = dict[str, Any]


def _curve(record: Record) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch, cumulative training seconds, loss) of a record; a missing loss is NaN."""
    rows = record["epochs"]
    epochs = np.array([row["epoch"] for row in rows])
    wall = np.cumsum([row["seconds"] for row in rows])
    losses = np.array([np.nan if row["loss"] is None else row["loss"] for row in rows])
    return epochs, wall, losses


def plot_losses(run_dir: Path, workload: str, records: list[Record]) -> list[tuple[str, str]]:
    """One PNG per variant (lowest seed of each row); returns ``(relative path, alt)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record["status"] in ("ok", "diverged") and record.get("epochs"):
            by_variant[record["variant"]].append(record)
    images = []
    for variant, group in sorted(by_variant.items()):
        seed = min(r["seed"] for r in group)
        fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 3.6))
        for record in sorted(group, key=lambda r: (r["backend"], r["mode"], r["dtype"])):
            if record["seed"] != seed:
                continue
            epochs, wall, losses = _curve(record)
            label = f"{record['backend']}:{record['mode']} {record['dtype']}"
            by_epoch.plot(epochs, losses, label=label, linewidth=1)
            by_time.plot(wall, losses, label=label, linewidth=1)
        all_losses = np.concatenate([_curve(r)[2] for r in group])
        scale = "log" if np.nanmin(all_losses) > 0 else "linear"
        by_epoch.set(xlabel="epoch", ylabel="loss", yscale=scale)
        by_time.set(xlabel="training seconds (first epoch included)", yscale=scale, xscale="log")
        by_epoch.legend(fontsize=7)
        fig.suptitle(f"{workload}/{variant}, seed {seed}")
        fig.tight_layout()
        path = _save(fig, run_dir, f"{workload}__{variant}__loss.png")
        images.append((path, f"{workload}/{variant} loss"))
    return images


def _rollout_records(records: list[Record]) -> dict[str, list[Record]]:
    """Per variant, the lowest-seed ok records that carry a rollout, one per row."""
    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record["status"] == "ok" and "rollout_example" in record.get("metrics", {}):
            by_variant[record["variant"]].append(record)
    return {
        variant: sorted(
            (r for r in group if r["seed"] == min(g["seed"] for g in group)),
            key=lambda r: (r["backend"], r["mode"], r["dtype"]),
        )
        for variant, group in sorted(by_variant.items())
    }


def plot_rollouts(run_dir: Path, workload: str, records: list[Record]) -> list[tuple[str, str]]:
    """Per variant: one held-out system's true and rolled-out trajectories, a panel per
    backend:mode, then the median rollout error against the step, every row on one chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    for variant, group in _rollout_records(records).items():
        columns = min(4, len(group))
        rows = -(-len(group) // columns)
        size = (max(5.0, 3.2 * columns), 3.2 * rows + 0.4)
        fig, axes = plt.subplots(rows, columns, figsize=size, squeeze=False)
        for ax, record in zip(axes.flat, group, strict=False):
            example = record["metrics"]["rollout_example"]
            true, pred = np.asarray(example["true"]), np.asarray(example["pred"])
            for body in range(true.shape[1]):
                (line,) = ax.plot(true[:, body, 0], true[:, body, 1], linewidth=1.2)
                ax.plot(pred[:, body, 0], pred[:, body, 1], "--", color=line.get_color())
                ax.plot(*true[0, body], "o", color=line.get_color(), markersize=3)
            ax.set_title(f"{record['backend']}:{record['mode']} {record['dtype']}", fontsize=8)
            ax.set_aspect("equal", adjustable="datalim")
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[len(group) :]:
            ax.axis("off")
        fig.suptitle(
            f"{workload}/{variant}: one held-out system\nsimulator (solid) against the "
            "model's rollout (dashed); dots mark the start",
            fontsize=9,
        )
        fig.tight_layout()
        images.append((_save(fig, run_dir, f"{workload}__{variant}__rollout.png"), "rollout"))
        images.append((_error_curves(run_dir, workload, variant, group), "rollout error"))
    return images


def _error_curves(run_dir: Path, workload: str, variant: str, group: list[Record]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    for record in group:
        curve = record["metrics"]["rollout_error_curve"]
        label = f"{record['backend']}:{record['mode']} {record['dtype']}"
        # step 0 is the true start (no error): left out of the log scale
        ax.plot(curve["step"][1:], curve["median_position_error"][1:], label=label, linewidth=1)
    ax.set(xlabel="rollout step", ylabel="median position error", yscale="log")
    ax.legend(fontsize=7)
    fig.suptitle(f"{workload}/{variant}: rollout error over the validation systems", fontsize=9)
    fig.tight_layout()
    return _save(fig, run_dir, f"{workload}__{variant}__rollout_error.png")


def _save(fig, run_dir: Path, name: str) -> str:
    import matplotlib.pyplot as plt

    # Atomic: several `report`s of one run may draw the same chart at once.
    path = Path("plots") / name
    write_figure_atomic(run_dir / path, fig, dpi=90, format="png")
    plt.close(fig)
    return str(path)


def plot_scores(run_dir: Path, workload: str, records: list[Record]) -> list[tuple[str, str]]:
    """DQN score curves: running mean and running max of the last 100 episodes against
    agent steps, every backend and mode of a variant on one chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record["status"] in ("ok", "diverged") and record.get("episodes"):
            by_variant[record["variant"]].append(record)
    images = []
    for variant, group in sorted(by_variant.items()):
        fig, (mean_ax, max_ax) = plt.subplots(1, 2, figsize=(11, 3.6), sharex=True)
        for record in sorted(group, key=lambda r: (r["backend"], r["mode"], r["dtype"])):
            rows = record["episodes"]
            steps = [row["agent_steps"] for row in rows]
            label = f"{record['backend']}:{record['mode']} {record['dtype']}"
            mean_ax.plot(steps, [row["running_mean"] for row in rows], label=label, linewidth=1)
            max_ax.plot(steps, [row["running_max"] for row in rows], label=label, linewidth=1)
        mean_ax.set(xlabel="agent steps", ylabel="running mean score (last 100 episodes)")
        max_ax.set(xlabel="agent steps", ylabel="running max score (last 100 episodes)")
        mean_ax.legend(fontsize=7)
        fig.suptitle(f"{workload}/{variant}: raw game score", fontsize=9)
        fig.tight_layout()
        images.append((_save(fig, run_dir, f"{workload}__{variant}__scores.png"), "scores"))
    return images


# Architecture search (benchmarks/workloads/search/loop.py): records with ``search_episodes`` and
# ``candidates`` instead of epochs.

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
    return f"{record['backend']}:{record['mode']} {record['dtype']} seed {record['seed']}"


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


def plot_search_accuracy(run_dir: Path, records: list[Record]) -> list[tuple[str, str]]:
    """Per variant, one cell's validation accuracy against the episode for every agent:
    each episode's design (dots), the running best and the mean of the last 10 episodes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    for variant, group in _search_records(records).items():
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
            f"search/{variant}, {cell_name(record)}: accuracy of each episode's design "
            "(dots); grey bands: the Q-learning agents' epsilon stages",
            fontsize=9,
        )
        fig.tight_layout()
        path = _save(fig, run_dir, f"search__{variant}__accuracy.png")
        images.append((path, f"search/{variant} accuracy against episode, {cell_name(record)}"))
    return images


def plot_search_params(run_dir: Path, records: list[Record]) -> list[tuple[str, str]]:
    """Per variant, accuracy against parameters of every episode's design, a panel for
    Q-learning without the size penalty and one with it; a line marks the mean size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    images = []
    for variant, group in _search_records(records).items():
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
            f"search/{variant}, {cell_name(record)}: the designs with and without the size penalty",
            fontsize=9,
        )
        path = _save(fig, run_dir, f"search__{variant}__params.png")
        images.append((path, f"search/{variant} accuracy against parameters, {cell_name(record)}"))
    return images


def plot_search_phases(run_dir: Path, records: list[Record]) -> list[tuple[str, str]]:
    """Per variant, the mean candidate's seconds by phase, a bar per backend:mode and
    dtype (lowest seed): in seconds, and as shares of the candidate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    for variant, group in _search_records(records).items():
        rows: dict[str, Record] = {}
        for record in sorted(group, key=lambda r: r["seed"], reverse=True):
            rows[f"{record['backend']}:{record['mode']} {record['dtype']}"] = record
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
        fig.suptitle(f"search/{variant}: where a candidate's time goes", fontsize=9)
        path = _save(fig, run_dir, f"search__{variant}__phases.png")
        images.append((path, f"search/{variant} seconds per candidate by phase"))
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
