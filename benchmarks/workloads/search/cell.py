"""One architecture-search cell in this (fresh) process: run loop.py with
the cell's backend and return its record. ``benchmarks.cell`` calls ``run_search_cell``
for workloads whose ``driver`` is ``"search"``.

The record keeps every trained candidate (``candidates``: design, parameters,
accuracy, and its build, prepare, first-epoch, later-epochs, first-evaluation and
steady-evaluation seconds) and every episode of every agent (``search_episodes``);
``timing`` holds the per-candidate means, ``metrics`` the best design per agent.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.cell import cell_environment, load_backend
from benchmarks.progress import EpochReporter
from benchmarks.records import Cell, new_record
from benchmarks.workloads import EpochData, get_workload
from benchmarks.workloads.search.digits import split_digits
from benchmarks.workloads.search.loop import SearchHistory, best_by_agent, run_search
from benchmarks.workloads.search.space import design_from_key
from benchmarks.workloads.search.workload import SearchConfig
from shared.params import cast_params, init_params
from shared.protocol import NotSupported

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


def parity_summary(
    backend: ModuleType,
    backend_module: str,
    config: SearchConfig,
    history: SearchHistory,
    data: EpochData,
    cell: Cell,
) -> dict[str, Any]:
    """The first steps of the first trained candidate with a convolution (else the first
    candidate) against the NumPy reference: the same check as a supervised cell's, on a
    network every backend of the seed trains; re-checked as a supervised cell's."""
    from benchmarks.parity_check import (
        REFERENCE_MODULE,
        check_against_reference,
        check_gradients_at_reference,
    )

    if backend_module == REFERENCE_MODULE:
        return {"reference": True}
    rows = history.candidates.values()
    row = next((r for r in rows if any(layer["kind"] == "conv2d" for layer in r["layers"])), None)
    key = (row or next(iter(rows)))["key"]
    network = config.space.to_network(design_from_key(key))
    training = config.training_config(network, steps_per_epoch=data.xs.shape[1])

    def check(dtype: str, how=check_against_reference) -> dict[str, Any]:
        params = cast_params(init_params(network, config.init, cell.seed), dtype)
        try:
            return how(backend, training, data, params, dtype, cell.mode)
        except Exception as error:
            return {"error": f"{type(error).__name__}: {error}"}

    summary = {"candidate": key, **check(cell.dtype)}
    if not summary.get("within_tolerance", True) and cell.dtype == "float32":
        summary["float64"] = check("float64")
        summary["float32_gradients"] = check("float32", check_gradients_at_reference)
    return summary


def run_search_cell(
    cell: Cell, threads: int, backend_module: str, progress: Path | None = None
) -> dict[str, Any]:
    workload = get_workload(cell.workload)
    config = workload.search_config(cell.variant, cell.preset)
    backend, import_s = load_backend(backend_module, threads, cell.seed)
    timing: dict[str, Any] = {"import_s": import_s}

    data = workload.training_data(cell.variant, cell.preset, cell.seed)
    validation = split_digits(config.split, cell.seed)
    reporter = EpochReporter(progress, config.schedule.episodes * len(config.agents))
    start = time.perf_counter()
    try:
        history = run_search(
            backend,
            config,
            data,
            validation,
            cell.dtype,
            cell.mode,
            cell.seed,
            on_episode=lambda done: reporter(done, 0.0),
        )
    except NotSupported as error:
        return new_record(
            cell, "skipped", f"not applicable: {error}", environment=cell_environment(threads)
        )
    timing["search_total_s"] = time.perf_counter() - start
    timing.update(search_timing(history))
    best = best_by_agent(history)
    fields: dict[str, Any] = {
        "timing": timing,
        "candidates": list(history.candidates.values()),
        "search_episodes": history.episodes,
        "metrics": search_metrics(history, best),
        "best": best,
        "config": config_summary(config, data),
        "environment": cell_environment(threads),
    }
    if cell.seed == 0:  # once per configuration, after everything timed
        fields["parity"] = parity_summary(backend, backend_module, config, history, data, cell)
    reason = ""
    if history.stopped_after is not None:
        reason = (
            f"search budget of {config.budget_s:g} s spent after {history.stopped_after} of "
            f"{config.schedule.episodes} episodes per agent"
        )
    return new_record(cell, "ok", reason, **fields)
