"""Convergence charts: loss against epoch and against wall time, every backend on one."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

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
        path = Path("plots") / f"{workload}__{variant}__loss.png"
        (run_dir / path.parent).mkdir(exist_ok=True)
        fig.savefig(run_dir / path, dpi=90)
        plt.close(fig)
        images.append((str(path), f"{workload}/{variant} loss"))
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

    path = Path("plots") / name
    (run_dir / path.parent).mkdir(exist_ok=True)
    fig.savefig(run_dir / path, dpi=90)
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
