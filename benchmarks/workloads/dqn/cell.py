"""One DQN cell (``DQNRun``, an agent kind's run): the backend's agent plays loop.py,
resuming from and writing a checkpoint beside the cell's record. ``benchmarks.cell``
runs it as every cell (import, configure, build, run), with the same clock discipline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.progress import EpochReporter
from benchmarks.records import Cell
from benchmarks.schema import cell_of
from benchmarks.timing import steady_summary, throughput
from benchmarks.workloads.base import Outcome
from benchmarks.workloads.dqn.checkpoint import (
    BadCheckpoint,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from benchmarks.workloads.dqn.config import DQNConfig
from benchmarks.workloads.dqn.loop import DQNHistory, play
from benchmarks.workloads.kinds import AgentRun
from shared.params import Params
from shared.td import TDBatch
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
            "eval_every",
            "eval_episodes",
            "eval_epsilon",
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
    # this process's steps: a resumed run's game and sampling seconds are its own alone
    played, td_steps = history.agent_steps - history.first_step, len(history.td_seconds)
    acting = history.clock.steady_s("q_values")
    timing.update(
        td_steps=td_steps,
        act_median_s=_median(acting),
        act_count=len(acting),
        game_step_mean_s=history.game_seconds / played if played else None,
        replay_sample_mean_s=history.sample_seconds / td_steps if td_steps else None,
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
        "final_eval_mean": history.evaluations[-1]["mean_score"] if history.evaluations else None,
        "best_eval_mean": max((e["mean_score"] for e in history.evaluations), default=None),
        "play_wall_s": history.wall_offset_s + history.total_seconds,
    }


def _is_episode_row(row: Any) -> bool:
    return isinstance(row, dict) and isinstance(row.get("score"), int | float)


def _is_evaluation(row: Any) -> bool:
    return isinstance(row, dict) and isinstance(row.get("mean_score"), int | float)


def resume_state(
    path: Path, cell: Cell, config: DQNConfig
) -> tuple[Params, Params, int, list[dict[str, Any]], dict[str, Any]]:
    """``(online, target, agent_steps, episodes, meta)`` of the cell's checkpoint, to
    resume from (``meta``'s ``evaluations`` and ``wall_s`` continue the curves). Raises
    BadCheckpoint for a file that is damaged, holds another network or another cell's
    progress: resuming from it would report a run that never happened."""
    try:
        online, target, meta = load_checkpoint(path, config.network)
        trained = meta.get("cell")
        # cell_of: a checkpoint from before the thread count was part of the cell has none
        if not isinstance(trained, dict) or cell_of(trained) != cell:
            raise BadCheckpoint(f"{path} belongs to another cell: {meta.get('cell')!r}")
        steps, episodes = meta.get("agent_steps"), meta.get("episodes")
        if not (isinstance(steps, int) and 0 <= steps <= config.agent_steps):
            raise BadCheckpoint(f"{path} records {steps!r} agent steps of {config.agent_steps}")
        if not isinstance(episodes, list) or not all(_is_episode_row(e) for e in episodes):
            raise BadCheckpoint(f"{path} holds no episode log (rows with a score)")
        evaluations, wall = meta.get("evaluations", []), meta.get("wall_s", 0.0)
        if not isinstance(evaluations, list) or not all(_is_evaluation(e) for e in evaluations):
            raise BadCheckpoint(f"{path} holds damaged evaluation rows")
        if not (isinstance(wall, int | float) and wall >= 0):
            raise BadCheckpoint(f"{path} records {wall!r} seconds of play")
        frames = meta.get("emulator_frames", 0)
        if not (isinstance(frames, int) and frames >= 0):
            raise BadCheckpoint(f"{path} records {frames!r} emulator frames")
    except BadCheckpoint as error:
        raise BadCheckpoint(f"{error}; delete it to run the cell from its start") from None
    return online, target, steps, episodes, meta


def frames_played(meta: dict[str, Any]) -> int:
    """Emulator frames played up to the checkpoint of ``meta``. Checkpoints written before
    they recorded the count give the last one logged: an evaluation's (exact, evaluations
    run just before a checkpoint at the same step) or else an episode's end."""
    if "emulator_frames" in meta:
        return meta["emulator_frames"]
    rows = [*meta.get("episodes", []), *meta.get("evaluations", [])]
    counts = [row.get("frames") for row in rows]
    return max((int(n) for n in counts if isinstance(n, int | float) and n >= 0), default=0)


class DQNRun(AgentRun):
    """Train the cell's agent; resumes from the cell's checkpoint when one is there (a
    ``--resume`` of a run cut short) and leaves one beside the record."""

    def __init__(self, cell: Cell, config: DQNConfig, record_path: Path):
        super().__init__(cell, config)
        self.path = checkpoint_path(record_path)
        self.first_step, self.history = 0, DQNHistory()
        self.saved_at: int | None = None  # agent steps of the last checkpoint written

    def prepare(self, timing: dict[str, Any]) -> None:
        # Only presets with periodic checkpoints resume: without them the file holds the
        # final weights (for ``evaluate``), and a rerun of the cell (it failed or timed
        # out after writing them) resumed at its last step would record ok, timing nothing.
        if self.config.checkpoint_every and self.path.exists():
            online, target, self.first_step, episodes, meta = resume_state(
                self.path, self.cell, self.config
            )
            self.history.episodes = episodes
            self.history.evaluations = meta.get("evaluations", [])
            self.history.wall_offset_s = float(meta.get("wall_s", 0.0))
            self.history.frames_offset = frames_played(meta)
            restore(self.agent, online, target or online)

    def checkpoint(self, step: int, so_far: DQNHistory) -> None:
        meta = {
            "cell": self.cell.to_dict(),
            "agent_steps": step,
            "episodes": so_far.episodes,
            "evaluations": so_far.evaluations,
            "wall_s": so_far.wall_s(),
            "emulator_frames": so_far.emulator_frames,
        }
        # The target network only matters to a resumed run: presets without periodic
        # checkpoints keep the online weights alone (half the file, 7 MB in float32).
        target = self.agent.get_target_params() if self.config.checkpoint_every else {}
        save_checkpoint(self.path, self.agent.get_params(), target, meta)
        self.saved_at = step

    def run(self, progress: Path | None, timing: dict[str, Any]) -> None:
        reporter = EpochReporter(progress, self.config.agent_steps)
        self.history = play(
            self.agent,
            self.config,
            self.cell.seed,
            first_step=self.first_step,
            history=self.history,
            on_step=lambda step: reporter(step, 0.0),
            checkpoint=self.checkpoint,
            keep_batches=TD_PARITY_STEPS if self.cell.seed == 0 else 0,
        )
        if self.saved_at != self.history.agent_steps:  # the last periodic one may be it
            self.checkpoint(self.history.agent_steps, self.history)

    def outcome(self, timing: dict[str, Any]) -> Outcome:
        history = self.history
        timing.update(dqn_timing(history, self.config))
        fields: dict[str, Any] = {
            "timing": timing,
            "epochs": history.td_rows(),
            "episodes": history.episodes,
            "evaluations": history.evaluations,
            "metrics": dqn_metrics(history),
            "config": config_summary(self.config),
            "checkpoint": self.path.name,
            "resumed_from_step": self.first_step or None,
        }
        if history.diverged_at_step is not None:
            reason = f"TD loss not finite at agent step {history.diverged_at_step}"
            return Outcome("diverged", reason, fields)
        return Outcome("ok", "", fields)

    def parity_batches(self) -> list[TDBatch]:
        return self.history.final_batches
