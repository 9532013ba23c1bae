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


def check_frames(obs: np.ndarray, what: str = "frames") -> None:
    """SpecError unless ``obs`` is a ``(B, C, H, W)`` uint8 array: a float or wrongly
    shaped batch would be scaled by 1/255 or broadcast without an error."""
    if not isinstance(obs, np.ndarray) or obs.dtype != np.uint8:
        got = obs.dtype if isinstance(obs, np.ndarray) else type(obs).__name__
        raise SpecError(f"{what} must be a uint8 array, got {got}")
    if obs.ndim != 4:
        raise SpecError(f"{what} must be (batch, C, H, W), got shape {obs.shape}")


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
        """SpecError for arrays of other dtypes, ranks or lengths, rewards that are not
        finite, or dones other than 0 and 1: the agents would silently cast, broadcast
        or bootstrap from them."""
        for name in ("obs", "actions", "rewards", "next_obs", "dones"):
            if not isinstance(getattr(self, name), np.ndarray):
                raise SpecError(f"TDBatch.{name} must be a NumPy array")
        check_frames(self.obs, "TDBatch.obs")
        if self.next_obs.dtype != np.uint8 or self.next_obs.shape != self.obs.shape:
            raise SpecError(
                f"TDBatch.next_obs must be uint8 of obs's shape {self.obs.shape}, got "
                f"{self.next_obs.dtype} {self.next_obs.shape}"
            )
        if self.actions.ndim != 1 or not np.issubdtype(self.actions.dtype, np.integer):
            raise SpecError(f"TDBatch.actions must be 1-D integers, got {self.actions.dtype}")
        size = len(self.actions)
        for name in ("rewards", "dones"):
            value = getattr(self, name)
            if value.shape != (size,) or not np.issubdtype(value.dtype, np.floating):
                raise SpecError(
                    f"TDBatch.{name} must be ({size},) floats, got {value.dtype} {value.shape}"
                )
        if len(self.obs) != size:
            raise SpecError(f"TDBatch.obs has {len(self.obs)} rows, not {size}")
        if not np.all(np.isfinite(self.rewards)):
            raise SpecError("TDBatch.rewards must be finite")
        if not np.all((self.dones == 0) | (self.dones == 1)):
            raise SpecError("TDBatch.dones must be 0 or 1")

    def __len__(self) -> int:
        return len(self.actions)


@dataclass(frozen=True)
class TDSpec:
    """The discount of the bootstrap target (the source's 0.99)."""

    discount: float = 0.99

    def __post_init__(self) -> None:
        if not 0 <= self.discount <= 1:
            raise SpecError(f"discount must be in [0, 1], got {self.discount}")
