"""The architecture-search loop, written once for every backend (workload.py).

The agents take turns, one episode each: an agent proposes a design, the design is
trained by the backend unless the cell's cache already holds it, and the agent learns
from its reward. Every candidate is built, trained and evaluated through the same Model
protocol as any supervised cell (``build_model``, ``prepare``, ``train_epoch``,
``predict``), and the harness times each part apart, with the GC off. A candidate's
first epoch and first evaluation (tracing and compiling) are kept apart from its steady
ones: the validation set is predicted twice, and the second pass is the steady figure.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.drivers import build_model, prepare_batches, train
from benchmarks.memory import current_rss_mb
from benchmarks.timing import CallClock
from benchmarks.workloads.base import EpochData
from benchmarks.workloads.search.config import AGENTS, SearchConfig
from benchmarks.workloads.search.digits import DigitsData, accuracy
from benchmarks.workloads.search.metaqnn import QLearning, RandomSearch
from benchmarks.workloads.search.space import Design, design_key
from shared.params import init_params, rng_for
from shared.specs import layer_kind

# Each agent draws from a generator of its own (seed streams after shared.params's).
AGENT_STREAMS = {name: 10 + index for index, name in enumerate(AGENTS)}
# The fields of an episode row (_Cell.episode) and of a candidate row (train_candidate's,
# plus its order, proposer and RSS), which a resumed search's save must hold
# (persist.py); tests/test_search_resume.py checks them against a search's rows.
EPISODE_FIELDS = frozenset(
    ("agent", "episode", "epsilon", "key", "accuracy", "n_params", "reward", "cached")
)
CANDIDATE_FIELDS = frozenset(
    (
        *("key", "layers", "depth", "n_params", "accuracy", "final_loss", "diverged"),
        *("build_s", "prepare_s", "first_epoch_s", "later_epochs_s", "steady_epoch_median_s"),
        *("first_eval_s", "steady_eval_s", "epoch_losses", "train_flops_per_step"),
        *("order", "proposed_by", "rss_mb"),
    )
)


@dataclass
class SearchHistory:
    """``candidates``: key -> the candidate's row (``train_candidate``), in training
    order; ``episodes``: one row per episode of every agent, in order."""

    candidates: dict[str, dict[str, Any]] = field(default_factory=dict)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    stopped_after: int | None = None  # episodes per agent, when the budget ran out
    resumed_from: int | None = None  # episodes per agent a save held, when resumed from one
    wall_offset_s: float = 0.0  # seconds of search before this process (a resumed cell)

    @property
    def episodes_done(self) -> int:
        """Episodes per agent so far (every agent has done as many: they take turns)."""
        return self.episodes[-1]["episode"] if self.episodes else 0


def layer_rows(design: Design) -> list[dict[str, Any]]:
    """The design's layers as JSON-safe dicts: ``{"kind": "conv2d", "filters": 8, ...}``."""
    return [{"kind": layer_kind(layer), **vars(layer)} for layer in design]


def train_candidate(
    backend: ModuleType,
    config: SearchConfig,
    design: Design,
    data: EpochData,
    validation: DigitsData,
    dtype: str,
    mode: str,
    seed: int,
) -> dict[str, Any]:
    """Build, train and evaluate one design; its row, timings in seconds."""
    network = config.space.to_network(design)
    training = config.training_config(network, steps_per_epoch=data.xs.shape[1])
    params = init_params(network, config.init, seed, dtype)
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        model = build_model(backend, training, params, dtype, mode)
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        batches = prepare_batches(model, training, data)
        prepare_s = time.perf_counter() - start
    finally:
        gc.enable()
    history = train(model, training, batches)  # times each epoch, GC off
    val_x, evaluation = validation.val_x.astype(dtype), CallClock()
    gc.disable()
    try:
        logits = evaluation.call("predict", model.predict, val_x)
        evaluation.call("predict", model.predict, val_x)  # the steady pass, compiled
    finally:
        gc.enable()
    seconds = history.seconds
    return {
        "key": design_key(design),
        "layers": layer_rows(design),
        "depth": len(design),
        "n_params": network.n_params,
        "accuracy": accuracy(logits, validation.val_labels),
        "final_loss": history.losses[-1] if history.diverged_at is None else None,
        "diverged": history.diverged_at is not None,
        "build_s": build_s,
        "prepare_s": prepare_s,
        "first_epoch_s": seconds[0],
        "later_epochs_s": float(np.sum(seconds[1:])),
        "steady_epoch_median_s": float(np.median(seconds[1:])) if len(seconds) > 1 else None,
        "first_eval_s": evaluation.first_s("predict"),
        "steady_eval_s": evaluation.steady_s("predict")[0],
        "epoch_losses": history.rows(),
        "train_flops_per_step": network.train_step_flops(config.batch_size),
    }


def make_agent(name: str, config: SearchConfig, seed: int) -> QLearning | RandomSearch:
    rng = rng_for(seed, AGENT_STREAMS[name])
    if name == "random":
        return RandomSearch(config.space, rng)
    return QLearning(config.space, rng, config.qlearning)


