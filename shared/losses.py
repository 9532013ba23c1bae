"""Loss specs. Every loss reduces by the mean over all output elements of the batch.

- ``MSE``: ``mean((pred - target)**2)``.
- ``RewardShaped`` (copy-net's "reinforcement approach"), with ``e = |pred - target|``::

      reward  = scale * exp(-e / temperature)     (reward="exp")
              = scale * (1 - e)                   (reward="linear")
      penalty = penalty_coef * e  where e > penalty_threshold, else 0
      loss    = mean(penalty - reward)

- ``BinaryCrossEntropy`` on probabilities (the output layer applies the sigmoid)::

      p = clip(pred, eps, 1 - eps)
      loss = mean(-(target * log(p) + (1 - target) * log(1 - p)))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.specs import SpecError


@dataclass(frozen=True)
class MSE:
    """Mean squared error."""


@dataclass(frozen=True)
class RewardShaped:
    """Reward-shaped regression loss: minimise penalty - reward (see module docstring)."""

    reward: Literal["exp", "linear"]
    scale: float = 1.0
    temperature: float = 1.0
    penalty_coef: float = 0.0
    penalty_threshold: float = 0.0

    def __post_init__(self) -> None:
        if self.reward not in ("exp", "linear"):
            raise SpecError(f"reward must be 'exp' or 'linear', got {self.reward!r}")
        if not self.temperature > 0:
            raise SpecError(f"temperature must be positive, got {self.temperature}")
        if self.penalty_coef < 0 or self.penalty_threshold < 0:
            raise SpecError("penalty_coef and penalty_threshold must be >= 0")


@dataclass(frozen=True)
class BinaryCrossEntropy:
    """Cross-entropy of probabilities clipped to ``[eps, 1 - eps]`` (Keras's 1e-7)."""

    eps: float = 1e-7

    def __post_init__(self) -> None:
        if not 0 < self.eps < 0.5:
            raise SpecError(f"eps must be in (0, 0.5), got {self.eps}")


Loss = MSE | RewardShaped | BinaryCrossEntropy
