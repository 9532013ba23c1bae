"""The DQN loop, written once for every backend (workload.py has the settings).

Epsilon-greedy acting on a stack of the last 4 frames, every step stored in the
frame-by-frame replay memory, a TD step on a sampled batch every ``train_every`` agent
steps once the random steps are over, the target network synced every
``target_every`` steps. A backend supplies only the agent (shared.protocol.QAgent).

The harness's clock: each TD step, each greedy ``q_values`` call, each game step and
each replay sample is timed apart with ``time.perf_counter`` (the GC off throughout),
so the record separates the framework's share from the game's and the memory's. Every
call into the agent goes through one ``CallClock``: the first call of each of its
functions (tracing and compiling) is kept out of every steady figure and every speed.
The cyclic garbage is collected between agent steps, outside every timed span
(benchmarks.memory), and each episode's row records the process's RSS.

Resuming (cell.py: a checkpoint every ``checkpoint_every`` agent steps, checkpoint.py's
file). A resumed run keeps the online and target weights, the agent-step count (so the
epsilon schedule, the target syncs and the total are the uninterrupted run's), the
episode log (numbers, the running window), the evaluation rows, the wall time and the
emulator frames played, so every curve continues. It refills the rest: the replay
memory starts empty and is refilled with ``random_steps`` steps at the current epsilon
(no TD steps meanwhile), Adam's moments and step count start again from zero (the
protocol's agent carries weights only), the game starts a new episode (the one under
way at the checkpoint is not logged), with game, acting and sampling streams of its
own (``segment_seeds``), and the record's TD-step rows and timing are this process's.
The steps after the last checkpoint are played again.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.memory import (
    MB,
    collect_due_garbage,
    current_rss_mb,
    pause_collector,
    resume_collector,
)
from benchmarks.timing import CallClock
from benchmarks.workloads.dqn.atari import AtariGame, FrameStack

# checkpoint.py's functions, importable from here as before they moved there
from benchmarks.workloads.dqn.checkpoint import (  # noqa: F401
    BadCheckpoint,
    check_checkpoint_params,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from benchmarks.workloads.dqn.config import REWARD_CLIP, DQNConfig
from benchmarks.workloads.dqn.replay import ReplayMemory
from shared.params import rng_for
from shared.protocol import QAgent
from shared.td import TDBatch

ACTING_STREAM = 4  # shared.params stream of the agent's random choices
REPLAY_STREAM = 5  # the replay memory's sampling (its own, not the weights' INIT_STREAM)
GAME_STREAM = 6  # a resumed run's game (a fresh run's game is seeded with the cell's seed)
# Evaluation games are seeded apart from the training game, and alike at every
# evaluation: each one plays the same no-op starts, so its rows compare policies.
EVAL_SEED_OFFSET = 1_000_000
RUNNING_WINDOW = 100  # episodes in the running mean and max


@dataclass
class DQNHistory:
    """What the loop measured. Seconds throughout; steps are agent steps."""

    episodes: list[dict[str, Any]] = field(default_factory=list)
    # every call into the agent: "q_values", "td_step", "sync_target"
    clock: CallClock = field(default_factory=CallClock)
    td_losses: list[float] = field(default_factory=list)
    game_seconds: float = 0.0
    sample_seconds: float = 0.0
    agent_steps: int = 0
    emulator_frames: int = 0
    learning_steps: int = 0  # agent steps played with learning on
    learning_seconds: float = 0.0  # their wall time, everything included
    learning_first_calls_s: float = 0.0  # first calls into the agent inside that time
    total_seconds: float = 0.0
    diverged_at_step: int | None = None
    replay_bytes_per_transition: float = 0.0
    replay_capacity: int = 0
    # one row per periodic evaluation (``evaluate_now``), a resumed run's earlier ones first
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    eval_seconds: float = 0.0  # wall time of this process's evaluations
    # wall time played before this process (a resumed run's checkpoint says how much),
    # and when this process started playing: rows' ``wall_s`` count from the cell's start
    wall_offset_s: float = 0.0
    play_start: float = 0.0
    frames_offset: int = 0  # emulator frames played before this process (the checkpoint's)
    first_step: int = 0  # the agent step this process started from (a resumed run's)

    def wall_s(self, now: float | None = None) -> float:
        """Seconds of play since the cell first started, earlier processes included."""
        now = time.perf_counter() if now is None else now
        return now - self.play_start + self.wall_offset_s

    # batches sampled from the memory at the end (``keep_batches``): the cell's parity check
    final_batches: list[TDBatch] = field(default_factory=list)

    @property
    def td_seconds(self) -> list[float]:
        """Every TD step's seconds, the first (compiling) included."""
        return self.clock.all_s("td_step")

    @property
    def act_seconds(self) -> list[float]:
        """Every greedy ``q_values`` call's seconds, the first (compiling) included."""
        return self.clock.all_s("q_values")

    def td_rows(self) -> list[dict[str, float | None]]:
        """One row per TD step, shaped as the supervised records' epoch rows (an
        "epoch" of a DQN record is one TD step on one batch), so the speed table,
        the bootstrap and ``compare`` read them unchanged."""
        return [
            {"epoch": i + 1, "loss": loss if math.isfinite(loss) else None, "seconds": sec}
            for i, (loss, sec) in enumerate(zip(self.td_losses, self.td_seconds, strict=True))
        ]