@dataclass
class _Cell:
    """What every episode of a cell's search shares: the backend, the data, the cache."""

    backend: ModuleType
    config: SearchConfig
    data: EpochData
    validation: DigitsData
    dtype: str
    mode: str
    seed: int
    history: SearchHistory

    def candidate(self, design: Design, proposed_by: str) -> tuple[dict[str, Any], bool]:
        """The design's row, trained now unless the cache holds it; and whether it did."""
        key = design_key(design)
        cached = key in self.history.candidates
        if not cached:
            row = train_candidate(
                self.backend,
                self.config,
                design,
                self.data,
                self.validation,
                self.dtype,
                self.mode,
                self.seed,
            )
            # rss_mb: the process's RSS (MiB) once the candidate is trained and evaluated
            row.update(
                order=len(self.history.candidates), proposed_by=proposed_by, rss_mb=current_rss_mb()
            )
            self.history.candidates[key] = row
        return self.history.candidates[key], cached

    def episode(self, name: str, agent: QLearning | RandomSearch, episode: int, epsilon: float):
        """One episode of agent ``name``: propose, train unless cached, learn, log."""
        epsilon = 1.0 if name == "random" else epsilon  # random search: the epsilon-1 walk
        design = agent.propose(epsilon)
        candidate, cached = self.candidate(design, name)
        reward = self.config.reward(name, candidate["accuracy"], candidate["n_params"])
        agent.learn(design, reward)
        self.history.episodes.append(
            {
                "agent": name,
                "episode": episode,
                "epsilon": epsilon,
                "key": candidate["key"],
                "accuracy": candidate["accuracy"],
                "n_params": candidate["n_params"],
                "reward": reward,
                "cached": cached,
            }
        )


Agents = dict[str, QLearning | RandomSearch]
# Called with (episodes per agent done, the agents, wall seconds of the search so far).
OnSave = Callable[[int, Agents, float], None]


def run_search(
    backend: ModuleType,
    config: SearchConfig,
    data: EpochData,
    validation: DigitsData,
    dtype: str,
    mode: str,
    seed: int,
    on_episode: Callable[[int], None] | None = None,
    resume: tuple[SearchHistory, Agents] | None = None,
    on_save: OnSave | None = None,
) -> SearchHistory:
    """The agents' episodes on one cache of candidates, taking turns (episode 1 of each
    agent, then episode 2, ...), so that a search stopped by ``config.budget_s`` has
    spent it on every agent alike; ``on_episode`` gets the count of episodes done.

    ``resume``: a saved history and its agents (persist.py), continued from its episode
    count. ``on_save`` is called every ``config.checkpoint_every`` episodes per agent and
    once at the end (not when the budget stopped the search: its save stays resumable)."""
    history, agents = resume or (SearchHistory(), {})
    agents = agents or {name: make_agent(name, config, seed) for name in config.agents}
    cell = _Cell(backend, config, data, validation, dtype, mode, seed, history)
    start = time.perf_counter()
    first = history.episodes_done
    # Every object alive now (frameworks, data) moves out of the collector's reach: the
    # full collection before each candidate then scans only what candidates made.
    gc.collect()
    gc.freeze()
    try:
        for episode, epsilon in enumerate(config.schedule.epsilons()[first:], start=first + 1):
            if config.budget_s is not None and time.perf_counter() - start > config.budget_s:
                history.stopped_after = episode - 1
                break
            for name, agent in agents.items():
                cell.episode(name, agent, episode, epsilon)
                if on_episode is not None:
                    on_episode(len(history.episodes))
            every = config.checkpoint_every
            if on_save is not None and every and episode % every == 0:
                on_save(episode, agents, history.wall_offset_s + time.perf_counter() - start)
        if on_save is not None and history.stopped_after is None:
            on_save(
                history.episodes_done, agents, history.wall_offset_s + time.perf_counter() - start
            )
    finally:
        gc.unfreeze()
    return history


def best_by_agent(history: SearchHistory) -> dict[str, dict[str, Any]]:
    """Per agent, the most accurate design it proposed (the first on ties) and the one
    of highest reward."""
    best: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(row["agent"] for row in history.episodes):
        rows = [row for row in history.episodes if row["agent"] == name]
        top = max(rows, key=lambda row: row["accuracy"])
        top_reward = max(rows, key=lambda row: row["reward"])
        last = rows[len(rows) * 3 // 4 :]
        best[name] = {
            "best_accuracy": top["accuracy"],
            "best_key": top["key"],
            "best_n_params": top["n_params"],
            "best_episode": top["episode"],
            "best_reward": top_reward["reward"],
            "best_reward_key": top_reward["key"],
            "last_quarter_mean_accuracy": float(np.mean([row["accuracy"] for row in last])),
            "last_quarter_mean_params": float(np.mean([row["n_params"] for row in last])),
            "mean_params": float(np.mean([row["n_params"] for row in rows])),
            "distinct_designs": len({row["key"] for row in rows}),
            "episodes": len(rows),
        }
    return best
