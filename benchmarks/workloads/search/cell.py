"""One architecture-search cell (``SearchRun``, a many-models kind's run): loop.py
with the cell's backend, run by ``benchmarks.cell`` as every cell.

The record keeps every trained candidate (``candidates``: design, parameters,
accuracy, and its build, prepare, first-epoch, later-epochs, first-evaluation and
steady-evaluation seconds) and every episode of every agent (``search_episodes``);
``timing`` holds the per-candidate means, ``metrics`` the best design per agent, and
``stages`` the mean accuracy and size of each agent's designs per epsilon stage.

A preset with ``checkpoint_every`` saves the search beside the record (persist.py) and
resumes from that save when the cell starts again (``--resume`` of a run cut short):
``resumed_from_episode`` says so, ``search_total_s`` then counts every process's
seconds and ``search_this_process_s`` this one's; the candidates' own seconds were each
measured once, in whichever process trained them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.progress import EpochReporter
from benchmarks.records import Cell
from benchmarks.workloads.base import EpochData, Outcome, TrainingConfig
from benchmarks.workloads.kinds import MultiModelRun
from benchmarks.workloads.search.config import SearchConfig
from benchmarks.workloads.search.digits import split_digits
from benchmarks.workloads.search.loop import Agents, SearchHistory, best_by_agent, run_search
from benchmarks.workloads.search.persist import Resume, load_search, save_path, save_search
from benchmarks.workloads.search.space import design_from_key
from benchmarks.workloads.search.stages import stage_summary

if TYPE_CHECKING:
    from types import ModuleType

    from benchmarks.workloads.search.workload import Search

# What a candidate costs the search, in the order it runs (the steady evaluation, a
# second pass for the record, is no part of it).
PHASES = ("build_s", "prepare_s", "first_epoch_s", "later_epochs_s", "first_eval_s")


def config_summary(config: SearchConfig, data: EpochData) -> dict[str, Any]:
    return {
        "space": repr(config.space),
        "split": repr(config.split),
        "schedule": [list(stage) for stage in config.schedule.stages],
        "episodes_per_agent": config.schedule.episodes,
        "qlearning": repr(config.qlearning),
        "penalty_beta": config.penalty_beta,
        "penalty_delta": config.penalty_delta,
        "budget_s": config.budget_s,
        "checkpoint_every": config.checkpoint_every,
        "agents": list(config.agents),
        "init": repr(config.init),
        "loss": repr(config.loss),
        "optimizer": repr(config.optimizer),
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "steps_per_epoch": int(data.xs.shape[1]),
        "train_examples": int(data.xs.shape[1] * data.xs.shape[2]),
    }


def search_timing(history: SearchHistory) -> dict[str, Any]:
    """Per-candidate means (and totals) of each phase, over the candidates trained, and
    the medians of their steady epochs and steady evaluations (first calls left out)."""
    rows = list(history.candidates.values())
    timing: dict[str, Any] = {"candidates": len(rows)}
    for phase in PHASES:
        values = [row[phase] for row in rows]
        timing[f"mean_{phase}"] = float(np.mean(values)) if values else None
        timing[f"total_{phase}"] = float(np.sum(values))
    steady = [row["steady_epoch_median_s"] for row in rows if row["steady_epoch_median_s"]]
    timing["median_steady_epoch_s"] = float(np.median(steady)) if steady else None
    evaluations = [row["steady_eval_s"] for row in rows]
    timing["median_steady_eval_s"] = float(np.median(evaluations)) if evaluations else None
    timing["mean_candidate_s"] = (
        sum(timing[f"total_{phase}"] for phase in PHASES) / len(rows) if rows else None
    )
    return timing


def search_metrics(history: SearchHistory, best: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Counts of the search, and ``best`` (``best_by_agent``) field by field, agent -> value."""
    metrics: dict[str, Any] = {
        "complete": history.stopped_after is None,
        "episodes_per_agent_done": max((row["episode"] for row in history.episodes), default=0),
        "candidates_trained": len(history.candidates),
        "episodes": len(history.episodes),
        "cache_hits": sum(row["cached"] for row in history.episodes),
        "diverged_candidates": sum(row["diverged"] for row in history.candidates.values()),
    }
    for field in (
        "best_accuracy",
        "best_n_params",
        "best_key",
        "last_quarter_mean_accuracy",
        "last_quarter_mean_params",
    ):
        metrics[field] = {agent: summary[field] for agent, summary in best.items()}
    return metrics


