"""Optimizer and learning-rate schedule specs, with every hyperparameter pinned.

Frameworks disagree on defaults and on where constants go, so the spec fixes the
update rule and every backend implements exactly this, never a framework default:

SGD (the PyTorch form; equal to Keras's ``v = mu*v - lr*g`` only while lr is constant)::

    buf = momentum * buf + g          (buf starts at 0)
    p   = p - lr * buf

Adam (epsilon outside the square root of the bias-corrected second moment, as in
PyTorch and Optax; Keras places it differently, so the Keras backend does not use
``keras.optimizers.Adam``)::

    m = b1 * m + (1 - b1) * g ;  v = b2 * v + (1 - b2) * g**2     (t = 1, 2, ...)
    p = p - lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)

Global-norm clipping, applied to the gradients before either rule::

    g = g * min(1, clip_global_norm / ||g||)     (||g|| over all parameters together)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.specs import SpecError


def _check_clip(clip_global_norm: float | None) -> None:
    if clip_global_norm is not None and not clip_global_norm > 0:
        raise SpecError(f"clip_global_norm must be positive or None, got {clip_global_norm}")


@dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent with optional heavy-ball momentum (PyTorch form)."""

    lr: float
    momentum: float = 0.0
    clip_global_norm: float | None = None

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise SpecError(f"SGD lr must be positive, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise SpecError(f"SGD momentum must be in [0, 1), got {self.momentum}")
        _check_clip(self.clip_global_norm)


@dataclass(frozen=True)
class Adam:
    """Adam with all four hyperparameters stated (no framework defaults)."""

    lr: float
    beta1: float
    beta2: float
    eps: float
    clip_global_norm: float | None = None

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise SpecError(f"Adam lr must be positive, got {self.lr}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise SpecError(f"Adam {name} must be in [0, 1), got {getattr(self, name)}")
        if not self.eps > 0:
            raise SpecError(f"Adam eps must be positive, got {self.eps}")
        _check_clip(self.clip_global_norm)


Optimizer = SGD | Adam


@dataclass(frozen=True)
class Constant:
    """The optimizer's learning rate at every epoch."""


@dataclass(frozen=True)
class ExponentialDecay:
    """``lr(epoch) = lr0 * gamma ** epoch`` (epoch counted from 0)."""

    gamma: float

    def __post_init__(self) -> None:
        if not 0 < self.gamma <= 1:
            raise SpecError(f"ExponentialDecay gamma must be in (0, 1], got {self.gamma}")

    @classmethod
    def over_decades(cls, decades: float, epochs: int) -> ExponentialDecay:
        """Decay by ``decades`` orders of magnitude over ``epochs`` epochs."""
        return cls(gamma=10.0 ** (-decades / epochs))


Schedule = Constant | ExponentialDecay


def learning_rates(schedule: Schedule, lr0: float, epochs: int) -> np.ndarray:
    """Learning rate of each epoch, shape ``(epochs,)``, float64; computed once for all
    backends so that every framework trains with the same rates."""
    if isinstance(schedule, Constant):
        return np.full(epochs, lr0, dtype=np.float64)
    if isinstance(schedule, ExponentialDecay):
        return lr0 * schedule.gamma ** np.arange(epochs, dtype=np.float64)
    raise SpecError(f"unknown schedule {schedule!r}")
