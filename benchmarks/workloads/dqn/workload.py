"""DQN on Atari Space Invaders (reference.md section 3), framework-free.

The Nature-style Q-network on 4 stacked 84x84 grayscale frames, Huber loss, Adam with
global-norm clipping, a frame-by-frame replay memory (replay.py), a target
network synced every ``target_every`` agent steps, one TD step (shared/td.py) every
``train_every`` agent steps, epsilon-greedy acting with epsilon decaying linearly, and
rewards clipped to [-1, 1] for learning while the raw game score is reported. The loop
itself is loop.py; a backend supplies the agent (shared.protocol.QAgent).

Presets (all counts in agent steps; the emulator runs 4 frames per agent step):
- ``smoke``: 300 steps, 100 random first, a 500-step memory, episodes cut at 400
  emulator frames (so that a few end), a checkpoint every 100 steps (the resume test's):
  for tests, seconds.
- ``brief`` (the bench default): 2,000 steps, 500 random first, then 375 TD steps with
  learning on: agent steps per second and the TD step's time, under a minute per backend.
- ``quick``: 5,000 steps, 1,000 random first, then 1,000 TD steps
  at batch 32 with learning on: a steady training-step time and agent steps per
  second, a few minutes per backend. Far too short to learn the game.
- ``full``: the source's settings, 10,000,000 agent steps (the source called them
  frames), 50,000 random first, epsilon 1 -> 0.1 over 1,000,000, a memory of
  1,000,000 (7.1 GB), target sync every 10,000, a TD step every 4; a checkpoint every
  250,000 steps, from which ``--resume`` continues. Days on a CPU; meant for a GPU.
- ``learn`` (a long run, never in the default run): 250,000 agent steps (1 M emulator
  frames), 20,000 random first, epsilon 1 -> 0.1 over the next 62,500, every transition
  kept (1.8 GB), target sync every 5,000, a checkpoint and 5 evaluation episodes at
  epsilon 0.05 every 25,000 (``evaluations`` in the record): where a 2-core CPU sees the
  agent learn the game, about 1.5 h at 1 thread for PyTorch.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.document import Block
from benchmarks.records import Cell
from benchmarks.report.answer import SourceFigure
from benchmarks.report.context import ReportContext
from benchmarks.workloads.base import Preset, preset_named
from benchmarks.workloads.dqn.atari import AtariSpec
from benchmarks.workloads.dqn.cell import DQNRun
from benchmarks.workloads.dqn.charts import score_sections
from benchmarks.workloads.dqn.config import REWARD_CLIP, DQNConfig, nature_q_network
from benchmarks.workloads.dqn.evaluate import add_evaluate_command
from benchmarks.workloads.dqn.peer import add_peer_command
from benchmarks.workloads.dqn.report import dqn_sections, source_figures
from benchmarks.workloads.kinds import AgentWorkload
from shared.losses import Huber
from shared.metadata import available_memory_bytes
from shared.optim import Adam
from shared.params import InitScheme
from shared.specs import SpecError
from shared.td import TDSpec

__all__ = ["DQN", "PRESETS", "REWARD_CLIP", "DQNConfig", "DQNPreset", "nature_q_network"]


@dataclass(frozen=True)
class DQNPreset(Preset):
    """The sizes of one preset, in agent steps (4 emulator frames each), and
    ``timeout_s`` (Preset's)."""

    agent_steps: int
    """Agent steps the cell plays."""
    random_steps: int
    """Steps of uniformly random actions first, filling the replay memory."""
    epsilon_steps: int
    """Steps over which epsilon decays linearly from 1 to 0.1."""
    memory: int
    """Transitions the replay memory holds."""
    target_every: int
    """Agent steps between target-network syncs."""
    checkpoint_every: int | None
    """Agent steps between checkpoints (None: one at the end)."""
    eval_every: int | None = None
    """Agent steps between evaluations at epsilon 0.05 (None: none)."""
    eval_episodes: int = 0
    """Whole episodes each evaluation plays."""


PRESETS = {
    "smoke": DQNPreset(300, 100, 200, 500, 100, 100, timeout_s=300.0),
    "brief": DQNPreset(2_000, 500, 1_500, 2_000, 500, None, timeout_s=600.0),
    "quick": DQNPreset(5_000, 1_000, 4_000, 10_000, 1_000, None, timeout_s=1200.0),
    "full": DQNPreset(
        10_000_000, 50_000, 1_000_000, 1_000_000, 10_000, 250_000, timeout_s=14 * 86400.0
    ),
    # Learning, sized for a 2-core CPU (README "Reproducing the sources"): the source's
    # algorithm and network, epsilon 1 -> 0.1 over the first quarter after 20,000 random
    # steps (Dopamine's warm-up), every transition kept (1.8 GB), the target synced every
    # 5,000 agent steps (1,250 TD steps: 50 syncs in the run, where Nature's 10,000 gives
    # 25), a checkpoint every 25,000 steps and 5 evaluation episodes at epsilon 0.05
    # every 25,000.
    "learn": DQNPreset(
        250_000,
        20_000,
        62_500,
        250_000,
        5_000,
        25_000,
        eval_every=25_000,
        eval_episodes=5,
        timeout_s=6 * 3600.0,
    ),
}
GAMES = {"space-invaders": ("space_invaders", 6)}  # variant -> (ALE ROM id, minimal actions)


class DQN(AgentWorkload):
    """An agent workload: its cell (cell.py) plays loop.py with ``dqn_config``."""

    name = "dqn"
    description = "DQN on Atari Space Invaders: Nature CNN, replay, target network"
    variants = tuple(GAMES)
    main_variants = ("space-invaders",)
    loop_seconds_field = "play_total_s"
    resumed_field = "resumed_from_step"
    epoch_name = "TD step"  # the record's epochs: one TD step on a batch of 32 each
    microbench_variants = ("space-invaders",)  # the TD step at batch 32, random frames
    presets = PRESETS

    def seeds(self, variant: str, preset: str) -> Sequence[int]:
        return (0,)

    def check(self, variant: str, preset: str) -> None:
        config = self.dqn_config(variant, preset)
        frame_bytes = config.atari.screen**2
        needed = config.memory * (frame_bytes + 7)  # replay.py's per-slot arrays
        available = available_memory_bytes()
        if needed > 0.9 * available:
            raise SpecError(
                f"a replay memory of {config.memory:,} transitions needs "
                f"{needed / 1e9:.1f} GB; this machine has {available / 1e9:.1f} GB"
            )

    def start(self, cell: Cell, record_path: Path | None) -> DQNRun:
        if record_path is None:
            raise ValueError("a DQN cell keeps its checkpoint beside its record: give its path")
        return DQNRun(cell, self.dqn_config(cell.variant, cell.preset), record_path)

    def add_commands(
        self, commands: argparse._SubParsersAction
    ) -> dict[str, Callable[[argparse.Namespace], int]]:
        return {**add_evaluate_command(commands), **add_peer_command(commands, self)}

    def agent_config(self, variant: str, preset: str) -> DQNConfig:
        return self.dqn_config(variant, preset)

    def dqn_config(self, variant: str, preset: str) -> DQNConfig:
        game, n_actions = GAMES[variant]
        sizes = preset_named(PRESETS, preset, self.name)
        atari = AtariSpec(game=game, max_episode_frames=400 if preset == "smoke" else 108_000)
        return DQNConfig(
            atari=atari,
            network=nature_q_network(n_actions, atari.observation_shape),
            init=InitScheme("glorot_uniform"),  # the Keras baseline's initialisation
            loss=Huber(delta=1.0),
            # The Keras baseline's Adam (lr 0.00025, Keras's eps 1e-7) with its gradient
            # clipping at norm 1.0, taken over all parameters together here.
            optimizer=Adam(lr=0.00025, beta1=0.9, beta2=0.999, eps=1e-7, clip_global_norm=1.0),
            td=TDSpec(discount=0.99),
            agent_steps=sizes.agent_steps,
            random_steps=sizes.random_steps,
            epsilon_start=1.0,
            epsilon_end=0.1,
            epsilon_steps=sizes.epsilon_steps,
            memory=sizes.memory,
            batch_size=32,
            train_every=4,
            target_every=sizes.target_every,
            checkpoint_every=sizes.checkpoint_every,
            eval_every=sizes.eval_every,
            eval_episodes=sizes.eval_episodes,
        )

    def report_sections(self, context: ReportContext) -> list[Block]:
        return dqn_sections(context)

    def report_source(self, context: ReportContext) -> list[SourceFigure]:
        return source_figures(context)

    def report_charts(self, context: ReportContext) -> list[Block]:
        return score_sections(context)
