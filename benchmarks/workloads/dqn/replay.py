"""DQN replay memory that stores each 84x84 frame once, as uint8.

Stored stacked, 1,000,000 transitions take 56 GB (observation and next observation) or
28 GB (stacked once); frame by frame they take 7.1 GB, the only layout that fits the
machine (reference.md section 3). Stacks are rebuilt when a batch is sampled.

Slot layout, one slot per agent step ``t`` (a circular buffer of ``capacity`` slots):
``frame`` is the newest frame of the state ``s_t``; ``action``, ``reward`` (clipped)
and ``terminal`` are what happened next; ``first`` marks an episode's first frame. The
next state ``s_{t+1}`` is the stack that ends at the following slot.

Episode boundaries: a stack never reaches back past its episode's first frame; where
the episode is younger than the stack, its first frame fills the older positions
(``atari.FrameStack`` does the same when acting). A transition can be sampled
when its next state is stored: the episode terminated (nothing is bootstrapped), or
the following slot continues the episode. A truncated episode's last transition has
neither and is never sampled. The oldest ``stack - 1`` slots are never sampled either:
the frames before them may be overwritten.
"""

from __future__ import annotations

import math

import numpy as np

from shared.specs import SpecError
from shared.td import TDBatch

MAX_RESAMPLES = 100
ACTION_LIMIT = 256  # actions are stored as uint8
REAL = (int, float, np.integer, np.floating)


