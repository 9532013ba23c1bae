"""One DQN cell in this (fresh) process: build the backend's agent, run loop.py,
write the record and a checkpoint beside it. ``benchmarks.cell`` calls ``run_dqn_cell``
for workloads whose ``driver`` is ``"dqn"``; the order (import, configure, build, run) and
the clock discipline are the same as for the supervised cells.
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
from benchmarks.timing import steady_summary, throughput
from benchmarks.workloads import get_workload
from benchmarks.workloads.dqn.loop import (
    BadCheckpoint,
    DQNHistory,
    load_checkpoint,
    play,
    restore,
    save_checkpoint,
)
from benchmarks.workloads.dqn.workload import DQNConfig
from shared.params import Params, cast_params, init_params
from shared.protocol import AgentSpec, NotSupported
from shared.tolerances import TD_PARITY_STEPS


def checkpoint_path(record_path: Path) -> Path:
    """``<cell>.ckpt.npz`` beside the cell's ``<cell>.json`` record."""
    return record_path.with_name(record_path.name.removesuffix(".json") + ".ckpt.npz")


def config_summary(config: DQNConfig) -> dict[str, Any]:
    summary = {
        name: getattr(config, name)
        for name in (
            "agent_steps",
            "random_steps",
            "epsilon_start",
            "epsilon_end",
            "epsilon_steps",
            "memory",
            "batch_size",
            "train_every",
            "target_every",
            "checkpoint_every",
        )
    }
    summary.update(
        n_params=config.network.n_params,
        network=repr(config.network),
        optimizer=repr(config.optimizer),
        loss=repr(config.loss),
        td=repr(config.td),
        init=repr(config.init),
        atari=repr(config.atari),
        td_step_flops=config.td_step_flops(),
    )
    return summary


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def dqn_timing(history: DQNHistory, config: DQNConfig) -> dict[str, Any]:
    """The TD steps as the supervised cells' epochs (first apart, then the steady ones),
    their GFLOP/s, and the shares of acting, the game and the replay memory. The first
    call of each agent function is its own field (``first_q_values_s``,
    ``first_td_step_s``, ``first_sync_target_s``) and in no other figure."""
    timing: dict[str, Any] = steady_summary(history.td_seconds, 1)
    timing.update(
        throughput(config.td_step_flops(), 1, timing.get("steady_median_s"), config.batch_size)
    )
    timing.update(history.clock.first_fields())
    steps = max(history.agent_steps, 1)
    acting = history.clock.steady_s("q_values")
    timing.update(
        td_steps=len(history.td_seconds),
        act_median_s=_median(acting),
        act_count=len(acting),
        game_step_mean_s=history.game_seconds / steps,
        replay_sample_mean_s=history.sample_seconds / max(len(history.td_seconds), 1),
        play_total_s=history.total_seconds,
        learning_agent_steps=history.learning_steps,
        learning_s=history.learning_seconds,
        learning_first_calls_s=history.learning_first_calls_s,
    )
    timing["agent_steps_per_s"] = steady_agent_steps_per_s(timing)
    return timing


def steady_agent_steps_per_s(timing: dict[str, Any]) -> float | None:
    """Agent steps per second with learning on, the first call of each agent function
    in that time (tracing and compiling: 60 s for a TD step under torch.compile) left out
    like every first epoch. The report computes it from the same fields, for records of
    any age: those without ``learning_first_calls_s`` kept only the first TD step apart."""
    steps, seconds = timing.get("learning_agent_steps"), timing.get("learning_s")
    if not steps or not seconds:
        return None
    first_calls = timing.get("learning_first_calls_s")
    if first_calls is None:
        first_calls = timing.get("first_epoch_s") or 0.0
    return steps / (seconds - first_calls)


def dqn_metrics(history: DQNHistory) -> dict[str, Any]:
    episodes = history.episodes
    last = episodes[-1] if episodes else {}
    return {
        "episodes": len(episodes),
        "agent_steps": history.agent_steps,
        "emulator_frames": history.emulator_frames,
        "final_running_mean": last.get("running_mean"),
        "final_running_max": last.get("running_max"),
        "best_running_mean": max((e["running_mean"] for e in episodes), default=None),
        "best_score": max((e["score"] for e in episodes), default=None),
        "final_loss": float(np.mean(history.td_losses[-100:])) if history.td_losses else None,
        "replay_bytes_per_transition": history.replay_bytes_per_transition,
        "replay_capacity": history.replay_capacity,
    }


