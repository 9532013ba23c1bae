"""The search agents over ``space.py``: MetaQNN's tabular Q-learning and the
random-search baseline, framework-free and deterministic given their generator.

Q-learning (Baker et al., MetaQNN; reference.md section 5): ``Q(state, action)``
starts at ``q_init`` for every pair. An episode samples one design epsilon-greedily
(with probability epsilon a uniformly random valid action, else the valid action of
highest Q, drawn uniformly among ties: unvisited pairs all hold ``q_init``). After the
design's reward ``r`` is known the episode joins the replay memory, and ``replay`` episodes drawn
uniformly from the memory (with replacement) are each learned from, every transition
of an episode from the last to the first::

    Q(s_T, TERMINATE) += lr * (r - Q(s_T, TERMINATE))
    Q(s_i, a_i)       += lr * (discount * max over a valid in s_(i+1) of Q(s_(i+1), a)
                               - Q(s_i, a_i))

Random search samples every action uniformly among the valid ones: the same walk as
Q-learning at epsilon 1, with no learning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.workloads.search.space import TERMINATE, Action, Design, DesignState, SearchSpace
from shared.specs import SpecError


@dataclass(frozen=True)
class EpsilonSchedule:
    """``(epsilon, episodes)`` stages in order, as MetaQNN's schedule: e.g.
    ``((1.0, 30), (0.5, 10), (0.1, 10))`` is 50 episodes."""

    stages: tuple[tuple[float, int], ...]

    def __post_init__(self) -> None:
        if not self.stages:
            raise SpecError("an epsilon schedule needs at least one stage")
        for epsilon, episodes in self.stages:
            if not 0 <= epsilon <= 1 or episodes < 1:
                raise SpecError(f"bad epsilon stage ({epsilon}, {episodes})")

    @property
    def episodes(self) -> int:
        return sum(episodes for _, episodes in self.stages)

    def epsilons(self) -> list[float]:
        """The epsilon of every episode, in order."""
        return [epsilon for epsilon, episodes in self.stages for _ in range(episodes)]


@dataclass(frozen=True)
class QLearningSpec:
    """MetaQNN's settings: learning rate 0.01, discount 1, 30 replays per episode."""

    lr: float = 0.01
    discount: float = 1.0
    replay: int = 30
    q_init: float = 0.5


def sample_design(
    space: SearchSpace,
    rng: np.random.Generator,
    epsilon: float = 1.0,
    q_table: dict[tuple[DesignState, Action], float] | None = None,
    q_init: float = 0.5,
) -> Design:
    """One design, walked from the start; epsilon-greedy on ``q_table`` (per step one
    draw from ``rng`` for the coin, one more for a random action or a tie)."""
    state: DesignState | None = space.start
    design: list = []
    while state is not None:
        actions = space.valid_actions(state)
        if q_table is None or rng.random() < epsilon:
            action = actions[int(rng.integers(len(actions)))]
        else:
            values = np.array([q_table.get((state, a), q_init) for a in actions])
            best = np.flatnonzero(values == values.max())
            action = actions[int(best[rng.integers(best.size)]) if best.size > 1 else best[0]]
        if action is not TERMINATE:
            design.append(action)
        state = space.step(state, action)
    return tuple(design)


class RandomSearch:
    """The baseline: uniformly random valid actions, nothing learned."""

    name = "random"

    def __init__(self, space: SearchSpace, rng: np.random.Generator):
        self.space, self.rng = space, rng

    def propose(self, epsilon: float) -> Design:
        return sample_design(self.space, self.rng)

    def learn(self, design: Design, reward: float) -> None:
        """Random search ignores rewards."""


class QLearning:
    """MetaQNN's tabular Q-learning with experience replay (module docstring)."""

    name = "qlearning"

    def __init__(self, space: SearchSpace, rng: np.random.Generator, spec: QLearningSpec):
        self.space, self.rng, self.spec = space, rng, spec
        self.q: dict[tuple[DesignState, Action], float] = {}
        self.memory: list[tuple[Design, float]] = []

    def value(self, state: DesignState, action: Action) -> float:
        return self.q.get((state, action), self.spec.q_init)

    def propose(self, epsilon: float) -> Design:
        return sample_design(self.space, self.rng, epsilon, self.q, self.spec.q_init)

    def learn(self, design: Design, reward: float) -> None:
        self.memory.append((design, float(reward)))
        for index in self.rng.integers(len(self.memory), size=self.spec.replay):
            self.update(*self.memory[int(index)])

    def update(self, design: Design, reward: float) -> None:
        """One backward pass of Q-updates over the design's transitions."""
        states = self.space.states_of(design)
        actions: Sequence[Action] = (*design, TERMINATE)
        lr, discount = self.spec.lr, self.spec.discount
        for i in reversed(range(len(actions))):
            state, action = states[i], actions[i]
            if action is TERMINATE:
                target = reward
            else:
                after = states[i + 1]
                target = discount * max(
                    self.value(after, a) for a in self.space.valid_actions(after)
                )
            old = self.value(state, action)
            self.q[(state, action)] = old + lr * (target - old)