class EpisodeLog:
    """Per-episode rows as the source logged them, plus wall time and speed."""

    def __init__(self, history: DQNHistory, start: float):
        self.history, self.start = history, start
        self.recent: deque[float] = deque(maxlen=RUNNING_WINDOW)
        self.score, self.steps, self.losses = 0.0, 0, []
        self.episode_start = start
        for row in history.episodes:  # a resumed run continues the running window
            self.recent.append(row["score"])

    def end(
        self, agent_steps: int, frames: int, epsilon: float, truncated: bool, replay_mb: float
    ) -> None:
        """Log the episode that ended at ``agent_steps``; ``replay_mb``: the replay
        memory's filled share (MiB), which the RSS holds by design."""
        now = time.perf_counter()
        # a first call into the agent (compiling) is no part of the episode's speed
        compiling_s = self.history.clock.first_calls_s(self.episode_start, now)
        self.recent.append(self.score)
        self.history.episodes.append(
            {
                "episode": len(self.history.episodes) + 1,
                "agent_steps": agent_steps,
                "frames": frames,
                "score": self.score,
                "running_mean": float(np.mean(self.recent)),
                "running_max": float(np.max(self.recent)),
                "epsilon": epsilon,
                "mean_loss": float(np.mean(self.losses)) if self.losses else None,
                "truncated": truncated,
                "wall_s": self.history.wall_s(now),
                "agent_steps_per_s": self.steps / max(now - self.episode_start - compiling_s, 1e-9),
                "rss_mb": current_rss_mb(),
                "replay_mb": replay_mb,
            }
        )
        self.score, self.steps, self.losses = 0.0, 0, []
        self.episode_start = now


def choose_action(
    agent: QAgent,
    stack: FrameStack,
    epsilon: float,
    rng: np.random.Generator,
    n_actions: int,
    history: DQNHistory,
) -> int:
    """Epsilon-greedy; a greedy choice's ``q_values`` call is timed by ``history.clock``."""
    if rng.random() < epsilon:
        return int(rng.integers(n_actions))
    observation = stack.observation()  # (1, stack, screen, screen) uint8
    q_values = history.clock.call("q_values", agent.q_values, observation)  # (1, n_actions)
    return int(np.argmax(q_values[0]))


def learn(agent: QAgent, memory: ReplayMemory, config: DQNConfig, history: DQNHistory) -> float:
    """One TD step on a fresh batch; returns its loss."""
    start = time.perf_counter()
    batch = memory.sample(config.batch_size)
    history.sample_seconds += time.perf_counter() - start
    loss = history.clock.call("td_step", agent.td_step, batch)
    history.td_losses.append(loss)
    return loss


Checkpoint = Callable[[int, DQNHistory], None]


def play(
    agent: QAgent,
    config: DQNConfig,
    seed: int,
    *,
    first_step: int = 0,
    history: DQNHistory | None = None,
    on_step: Callable[[int], None] | None = None,
    checkpoint: Checkpoint | None = None,
    keep_batches: int = 0,
) -> DQNHistory:
    """Play and learn from agent step ``first_step`` to ``config.agent_steps``.

    A resumed run (``first_step`` > 0, ``history`` holding the checkpoint's rows and
    offsets) starts with an empty replay memory: it acts without learning for
    ``config.random_steps`` steps (with its current epsilon) before the TD steps start
    again; the module's docstring lists what else it keeps and refills."""
    history = history or DQNHistory()
    game_seed, replay_seed, rng = segment_seeds(seed, first_step)
    game = AtariGame(config.atari, game_seed)
    memory = ReplayMemory(
        config.memory, config.atari.frame_shape, config.atari.stack, replay_seed, game.n_actions
    )
    history.replay_bytes_per_transition = memory.bytes_per_transition
    history.replay_capacity = config.memory
    # a run resumed from its last step (killed before its record was written) plays none
    history.agent_steps, history.emulator_frames = first_step, history.frames_offset
    history.first_step = first_step
    stack = FrameStack(config.atari.stack)
    frame, first = game.reset(), True
    stack.start(frame)
    learning_from = first_step + config.random_steps
    start = history.play_start = time.perf_counter()
    log = EpisodeLog(history, start)
    learning_start = None
    froze = pause_collector()
    try:
        for step in range(first_step, config.agent_steps):
            if step == learning_from:
                learning_start = time.perf_counter()
            epsilon = 1.0 if step < config.random_steps else config.epsilon(step)
            action = choose_action(agent, stack, epsilon, rng, game.n_actions, history)
            tick = time.perf_counter()
            result = game.step(action)
            history.game_seconds += time.perf_counter() - tick
            clipped = max(-REWARD_CLIP, min(REWARD_CLIP, result.reward))
            memory.add(frame, action, clipped, result.terminated, first)
            log.score += result.reward
            log.steps += 1
            frames = history.frames_offset + result.emulator_frames
            history.agent_steps, history.emulator_frames = step + 1, frames
            if step >= learning_from and (step - learning_from) % config.train_every == 0:
                loss = learn(agent, memory, config, history)
                log.losses.append(loss)
                if not math.isfinite(loss):
                    history.diverged_at_step = step + 1
                    break
            if (step + 1) % config.target_every == 0:
                history.clock.call("sync_target", agent.sync_target)
            if result.terminated or result.truncated:
                replay_mb = memory.size * memory.bytes_per_transition / MB
                log.end(step + 1, frames, epsilon, result.truncated, replay_mb)
                stack.start(result.frame)
            else:
                stack.push(result.frame)
            frame, first = result.frame, result.terminated or result.truncated
            if on_step is not None:
                on_step(step + 1)
            if config.eval_every and (step + 1) % config.eval_every == 0:
                spent = evaluate_now(agent, config, seed, history)
                log.episode_start += spent  # no part of the episode's speed
                if learning_start is not None:
                    learning_start += spent  # nor of agent steps/s with learning on
            if checkpoint and config.checkpoint_every and (step + 1) % config.checkpoint_every == 0:
                checkpoint(step + 1, history)
            collect_due_garbage()
    finally:
        resume_collector(froze)
        game.close()
    end = time.perf_counter()
    history.total_seconds = end - start
    if memory.size > config.atari.stack + 1:
        history.final_batches = [memory.sample(config.batch_size) for _ in range(keep_batches)]
    if learning_start is not None:
        history.learning_steps = history.agent_steps - learning_from
        history.learning_seconds = end - learning_start
        history.learning_first_calls_s = history.clock.first_calls_s(learning_start, end)
    return history


