"""What a long DQN run learned, read from its records alone: which records are learning
runs, their score curves against agent steps, emulator frames and wall time, and the
median of a curve across seeds with its interval. ``charts.py`` draws them and
``report.py`` tables them; nothing here plays or trains.

A record's ``episodes`` rows (agent_steps, frames, wall_s, score, running_mean and
running_max of the last 100 episodes) are training episodes, played at the training
epsilon; its ``evaluations`` rows (agent_steps, frames, wall_s, scores, mean_score) are
the periodic evaluations at epsilon 0.05 (``loop.evaluate_now``). Old records have no
``evaluations``: they read as a run without any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.stats import center_interval
from benchmarks.workloads.base import LONG_RUN_PRESETS
from benchmarks.workloads.dqn.loop import RUNNING_WINDOW

Record = dict[str, Any]

# Space Invaders in Mnih et al. 2015 (shared/reference.md section 3): random play, and
# the published DQN after PUBLISHED_FRAMES emulator frames.
RANDOM_PLAY = 148.0
PUBLISHED_DQN = 1976.0
PUBLISHED_DQN_SPREAD = 893.0  # its ± (standard deviation over evaluation episodes)
PUBLISHED_FRAMES = 50_000_000
# The presets that learn: the long runs, and the source's own schedule.
LEARNING_PRESETS = (*LONG_RUN_PRESETS, "full")
# Seeds from which a band is the bootstrap 95% interval of the median; with fewer, the
# bootstrap of a median can only return the seeds' own values, so the band is their
# range (min to max).
BOOTSTRAP_SEEDS = 5
GRID_POINTS = 200  # points of a median curve across seeds

# (field of an episode or evaluation row, axis title, scale): the x axes of the curves.
AXES = (
    ("agent_steps", "agent steps", 1.0),
    ("frames", "emulator frames", 1.0),
    ("wall_s", "wall hours (play and evaluations, resumed runs summed)", 1 / 3600),
)


def is_learning_run(record: Record) -> bool:
    """Whether ``record`` is a run meant to learn, which gets the learning curves and
    the long-run table: a learning preset (``LEARNING_PRESETS``), periodic evaluations,
    or at least a full running-mean window of episodes (100). The default run's brief
    cells (4 episodes, no evaluations) and the quick preset's (about 10) are not."""
    return (
        record.get("preset") in LEARNING_PRESETS
        or bool(record.get("evaluations"))
        or len(record.get("episodes") or ()) >= RUNNING_WINDOW
    )


def learning_records(records: list[Record]) -> list[Record]:
    """The learning runs among ``records`` that played (ok or diverged), with episodes,
    sorted by variant, backend, mode, dtype, threads and seed."""
    kept = [
        r
        for r in records
        if r["status"] in ("ok", "diverged") and r.get("episodes") and is_learning_run(r)
    ]
    return sorted(
        kept,
        key=lambda r: (r["variant"], r["backend"], r["mode"], r["dtype"], r["threads"], r["seed"]),
    )


def wall_seconds(record: Record) -> float | None:
    """Seconds the cell played, earlier processes of a resumed cell included: the
    metric ``play_wall_s``, else the last episode's ``wall_s`` (older records)."""
    wall = record.get("metrics", {}).get("play_wall_s")
    if wall is None and record.get("episodes"):
        wall = record["episodes"][-1].get("wall_s")
    return wall


@dataclass(frozen=True)
class Curve:
    """One record's scores against one x axis (``AXES``): training episodes and
    evaluations, each x in the axis's unit (wall time in hours)."""

    x: list[float]  # (episode,) the axis field at each episode's end
    running_mean: list[float]  # (episode,)
    running_max: list[float]  # (episode,)
    eval_x: list[float]  # (evaluation,)
    eval_mean: list[float]  # (evaluation,) mean of its episodes' scores
    eval_low: list[float]  # (evaluation,) its lowest episode score
    eval_high: list[float]  # (evaluation,) its highest


def curve(record: Record, axis: str, scale: float = 1.0) -> Curve:
    """``record``'s ``Curve`` against the rows' field ``axis`` times ``scale``."""
    rows, evaluations = record["episodes"], record.get("evaluations") or []
    return Curve(
        [row[axis] * scale for row in rows],
        [row["running_mean"] for row in rows],
        [row["running_max"] for row in rows],
        [row[axis] * scale for row in evaluations],
        [row["mean_score"] for row in evaluations],
        [min(row["scores"]) for row in evaluations],
        [max(row["scores"]) for row in evaluations],
    )


def seed_band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(median, low, high) across seeds of ``values`` (seed, point): low and high the
    seeds' range under ``BOOTSTRAP_SEEDS`` seeds, else the bootstrap 95% interval of
    the median (``benchmarks.stats``, each seed one process of one value)."""
    median = np.median(values, axis=0)
    if values.shape[0] < BOOTSTRAP_SEEDS:
        return median, values.min(axis=0), values.max(axis=0)
    bounds = np.array(
        [center_interval([[float(v)] for v in column]) for column in values.T]
    )  # (point, 2)
    return median, bounds[:, 0], bounds[:, 1]


def shared_span(xs: Sequence[Sequence[float]]) -> bool:
    """Whether the seeds' x values (each increasing) share a span: every seed began
    before any other ended."""
    return max(x[0] for x in xs) <= min(x[-1] for x in xs)


def median_curve(
    curves: Sequence[tuple[Sequence[float], Sequence[float]]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, median, low, high) of several seeds' (x, y) lines, on ``GRID_POINTS`` x values
    over the span every seed covers (each line interpolated linearly). Raises ValueError
    when the seeds share no span (a seed that ended before another began)."""
    if not shared_span([x for x, _ in curves]):
        raise ValueError("the seeds' curves share no span of x")
    start, stop = max(x[0] for x, _ in curves), min(x[-1] for x, _ in curves)
    grid = np.linspace(start, stop, GRID_POINTS)
    values = np.stack([np.interp(grid, x, y) for x, y in curves])  # (seed, point)
    return (grid, *seed_band(values))


def median_evaluations(curves: Sequence[Curve]) -> tuple[np.ndarray, ...]:
    """(x, median, low, high) of the seeds' evaluations, matched by order (the k-th
    evaluation of every seed: all evaluate at the same agent steps), as many as the
    seed with fewest has; x is the median of the seeds' x."""
    count = min(len(c.eval_mean) for c in curves)
    x = np.median([c.eval_x[:count] for c in curves], axis=0)
    means = np.array([c.eval_mean[:count] for c in curves], dtype=np.float64)
    return (x, *seed_band(means))
