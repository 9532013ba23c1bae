"""What each agent proposed in each epsilon stage: mean validation accuracy and mean
parameter count of the stage's designs, with bootstrap 95% intervals.

A stage is one ``(epsilon, episodes)`` of Q-learning's schedule; random search's
episodes are counted in the stage of the same episode numbers (it always walks at
epsilon 1). In one cell the interval is over the stage's episodes; over several seeds
(``across_seeds``) it is over the seeds' stage means, the seed being what a rerun
changes: the designs, the initialisations and the batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.stats import BOOTSTRAP_SAMPLES, CONFIDENCE

StageRow = dict[str, Any]


def mean_interval(values: Sequence[float], seed: int = 0) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and the bootstrap ``CONFIDENCE`` interval of the
    mean (``BOOTSTRAP_SAMPLES`` resamples with replacement); one value: its own interval."""
    sample = np.asarray(values, dtype=np.float64)
    if sample.size == 0:
        raise ValueError("a mean needs at least one value")
    means = np.random.default_rng(seed).choice(sample, (BOOTSTRAP_SAMPLES, sample.size))
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(means.mean(axis=1), [tail, 100 - tail])
    return float(sample.mean()), float(low), float(high)


def _stage_of(stages: Sequence[Sequence[float]]) -> list[tuple[int, float]]:
    """(stage index, epsilon) of each episode, in order."""
    return [(i, float(eps)) for i, (eps, count) in enumerate(stages) for _ in range(int(count))]


def _intervals(accuracies: list[float], params: list[float]) -> StageRow:
    """The mean accuracy and mean parameter count of a stage, each with its interval."""
    accuracy, size = mean_interval(accuracies), mean_interval(params)
    return {
        "mean_accuracy": accuracy[0],
        "accuracy_low": accuracy[1],
        "accuracy_high": accuracy[2],
        "mean_params": size[0],
        "params_low": size[1],
        "params_high": size[2],
    }


def _row(epsilon: float, rows: list[dict[str, Any]]) -> StageRow:
    return {
        "epsilon": epsilon,
        "first_episode": rows[0]["episode"],
        "last_episode": rows[-1]["episode"],
        "episodes": len(rows),
        **_intervals([row["accuracy"] for row in rows], [float(row["n_params"]) for row in rows]),
    }


def stage_summary(
    episodes: list[dict[str, Any]], stages: Sequence[Sequence[float]]
) -> dict[str, list[StageRow]]:
    """Per agent, a row per stage it reached (the last may be partial: a search stopped
    by its budget), in schedule order. ``episodes``: loop.py's episode rows;
    ``stages``: the schedule's ``(epsilon, episodes)`` pairs."""
    of_episode = _stage_of(stages)
    grouped: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in episodes:
        grouped[row["agent"]][of_episode[row["episode"] - 1][0]].append(row)
    return {
        agent: [_row(float(stages[i][0]), rows) for i, rows in sorted(by_stage.items())]
        for agent, by_stage in grouped.items()
    }


def across_seeds(summaries: list[dict[str, list[StageRow]]]) -> dict[str, list[StageRow]]:
    """Several seeds' ``stage_summary`` of one configuration as one: per agent and stage
    the mean over seeds of their stage means and its interval over seeds (``seeds``:
    how many reached the stage). One seed: its own rows, intervals over episodes."""
    if len(summaries) == 1:
        return {agent: [{**r, "seeds": 1} for r in rows] for agent, rows in summaries[0].items()}
    merged: dict[str, list[StageRow]] = {}
    for agent in dict.fromkeys(a for summary in summaries for a in summary):
        by_stage: dict[int, list[StageRow]] = defaultdict(list)
        for summary in summaries:
            for index, row in enumerate(summary.get(agent, [])):
                by_stage[index].append(row)
        merged[agent] = [_merge(rows) for _, rows in sorted(by_stage.items())]
    return merged


def _merge(rows: list[StageRow]) -> StageRow:
    return {
        **rows[0],
        "episodes": sum(row["episodes"] for row in rows),
        "seeds": len(rows),
        **_intervals([row["mean_accuracy"] for row in rows], [row["mean_params"] for row in rows]),
    }
