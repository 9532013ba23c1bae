"""``python -m benchmarks evaluate``: a checkpoint's online network plays whole episodes
on any backend (the canonical layout makes every checkpoint load everywhere)."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.dqn import evaluate
from shared import registry
from shared.params import Params, cast_params
from shared.workloads import get_workload


def evaluate_checkpoint(
    online: Params,
    trained: dict[str, Any],
    backend: str,
    mode: str,
    dtype: str,
    episodes: int,
    epsilon: float | None,
    seed: int,
    threads: int,
) -> dict[str, Any]:
    """Score mean and spread of ``episodes`` episodes; prints one line per episode.

    ``trained`` is the checkpoint's cell (its workload, variant and preset give the game
    and the network)."""
    config = get_workload(trained["workload"]).dqn_config(trained["variant"], trained["preset"])
    epsilon = config.eval_epsilon if epsilon is None else epsilon
    module = registry.load(backend)
    module.configure(threads, seed)
    agent = module.build_agent(
        config.network,
        cast_params(online, dtype),
        config.loss,
        config.optimizer,
        dtype,
        mode,
        config.td,
    )
    print(
        f"evaluating {trained['backend']}:{trained['mode']}'s checkpoint on {backend}:{mode} "
        f"{dtype}: {episodes} episodes, epsilon {epsilon}, seed {seed}",
        flush=True,
    )
    results = evaluate(agent, config, episodes, epsilon, seed)
    for index, result in enumerate(results, start=1):
        print(
            f"  episode {index}: score {result['score']:g} ({result['agent_steps']} agent steps, "
            f"{result['frames']} frames)",
            flush=True,
        )
    scores = np.array([r["score"] for r in results])
    summary = {
        "trained": trained,
        "backend": backend,
        "mode": mode,
        "dtype": dtype,
        "epsilon": epsilon,
        "seed": seed,
        "episodes": results,
        "score_mean": float(scores.mean()),
        "score_std": float(scores.std(ddof=1)) if len(scores) > 1 else 0.0,
        "score_min": float(scores.min()),
        "score_max": float(scores.max()),
    }
    print(
        f"score {summary['score_mean']:.1f} +- {summary['score_std']:.1f} "
        f"(min {summary['score_min']:g}, max {summary['score_max']:g})"
    )
    return summary
