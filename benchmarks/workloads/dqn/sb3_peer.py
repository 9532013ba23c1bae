"""Stable-Baselines3's ``DQN`` playing our DQN cell's game with our cell's settings: the
peer reference that ``python -m benchmarks dqn-peer`` measures (peer.py has the command,
the settings and what cannot match).

This module imports stable_baselines3 and torch at its top: peer.py imports it only
after checking that the ``sb3`` extra is installed.

The game is ale-py's own ``AtariVectorEnv`` (one emulator), the same C++ preprocessing
our cell plays (atari.py), given to SB3 as its ``VecEnv`` and stacked by SB3's
``VecFrameStack``. SB3's ``AtariWrapper`` is not used: its frame resizing needs OpenCV
(a 61 MB wheel the suite does not install), and it would time another preprocessing
than our cells'.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecEnv, VecFrameStack

from benchmarks.workloads.dqn.atari import AtariSpec, vector_env


class AleGame(VecEnv):
    """One ale-py emulator as an SB3 ``VecEnv`` of one environment, frames one by one:
    observations ``(1, 1, screen, screen)`` uint8, rewards clipped to [-1, 1] by ale-py.

    The emulator resets itself when an episode ends (gymnasium's same-step autoreset),
    returning the next episode's first frame; the ended episode's last frame goes to
    ``info["terminal_observation"]``, where SB3 looks for it."""

    def __init__(self, spec: AtariSpec, seed: int):
        # our cells' game exactly; SB3 learns from the rewards it is given: clipped
        self._env = vector_env(spec, reward_clipping=True)
        self._seed = seed
        self._actions = np.zeros(1, dtype=np.int64)
        self.emulator_frames = 0
        self.game_seconds = 0.0  # in the emulator, over every step
        self.steps = self.episodes = 0
        super().__init__(1, self._env.single_observation_space, self._env.single_action_space)

    def reset(self) -> np.ndarray:
        seed = self._seeds[0] if self._seeds[0] is not None else self._seed
        frames, _ = self._env.reset(seed=seed)
        self._reset_seeds()
        return frames

    def step_async(self, actions: np.ndarray) -> None:
        self._actions[:] = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        tick = time.perf_counter()
        frames, rewards, terminated, truncated, info = self._env.step(self._actions)
        self.game_seconds += time.perf_counter() - tick
        self.emulator_frames = int(info["frame_number"][0])
        dones = terminated | truncated
        self.steps, self.episodes = self.steps + 1, self.episodes + int(dones[0])
        infos: list[dict[str, Any]] = [{}]
        if dones[0]:
            infos[0]["terminal_observation"] = info["final_obs"][0]
            infos[0]["TimeLimit.truncated"] = bool(truncated[0] and not terminated[0])
        return frames, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self._env.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self._env, attr_name)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self._env, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list:
        return [getattr(self._env, method_name)(*args, **kwargs)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> Sequence[bool]:
        return [False]


class LearningClock(BaseCallback):
    """Times the agent steps played with learning on, as loop.py does for our cells:
    from the end of the ``random_steps`` random steps to the end of training, with the
    first TD step (the first ``train`` call after learning starts) timed apart, and
    each TD step (``td_seconds``, the first included).

    SB3 trains between two rollouts of ``train_freq`` steps: after a rollout that ended
    past ``random_steps``, the gap to the next rollout's start (or to the training's
    end) is one ``train`` call (of one gradient step)."""

    def __init__(self, random_steps: int, watched: set[int]):
        super().__init__(verbose=0)
        self.random_steps = random_steps
        self.watched = watched  # agent steps (from 0) whose epsilon is kept
        self.epsilon_at: dict[int, float] = {}
        self.learning_start: float | None = None
        self.end: float | None = None
        self.td_seconds: list[float] = []
        self._rollout_end: float | None = None

    def _on_training_start(self) -> None:
        if self.random_steps == 0:
            self.learning_start = time.perf_counter()

    def _on_step(self) -> bool:
        # SB3 updates its epsilon after this call: the one in force chose this step's action
        if self.num_timesteps - 1 in self.watched:
            self.epsilon_at[self.num_timesteps - 1] = self.model.exploration_rate
        if self.num_timesteps == self.random_steps:
            self.learning_start = time.perf_counter()
        return True

    def _on_rollout_end(self) -> None:
        self._rollout_end = time.perf_counter()

    def _trained_since_rollout_end(self) -> None:
        now = time.perf_counter()
        if self.model.num_timesteps > self.random_steps and self._rollout_end is not None:
            self.td_seconds.append(now - self._rollout_end)
        self._rollout_end = None

    def _on_rollout_start(self) -> None:
        self._trained_since_rollout_end()

    def _on_training_end(self) -> None:
        self._trained_since_rollout_end()
        self.end = time.perf_counter()


def play(
    settings: dict[str, Any], spec: AtariSpec, agent_steps: int, seed: int, watched: set[int]
) -> dict:
    """Train SB3's DQN for ``agent_steps`` agent steps with ``settings`` (its keyword
    arguments, peer.py's ``sb3_settings``) on ``spec``'s game; returns the timing fields
    our DQN records carry (seconds; ``learning_agent_steps`` in agent steps), counts,
    and ``epsilon_at``: the exploration rate SB3 acted with at each ``watched`` agent
    step (counted from 0).

    The thread count is the caller's (``torch.set_num_threads`` before this)."""
    game = VecFrameStack(AleGame(spec, seed), n_stack=spec.stack)  # (1, stack, H, W)
    model = DQN("CnnPolicy", game, seed=seed, device="cpu", verbose=0, **settings)
    # A logger that writes nothing: SB3's default makes a folder in /tmp every run.
    model.set_logger(Logger(folder=None, output_formats=[]))
    # The first greedy action (allocations) is made here, off the clock, and timed apart:
    # our cells leave every first call out of agent steps/s.
    observation = np.zeros((1, *game.observation_space.shape), dtype=np.uint8)
    tick = time.perf_counter()
    model.policy.predict(observation, deterministic=True)
    first_action_s = time.perf_counter() - tick
    clock = LearningClock(settings["learning_starts"], watched)
    start = time.perf_counter()
    model.learn(total_timesteps=agent_steps, callback=clock, progress_bar=False)
    total_s = time.perf_counter() - start
    buffer, ale, td = model.replay_buffer, game.venv, clock.td_seconds
    assert buffer is not None and clock.learning_start is not None and clock.end is not None
    return {
        "timing": {
            "learning_agent_steps": model.num_timesteps - settings["learning_starts"],
            "learning_s": clock.end - clock.learning_start,
            "learning_first_calls_s": td[0] if td else 0.0,
            "first_epoch_s": td[0] if td else None,
            "steady_median_s": float(np.median(td[1:])) if len(td) > 1 else None,
            "first_q_values_s": first_action_s,
            "game_step_mean_s": ale.game_seconds / max(ale.steps, 1),
            "play_total_s": total_s,
        },
        "agent_steps": model.num_timesteps,
        "emulator_frames": ale.emulator_frames,
        "episodes": ale.episodes,
        "epsilon_at": clock.epsilon_at,
        "td_steps": len(td),
        "parameters": sum(p.numel() for p in model.q_net.parameters()),
        "replay_bytes_per_transition": buffer.observations.nbytes / buffer.buffer_size,
        "torch_threads": torch.get_num_threads(),
    }
