"""The DQN's temporal-difference step, stated once for every backend.

A batch of ``B`` transitions sampled from the replay memory (``TDBatch``) trains the
online network ``Q`` against a frozen copy of it, the target network ``Q_target``::

    x      = obs * scale                        uint8 frames -> the model's dtype, in
                                                [0, 1]; scale = 1/255 rounded to the
                                                model's dtype (``pixel_scale``)
    q      = Q(x)[arange(B), actions]           (B,)  the taken actions' values
    q_next = max over a' of Q_target(x')[:, a'] (B,)  x' = next_obs * scale
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

PIXEL_SCALE = 255  # the brightest pixel value


def pixel_scale(dtype: str) -> np.floating:
    """``1 / 255`` rounded to ``dtype``: frames are *multiplied* by it. Not a division by
    255: compilers (XLA at least) silently turn a division by a constant into a
    multiplication by its reciprocal, which rounds differently for about half the pixel
    values, so a division could not be pinned in every framework; a multiplication is
    computed as written everywhere."""
    return np.dtype(dtype).type(1.0 / PIXEL_SCALE)


def scale_frames(obs: np.ndarray, dtype: str) -> np.ndarray:
    """The network's input: uint8 frames times ``pixel_scale(dtype)``, in ``dtype``."""
    return obs.astype(dtype) * pixel_scale(dtype)


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
