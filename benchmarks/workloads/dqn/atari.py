"""The Atari game with the standard DQN preprocessing, and the agent's frame stack.

reference.md section 3: the "NoFrameskip-v4" semantics (no sticky actions, the minimal
action set), each agent step repeats the action for 4 emulator frames and keeps the
pixel-wise max of the last two, the screen becomes 84x84 grayscale, and each episode
starts with up to 30 random no-ops. ale-py's own vector environment does all of this in
C++ (no OpenCV needed); one environment of it is what the DQN driver plays. ale-py
ships the ROMs. gymnasium and ale-py are imported lazily, inside ``AtariGame``.

Units: an *agent step* is one action of the agent; an *emulator frame* is one frame of
the console (4 per agent step, plus the no-ops of each reset). Both are reported.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from shared.specs import SpecError


@dataclass(frozen=True)
class AtariSpec:
    """The game and its preprocessing (defaults: the source's and Mnih et al.'s)."""

    game: str = "space_invaders"
    frame_skip: int = 4  # emulator frames per agent step; max over the last two
    noop_max: int = 30  # random no-ops at the start of each episode
    screen: int = 84  # square grayscale frames
    stack: int = 4  # frames per observation
    max_episode_frames: int = 108_000  # 30 minutes of play: the episode is truncated

    def __post_init__(self) -> None:
        for name in ("frame_skip", "screen", "stack", "max_episode_frames"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise SpecError(f"AtariSpec.{name} must be a positive integer")
        if self.noop_max < 0:
            raise SpecError("AtariSpec.noop_max must be >= 0")

    @property
    def frame_shape(self) -> tuple[int, int]:
        return (self.screen, self.screen)

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        """``(stack, screen, screen)``: the network's channels-first input."""
        return (self.stack, self.screen, self.screen)


@dataclass(frozen=True)
class GameStep:
    """What one agent step returns. ``frame`` is the newest preprocessed frame of the
    next state; after a terminated or truncated step it is already the first frame of
    the next episode (the game resets itself)."""

    frame: np.ndarray  # (screen, screen) uint8
    reward: float  # the raw game score of this step (not clipped)
    terminated: bool  # the game ended (all lives lost)
    truncated: bool  # cut at max_episode_frames
    emulator_frames: int  # emulator frames since the game was created


def vector_env(spec: AtariSpec, reward_clipping: bool):
    """ale-py's one-emulator ``AtariVectorEnv`` with ``spec``'s preprocessing, frames one
    by one (the replay memory stores each once), same-step autoreset; the rewards
    clipped to [-1, 1] or raw (the score)."""
    from ale_py.vector_env import AtariVectorEnv

    return AtariVectorEnv(
        spec.game,
        num_envs=1,
        num_threads=1,
        stack_num=1,
        img_height=spec.screen,
        img_width=spec.screen,
        grayscale=True,
        frameskip=spec.frame_skip,
        maxpool=True,
        noop_max=spec.noop_max,
        repeat_action_probability=0.0,
        full_action_space=False,
        max_num_frames_per_episode=spec.max_episode_frames,
        episodic_life=False,
        reward_clipping=reward_clipping,
        use_fire_reset=False,
        autoreset_mode="SameStep",
    )


class AtariGame:
    """One emulator with the preprocessing of ``AtariSpec``."""

    def __init__(self, spec: AtariSpec, seed: int):
        self.spec = spec
        self._env = vector_env(spec, reward_clipping=False)  # the driver clips for learning
        self.n_actions = int(self._env.single_action_space.n)
        self._seed = seed
        self._action = np.zeros(1, dtype=np.int64)

    def reset(self) -> np.ndarray:
        """Start the first episode; returns its first frame ``(screen, screen)`` uint8."""
        frames, _ = self._env.reset(seed=self._seed)
        return frames[0, -1].copy()

    def step(self, action: int) -> GameStep:
        """One agent step; ValueError for an action outside ``[0, n_actions)`` or not an
        integer (the int64 buffer would truncate 2.7 to 2)."""
        integer = isinstance(action, int | np.integer) and not isinstance(action, bool)
        if not integer or not 0 <= action < self.n_actions:
            raise ValueError(f"action must be an integer in [0, {self.n_actions}), got {action!r}")
        self._action[0] = action
        frames, reward, terminated, truncated, info = self._env.step(self._action)
        return GameStep(
            frames[0, -1].copy(),
            float(reward[0]),
            bool(terminated[0]),
            bool(truncated[0]),
            int(info["frame_number"][0]),
        )

    def close(self) -> None:
        self._env.close()


class FrameStack:
    """The agent's observation: the last ``stack`` frames, oldest first, ``(stack, H, W)``.

    At an episode's start the stack holds its first frame ``stack`` times, exactly as
    the replay memory rebuilds stacks near an episode's start (replay.py), so the
    agent acts on the states it learns from."""

    def __init__(self, stack: int):
        self._frames: deque[np.ndarray] = deque(maxlen=stack)
        self.stack = stack

    def start(self, frame: np.ndarray) -> None:
        self._check(frame, None)
        for _ in range(self.stack):
            self._frames.append(frame)

    def push(self, frame: np.ndarray) -> None:
        self._check(frame, self._frames[-1].shape if self._frames else None)
        self._frames.append(frame)

    @staticmethod
    def _check(frame: np.ndarray, shape: tuple[int, ...] | None) -> None:
        """ValueError unless ``frame`` is a 2-D uint8 array (of ``shape`` when given): the
        agent would scale a float frame by 1/255 without an error."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 2:
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame)
            raise ValueError(f"a frame must be a 2-D uint8 array, got {got}")
        if shape is not None and frame.shape != shape:
            raise ValueError(f"frame of shape {frame.shape} in a stack of {shape} frames")

    def observation(self) -> np.ndarray:
        """``(1, stack, H, W)`` uint8: a batch of one."""
        return np.stack(self._frames)[None]
