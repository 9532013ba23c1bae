"""The search's settings (framework-free): ``SearchConfig``, all a search cell needs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchmarks.workloads.base import TrainingConfig
from benchmarks.workloads.search.digits import DigitsSplit
from benchmarks.workloads.search.metaqnn import EpsilonSchedule, QLearningSpec
from benchmarks.workloads.search.space import SearchSpace
from shared.losses import SoftmaxCrossEntropy
from shared.optim import Adam
from shared.params import InitScheme
from shared.specs import Network, SpecError

AGENTS = ("random", "qlearning", "qlearning-penalty")
PENALTY_DELTA = 1e-8


@dataclass(frozen=True)
class SearchConfig:
    """Everything a search cell needs: the space, the agents' settings, the data split
    and the fixed training budget of every candidate."""

    space: SearchSpace
    split: DigitsSplit
    schedule: EpsilonSchedule  # Q-learning's; random search runs as many episodes
    qlearning: QLearningSpec
    penalty_beta: float  # of the qlearning-penalty agent
    init: InitScheme
    loss: SoftmaxCrossEntropy
    optimizer: Adam
    epochs: int
    batch_size: int
    agents: tuple[str, ...] = AGENTS
    penalty_delta: float = PENALTY_DELTA
    # Wall seconds after which no further episode starts (None: the whole schedule).
    budget_s: float | None = None
    # Episodes per agent between saves of the search's progress (0: none; persist.py).
    checkpoint_every: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise SpecError("epochs and batch_size must be >= 1")
        if self.checkpoint_every < 0:
            raise SpecError("checkpoint_every must be >= 0")
        if self.penalty_beta < 0:
            raise SpecError("penalty_beta must be >= 0")
        unknown = set(self.agents) - set(AGENTS)
        if unknown:
            raise SpecError(f"unknown agents {sorted(unknown)}; valid: {', '.join(AGENTS)}")

    def penalty(self, n_params: int) -> float:
        """The source's size penalty ``beta * (delta * x + log(x))`` for x parameters."""
        return self.penalty_beta * (self.penalty_delta * n_params + math.log(n_params))

    def reward(self, agent: str, accuracy: float, n_params: int) -> float:
        return accuracy - self.penalty(n_params) if agent == "qlearning-penalty" else accuracy

    def training_config(self, network: Network, steps_per_epoch: int) -> TrainingConfig:
        """One candidate's training, as any supervised cell's."""
        return TrainingConfig(
            network=network,
            init=self.init,
            loss=self.loss,
            optimizer=self.optimizer,
            epochs=self.epochs,
            steps_per_epoch=steps_per_epoch,
            batch_size=self.batch_size,
        )