def parity_summary(
    backend: ModuleType,
    backend_module: str,
    config: DQNConfig,
    history: DQNHistory,
    params: Params,
    cell: Cell,
) -> dict[str, Any]:
    """The cell's TD steps against the NumPy agent from its start (benchmarks.parity_check);
    a float32 check that fails is re-checked in float64 and at equal weights beside it,
    as for the other cells (benchmarks.cell.parity_summary)."""
    from benchmarks.parity_check import (
        REFERENCE_MODULE,
        check_agent_against_reference,
        check_agent_gradients_at_reference,
    )

    if backend_module == REFERENCE_MODULE:
        return {"reference": True}
    if not history.final_batches:
        return {"error": "the replay memory held too few transitions to sample from"}

    def check(dtype: str, how=check_agent_against_reference) -> dict[str, Any]:
        try:
            return how(
                backend, config, history.final_batches, cast_params(params, dtype), dtype, cell.mode
            )
        except Exception as error:
            return {"error": f"{type(error).__name__}: {error}"}

    summary = check(cell.dtype)
    if not summary.get("within_tolerance", True) and cell.dtype == "float32":
        summary["float64"] = check("float64")
        summary["float32_gradients"] = check("float32", check_agent_gradients_at_reference)
    return summary


def _is_episode_row(row: Any) -> bool:
    return isinstance(row, dict) and isinstance(row.get("score"), int | float)


def resume_state(
    path: Path, cell: Cell, config: DQNConfig
) -> tuple[Params, Params, int, list[dict[str, Any]]]:
    """``(online, target, agent_steps, episodes)`` of the cell's checkpoint, to resume
    from. Raises BadCheckpoint for a file that is damaged, holds another network or
    another cell's progress: resuming from it would report a run that never happened."""
    try:
        online, target, meta = load_checkpoint(path, config.network)
        if meta.get("cell") != cell.to_dict():
            raise BadCheckpoint(f"{path} belongs to another cell: {meta.get('cell')!r}")
        steps, episodes = meta.get("agent_steps"), meta.get("episodes")
        if not (isinstance(steps, int) and 0 <= steps <= config.agent_steps):
            raise BadCheckpoint(f"{path} records {steps!r} agent steps of {config.agent_steps}")
        if not isinstance(episodes, list) or not all(_is_episode_row(e) for e in episodes):
            raise BadCheckpoint(f"{path} holds no episode log (rows with a score)")
    except BadCheckpoint as error:
        raise BadCheckpoint(f"{error}; delete it to run the cell from its start") from None
    return online, target, steps, episodes


def run_dqn_cell(
    cell: Cell,
    threads: int,
    backend_module: str,
    record_path: Path,
    progress: Path | None = None,
) -> dict[str, Any]:
    """Train the cell's agent and return its record; resumes from the cell's checkpoint
    when one is there (a ``--resume`` of a run cut short)."""
    config = get_workload(cell.workload).dqn_config(cell.variant, cell.preset)
    backend, import_s = load_backend(backend_module, threads, cell.seed)
    timing: dict[str, Any] = {"import_s": import_s}

    params = init_params(config.network, config.init, cell.seed, cell.dtype)
    start = time.perf_counter()
    try:
        agent = backend.build_agent(
            AgentSpec(
                config.network,
                params,
                config.loss,
                config.optimizer,
                cell.dtype,
                cell.mode,
                config.td,
            )
        )
    except NotSupported as error:
        return new_record(
            cell, "skipped", f"not applicable: {error}", environment=cell_environment(threads)
        )
    timing["build_s"] = time.perf_counter() - start

    path = checkpoint_path(record_path)
    first_step, history = 0, DQNHistory()
    if path.exists():
        online, target, first_step, history.episodes = resume_state(path, cell, config)
        restore(agent, online, target or online)

    def checkpoint(step: int, so_far: DQNHistory) -> None:
        meta = {"cell": cell.to_dict(), "agent_steps": step, "episodes": so_far.episodes}
        # The target network only matters to a resumed run: presets without periodic
        # checkpoints keep the online weights alone (half the file, 7 MB in float32).
        target = agent.get_target_params() if config.checkpoint_every else {}
        save_checkpoint(path, agent.get_params(), target, meta)

    reporter = EpochReporter(progress, config.agent_steps)
    history = play(
        agent,
        config,
        cell.seed,
        first_step=first_step,
        history=history,
        on_step=lambda step: reporter(step, 0.0),
        checkpoint=checkpoint,
        keep_batches=TD_PARITY_STEPS if cell.seed == 0 else 0,
    )
    checkpoint(history.agent_steps, history)
    timing.update(dqn_timing(history, config))
    fields: dict[str, Any] = {
        "timing": timing,
        "epochs": history.td_rows(),
        "episodes": history.episodes,
        "metrics": dqn_metrics(history),
        "config": config_summary(config),
        "checkpoint": path.name,
        "resumed_from_step": first_step or None,
        "environment": cell_environment(threads),
    }
    if cell.seed == 0:  # once per configuration, after everything timed
        fields["parity"] = parity_summary(backend, backend_module, config, history, params, cell)
    if history.diverged_at_step is not None:
        step = history.diverged_at_step
        return new_record(cell, "diverged", f"TD loss not finite at agent step {step}", **fields)
    return new_record(cell, "ok", **fields)