def _is_integer(value: object) -> bool:
    """A Python or NumPy integer, not a bool (True is no action index or size)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


class ReplayMemory:
    """``capacity`` transitions of ``frame_shape`` uint8 frames, stacks of ``stack``."""

    def __init__(
        self,
        capacity: int,
        frame_shape: tuple[int, int],
        stack: int,
        seed: int,
        n_actions: int = ACTION_LIMIT,
    ):
        """``n_actions``: actions are ``0 .. n_actions - 1`` (at most 256: one byte each).
        Raises SpecError for sizes that cannot hold a sampleable transition."""
        for name, value in (("capacity", capacity), ("stack", stack), ("n_actions", n_actions)):
            if not _is_integer(value) or value < 1:
                raise SpecError(f"replay {name} must be a positive integer, got {value!r}")
        if n_actions > ACTION_LIMIT:
            raise SpecError(f"replay n_actions must be at most {ACTION_LIMIT}, got {n_actions}")
        if capacity < stack + 1:
            raise SpecError(f"replay capacity must be at least stack + 1, got {capacity}")
        frame_shape = tuple(frame_shape)
        if not frame_shape or not all(_is_integer(n) and n > 0 for n in frame_shape):
            raise SpecError(f"replay frame_shape must be positive integers, got {frame_shape}")
        self.capacity, self.stack, self.n_actions = capacity, stack, n_actions
        self.frame_shape = frame_shape
        # np.zeros maps untouched pages lazily: a 1,000,000-slot memory costs its 7 GB of
        # RAM only as it fills.
        self.frames = np.zeros((capacity, *frame_shape), dtype=np.uint8)
        self.actions = np.zeros(capacity, dtype=np.uint8)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminal = np.zeros(capacity, dtype=bool)
        self.first = np.zeros(capacity, dtype=bool)
        self.size = 0  # slots written, at most capacity
        self._next = 0  # physical slot of the next write
        self._rng = np.random.default_rng(seed)

    @property
    def nbytes(self) -> int:
        arrays = (self.frames, self.actions, self.rewards, self.terminal, self.first)
        return sum(array.nbytes for array in arrays)

    @property
    def bytes_per_transition(self) -> float:
        return self.nbytes / self.capacity

    def add(
        self, frame: np.ndarray, action: int, reward: float, terminal: bool, first: bool
    ) -> None:
        """Store step ``t``: ``frame`` (newest of ``s_t``), then its action, clipped reward,
        whether the episode terminated after it, and whether ``frame`` began the episode.

        Checked here, where transitions enter, since NumPy's assignment would silently
        truncate a float frame (0.7 -> 0), broadcast a wrong-shaped one, or wrap an
        action: TypeError for a frame that is not a uint8 array, a non-integer action,
        a non-real reward or non-boolean flags; ValueError for a frame of another shape,
        an action outside ``[0, n_actions)`` or a reward that is not finite."""
        self._check(frame, action, reward, terminal, first)
        slot = self._next
        self.frames[slot] = frame
        self.actions[slot] = action
        self.rewards[slot] = reward
        self.terminal[slot] = terminal
        self.first[slot] = first
        self._next = (slot + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def _check(self, frame, action, reward, terminal, first) -> None:
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            what = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
            raise TypeError(f"replay frame must be a uint8 array, got {what}")
        if frame.shape != self.frame_shape:
            raise ValueError(f"replay frame must have shape {self.frame_shape}, got {frame.shape}")
        if not _is_integer(action):
            raise TypeError(f"replay action must be an integer, got {action!r}")
        if not 0 <= action < self.n_actions:
            raise ValueError(f"replay action must be in [0, {self.n_actions}), got {action}")
        if isinstance(reward, bool | np.bool_) or not isinstance(reward, REAL):
            raise TypeError(f"replay reward must be a real number, got {reward!r}")
        if not math.isfinite(reward):
            raise ValueError(f"replay reward must be finite, got {reward}")
        for name, flag in (("terminal", terminal), ("first", first)):
            if not (isinstance(flag, bool | np.bool_) or (_is_integer(flag) and flag in (0, 1))):
                raise TypeError(f"replay {name} must be a bool, got {flag!r}")

    def _physical(self, logical: np.ndarray) -> np.ndarray:
        """Slot of the ``logical``-th oldest stored step (0 = the oldest)."""
        return (self._next - self.size + logical) % self.capacity

    def stacks(self, logical: np.ndarray) -> np.ndarray:
        """The states ending at ``logical`` indices ``(B,)``: ``(B, stack, H, W)`` uint8."""
        current = np.asarray(logical, dtype=np.int64)
        slot = self._physical(current)
        slots = [slot]
        stop = self.first[slot]  # an episode's first frame: older positions repeat it
        for _ in range(self.stack - 1):
            current = np.where(stop, current, current - 1)
            slot = self._physical(current)
            stop = stop | self.first[slot]
            slots.append(slot)
        return self.frames[np.stack(slots[::-1], axis=1)]

    def sampleable(self, logical: np.ndarray) -> np.ndarray:
        """Whether the transitions at ``logical`` indices have a stored next state."""
        logical = np.asarray(logical, dtype=np.int64)
        in_range = (logical >= self.stack - 1) & (logical < self.size - 1)
        clipped = np.clip(logical, 0, max(self.size - 2, 0))
        slot, following = self._physical(clipped), self._physical(clipped + 1)
        return in_range & (self.terminal[slot] | ~self.first[following])

    def transitions(self, logical: np.ndarray) -> TDBatch:
        """The transitions at ``logical`` indices (all sampleable) as a ``TDBatch``."""
        logical = np.asarray(logical, dtype=np.int64)
        slot = self._physical(logical)
        return TDBatch(
            obs=self.stacks(logical),
            actions=self.actions[slot].astype(np.int64),
            rewards=self.rewards[slot],
            next_obs=self.stacks(logical + 1),
            dones=self.terminal[slot].astype(np.float32),
        )

    def sample(self, batch: int) -> TDBatch:
        """``batch`` transitions drawn uniformly (with replacement) from the sampleable ones."""
        if self.size <= self.stack:
            raise SpecError(f"replay memory holds {self.size} steps: too few to sample")
        logical = self._rng.integers(self.stack - 1, self.size - 1, size=batch)
        for _ in range(MAX_RESAMPLES):
            bad = ~self.sampleable(logical)
            if not bad.any():
                return self.transitions(logical)
            logical[bad] = self._rng.integers(self.stack - 1, self.size - 1, size=int(bad.sum()))
        raise SpecError("replay memory: no sampleable transitions (every episode truncated?)")