class SearchRun(MultiModelRun):
    """The search of one cell: its data after the backend's import, then the search
    (``search_total_s``); the parity check trains its first convolutional candidate."""

    def __init__(self, workload: Search, cell: Cell, record_path: Path | None = None):
        super().__init__(cell)
        self.workload = workload
        self.config = workload.search_config(cell.variant, cell.preset)
        saves = record_path is not None and self.config.checkpoint_every > 0
        self.save_path = save_path(record_path) if record_path is not None and saves else None
        self.resume: Resume | None = None

    def prepare(self, timing: dict[str, Any]) -> None:
        """Load the cell's save when there is one (BadSave, naming it, if unusable)."""
        if self.save_path is not None and self.save_path.exists():
            self.resume = load_search(self.save_path, self.cell, self.config)

    def save(self, episodes: int, agents: Agents, wall_s: float) -> None:
        assert self.save_path is not None  # run() passes this only when there is one
        save_search(self.save_path, self.cell, self.config, self.history, agents, episodes, wall_s)

    def build(self, backend: ModuleType, timing: dict[str, Any]) -> None:
        cell = self.cell
        self.backend = backend
        self.data = self.workload.training_data(cell.variant, cell.preset, cell.seed)
        self.validation = split_digits(self.config.split, cell.seed)

    def run(self, progress: Path | None, timing: dict[str, Any]) -> None:
        config, cell = self.config, self.cell
        reporter = EpochReporter(progress, config.schedule.episodes * len(config.agents))
        # The loop fills this history, which the saves read as it grows.
        resume = (self.resume.history, self.resume.agents) if self.resume else (SearchHistory(), {})
        self.history = resume[0]
        start = time.perf_counter()
        self.history = run_search(
            self.backend,
            config,
            self.data,
            self.validation,
            cell.dtype,
            cell.mode,
            cell.seed,
            on_episode=lambda done: reporter(done, 0.0),
            resume=resume,
            on_save=self.save if self.save_path is not None else None,
        )
        timing["search_this_process_s"] = time.perf_counter() - start
        timing["search_total_s"] = self.history.wall_offset_s + timing["search_this_process_s"]

    def outcome(self, timing: dict[str, Any]) -> Outcome:
        config, history = self.config, self.history
        timing.update(search_timing(history))
        best = best_by_agent(history)
        fields: dict[str, Any] = {
            "timing": timing,
            "candidates": list(history.candidates.values()),
            "search_episodes": history.episodes,
            "metrics": search_metrics(history, best),
            "best": best,
            "config": config_summary(config, self.data),
            "stages": stage_summary(history.episodes, config.schedule.stages),
            "resumed_from_episode": history.resumed_from,
            "checkpoint": self.save_path.name if self.save_path else None,
        }
        reason = ""
        if history.stopped_after is not None:
            reason = (
                f"search budget of {config.budget_s:g} s spent after {history.stopped_after} "
                f"of {config.schedule.episodes} episodes per agent"
            )
        return Outcome("ok", reason, fields)

    def parity_candidate(self) -> tuple[str, TrainingConfig, EpochData]:
        """The first trained candidate with a convolution (else the first candidate): a
        network every backend of the seed trains."""
        rows = self.history.candidates.values()
        convolutional = (r for r in rows if any(ly["kind"] == "conv2d" for ly in r["layers"]))
        key = (next(convolutional, None) or next(iter(rows)))["key"]
        network = self.config.space.to_network(design_from_key(key))
        training = self.config.training_config(network, steps_per_epoch=self.data.xs.shape[1])
        return key, training, self.data