def segment_seeds(seed: int, first_step: int) -> tuple[int, int, np.random.Generator]:
    """``(game seed, replay memory seed, acting generator)`` of a run that starts at agent
    step ``first_step`` of the cell of ``seed``. Nothing else is random in the loop, so
    two backends that act alike see the same frames and sample the same batches. A
    resumed run (``first_step`` > 0) gets streams of its own: with the cell's it would
    replay the cell's first no-op starts and random actions."""

    def word(stream: int) -> int:  # 32 random bits of the stream
        return int(np.random.SeedSequence([stream, seed, first_step]).generate_state(1)[0])

    if not first_step:
        return seed, word(REPLAY_STREAM), rng_for(seed, ACTING_STREAM)
    acting = np.random.default_rng([ACTING_STREAM, seed, first_step])
    return word(GAME_STREAM) >> 1, word(REPLAY_STREAM), acting  # ALE takes 31-bit seeds


def evaluate_now(agent: QAgent, config: DQNConfig, seed: int, history: DQNHistory) -> float:
    """Play ``config.eval_episodes`` whole episodes at ``config.eval_epsilon`` without
    learning (Mnih et al.'s evaluation, on separately seeded games), append their row to
    ``history.evaluations`` and return the seconds they took."""
    tick = time.perf_counter()
    episodes = evaluate(
        agent, config, config.eval_episodes, config.eval_epsilon, seed + EVAL_SEED_OFFSET
    )
    spent = time.perf_counter() - tick
    history.eval_seconds += spent
    scores = [row["score"] for row in episodes]
    history.evaluations.append(
        {
            "agent_steps": history.agent_steps,
            "frames": history.emulator_frames,
            "wall_s": history.wall_s(tick),
            "epsilon": config.eval_epsilon,
            "scores": scores,
            "mean_score": float(np.mean(scores)),
            "episode_agent_steps": [row["agent_steps"] for row in episodes],
            "seconds": spent,
        }
    )
    return spent


# -------------------------------------------------------------------------- evaluation


def evaluate(
    agent: QAgent, config: DQNConfig, episodes: int, epsilon: float, seed: int
) -> list[dict[str, float]]:
    """Play ``episodes`` whole episodes, epsilon-greedy with a small fixed ``epsilon``,
    no learning; per episode its raw score, agent steps and emulator frames."""
    game = AtariGame(config.atari, seed)
    rng = rng_for(seed, ACTING_STREAM)
    stack = FrameStack(config.atari.stack)
    stack.start(game.reset())
    results, score, steps, frames, history = [], 0.0, 0, 0, DQNHistory()
    try:
        while len(results) < episodes:
            action = choose_action(agent, stack, epsilon, rng, game.n_actions, history)
            result = game.step(action)
            score, steps = score + result.reward, steps + 1
            if result.terminated or result.truncated:
                results.append(
                    {
                        "score": score,
                        "agent_steps": steps,
                        "frames": result.emulator_frames - frames,
                        "truncated": result.truncated,
                    }
                )
                score, steps, frames = 0.0, 0, result.emulator_frames
                stack.start(result.frame)
            else:
                stack.push(result.frame)
    finally:
        game.close()
    return results
