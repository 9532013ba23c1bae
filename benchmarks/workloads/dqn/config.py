"""DQN's settings (framework-free): the Nature Q-network and everything a cell, its
loop (loop.py) and a backend's agent need, in agent-step units."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.workloads.dqn.atari import AtariSpec
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
    eval_epsilon: float = 0.05  # evaluation episodes' epsilon (Mnih et al.'s)
    eval_every: int | None = None  # agent steps between evaluations (None: none)
    eval_episodes: int = 0  # whole episodes per evaluation, no learning

    def __post_init__(self) -> None:
        for name in ("agent_steps", "epsilon_steps", "memory", "batch_size", "train_every"):
            if getattr(self, name) < 1:
                raise SpecError(f"DQNConfig.{name} must be >= 1")
        if not 0 <= self.random_steps < self.agent_steps:
            raise SpecError("DQNConfig.random_steps must be in [0, agent_steps)")
        if self.eval_every is not None and (self.eval_every < 1 or self.eval_episodes < 1):
            raise SpecError("DQNConfig.eval_every and eval_episodes must be >= 1")
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
