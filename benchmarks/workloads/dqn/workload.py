"""DQN on Atari Space Invaders (reference.md section 3), framework-free.

The Nature-style Q-network on 4 stacked 84x84 grayscale frames, Huber loss, Adam with
global-norm clipping, a frame-by-frame replay memory (replay.py), a target
network synced every ``target_every`` agent steps, one TD step (shared/td.py) every
``train_every`` agent steps, epsilon-greedy acting with epsilon decaying linearly, and
rewards clipped to [-1, 1] for learning while the raw game score is reported. The loop
itself is loop.py; a backend supplies the agent (shared.protocol.QAgent).

Presets (all counts in agent steps; the emulator runs 4 frames per agent step):
- ``smoke``: 300 steps, 100 random first, a 500-step memory, episodes cut at 400
  emulator frames (so that a few end): for tests, seconds.
- ``quick`` (the bench default): 5,000 steps, 1,000 random first, then 1,000 TD steps
  at batch 32 with learning on: a steady training-step time and agent steps per
  second, a few minutes per backend. Far too short to learn the game.
- ``full``: the source's settings, 10,000,000 agent steps (the source called them
  frames), 50,000 random first, epsilon 1 -> 0.1 over 1,000,000, a memory of
  1,000,000 (7.1 GB), target sync every 10,000, a TD step every 4; a checkpoint every
  250,000 steps, from which ``--resume`` continues. Days on a CPU; meant for a GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.document import Block
from benchmarks.report.context import ReportContext
from benchmarks.workloads.base import Workload
from benchmarks.workloads.dqn.atari import AtariSpec
from benchmarks.workloads.dqn.charts import score_sections
from shared.losses import Huber
from shared.optim import Adam
from shared.params import InitScheme
from shared.specs import Conv2D, Dense, Flatten, Network, SpecError
from shared.td import TDSpec

REWARD_CLIP = 1.0  # learned rewards are clipped to [-1, 1]


def nature_q_network(n_actions: int, observation: tuple[int, int, int] = (4, 84, 84)) -> Network:
    """Mnih et al.'s network; the output layer is linear (the source's PyTorch and JAX
    versions wrongly put a ReLU there). About 1.82 M parameters for 6 actions."""
    return Network(
        observation,
        (
            Conv2D(32, 8, stride=4, activation="relu"),  # (32, 20, 20)
            Conv2D(64, 4, stride=2, activation="relu"),  # (64, 9, 9)
            Conv2D(64, 3, stride=1, activation="relu"),  # (64, 7, 7)
            Flatten(),  # 3136
            Dense(512, "relu"),
            Dense(256, "relu"),
            Dense(n_actions, "linear"),
        ),
    )


@dataclass(frozen=True)
class DQNConfig:
    """Everything the DQN driver and a backend need for one cell (agent-step units)."""

    atari: AtariSpec
    network: Network
    init: InitScheme
    loss: Huber
    optimizer: Adam
    td: TDSpec
    agent_steps: int  # total agent steps played
    random_steps: int  # uniformly random actions first, no learning
    epsilon_start: float
    epsilon_end: float
    epsilon_steps: int  # linear decay from start to end over these steps
    memory: int  # replay capacity in transitions
    batch_size: int
    train_every: int  # agent steps between TD steps (after random_steps)
    target_every: int  # agent steps between target syncs
    checkpoint_every: int | None  # agent steps between checkpoints (None: only at the end)
    eval_epsilon: float = 0.05  # for ``python -m benchmarks evaluate``

    def __post_init__(self) -> None:
        for name in ("agent_steps", "epsilon_steps", "memory", "batch_size", "train_every"):
            if getattr(self, name) < 1:
                raise SpecError(f"DQNConfig.{name} must be >= 1")
        if not 0 <= self.random_steps < self.agent_steps:
            raise SpecError("DQNConfig.random_steps must be in [0, agent_steps)")
        for name in ("epsilon_start", "epsilon_end", "eval_epsilon"):
            if not 0 <= getattr(self, name) <= 1:
                raise SpecError(f"DQNConfig.{name} must be in [0, 1]")

    def epsilon(self, step: int) -> float:
        """Exploration rate at agent step ``step`` (counted from 0): linear decay that
        starts after the random steps."""
        progress = max(0, step - self.random_steps) / self.epsilon_steps
        if progress >= 1:
            return self.epsilon_end
        return self.epsilon_start + progress * (self.epsilon_end - self.epsilon_start)

    def td_step_flops(self) -> int:
        """FLOPs of one TD step: online forward and backward, plus the target network's
        forward on the next states (about 2.2 GFLOP at batch 32, reference.md)."""
        return self.network.train_step_flops(self.batch_size) + (
            self.batch_size * self.network.forward_flops()
        )


@dataclass(frozen=True)
class _Sizes:
    agent_steps: int
    random_steps: int
    epsilon_steps: int
    memory: int
    target_every: int
    checkpoint_every: int | None


PRESETS = {
    "smoke": _Sizes(300, 100, 200, 500, 100, None),
    "quick": _Sizes(5_000, 1_000, 4_000, 10_000, 1_000, None),
    "full": _Sizes(10_000_000, 50_000, 1_000_000, 1_000_000, 10_000, 250_000),
}
GAMES = {"space-invaders": ("space_invaders", 6)}  # variant -> (ALE ROM id, minimal actions)


class DQN(Workload):
    """Not a supervised workload: ``driver = "dqn"`` makes the cell run loop.py
    with ``dqn_config`` instead of the epoch loop."""

    name = "dqn"
    description = "DQN on Atari Space Invaders: Nature CNN, replay, target network"
    variants = tuple(GAMES)
    main_variants = ("space-invaders",)
    driver = "dqn"

    def seeds(self, variant: str, preset: str) -> Sequence[int]:
        return (0,)

    def timeout_s(self, preset: str) -> float:
        return {"smoke": 300.0, "quick": 1200.0, "full": 14 * 86400.0}[preset]

    def check(self, variant: str, preset: str) -> None:
        from benchmarks.workloads.nbody.data import available_memory_bytes

        config = self.dqn_config(variant, preset)
        frame_bytes = config.atari.screen**2
        needed = config.memory * (
            frame_bytes + 7
        )  # benchmarks.workloads.dqn.replay's per-slot arrays
        available = available_memory_bytes()
        if needed > 0.9 * available:
            raise SpecError(
                f"a replay memory of {config.memory:,} transitions needs "
                f"{needed / 1e9:.1f} GB; this machine has {available / 1e9:.1f} GB"
            )

    def dqn_config(self, variant: str, preset: str) -> DQNConfig:
        game, n_actions = GAMES[variant]
        sizes = PRESETS[preset]
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
        )

    def report_sections(self, context: ReportContext) -> list[Block]:
        # Imported here: report.py reads steady_agent_steps_per_s from cell.py, which
        # imports the workload registry (benchmarks.workloads) that imports this module.
        from benchmarks.workloads.dqn.report import dqn_sections

        return dqn_sections(context)

    def report_charts(self, context: ReportContext) -> list[Block]:
        return score_sections(context)
