"""The DQN's temporal-difference step, stated once for every backend.

A batch of ``B`` transitions sampled from the replay memory (``TDBatch``) trains the
online network ``Q`` against a frozen copy of it, the target network ``Q_target``::

    x      = obs / 255                          uint8 frames -> the model's dtype, in
                                                [0, 1] (a division, not * (1/255): the
                                                two round differently)
    q      = Q(x)[arange(B), actions]           (B,)  the taken actions' values
    q_next = max over a' of Q_target(x')[:, a'] (B,)  x' = next_obs / 255
    y      = rewards + discount * (1 - dones) * q_next     a constant for differentiation
    loss   = mean(huber(q - y, delta))          shared.losses.Huber

then the optimizer's update (Adam, optionally clipping the global norm). ``y`` must come
from the *target* network: the source's JAX attempt computed it with the online one and
never learned (tests/test_dqn_parity.py catches that). ``sync_target`` copies the online
weights into the target network.

Rewards arrive already clipped by the driver (the game's raw score is reported, the
clipped reward is learned from). ``dones`` is 1.0 where the episode terminated after
the action, so that nothing is bootstrapped from the next episode's first frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.specs import SpecError

PIXEL_SCALE = 255  # observations are divided by this


@dataclass(frozen=True)
class TDBatch:
    """``B`` transitions. Frames are channels-first stacks, ``(B, stack, H, W)`` uint8."""

    obs: np.ndarray  # (B, C, H, W) uint8
    actions: np.ndarray  # (B,) int64, in [0, n_actions)
    rewards: np.ndarray  # (B,) float32, already clipped
    next_obs: np.ndarray  # (B, C, H, W) uint8
    dones: np.ndarray  # (B,) float32, 1.0 where the episode terminated

    def __post_init__(self) -> None:
        size = len(self.actions)
        if self.obs.dtype != np.uint8 or self.next_obs.dtype != np.uint8:
            raise SpecError("TDBatch frames must be uint8")
        for name in ("obs", "rewards", "next_obs", "dones"):
            if len(getattr(self, name)) != size:
                raise SpecError(f"TDBatch.{name} has {len(getattr(self, name))} rows, not {size}")

    def __len__(self) -> int:
        return len(self.actions)


@dataclass(frozen=True)
class TDSpec:
    """The discount of the bootstrap target (the source's 0.99)."""

    discount: float = 0.99

    def __post_init__(self) -> None:
        if not 0 <= self.discount <= 1:
            raise SpecError(f"discount must be in [0, 1], got {self.discount}")
