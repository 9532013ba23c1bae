"""The DQN loop (benchmarks/workloads/dqn/loop.py) on the real game with a scripted agent: what it
plays, stores, learns from, syncs and logs; checkpoints and evaluation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from benchmarks.workloads.dqn.atari import AtariGame, AtariSpec
from benchmarks.workloads.dqn.loop import evaluate, load_checkpoint, play, restore, save_checkpoint
from benchmarks.workloads.dqn.workload import DQN, REWARD_CLIP
from shared.params import Params
from shared.td import TDBatch

CONFIG = DQN().dqn_config("space-invaders", "smoke")


class ScriptedAgent:
    """Prefers action 1 (FIRE); counts calls; checks every batch it is given."""

    def __init__(self, n_actions: int):
        self.n_actions = n_actions
        self.online: Params = {"w": np.zeros(2)}
        self.target: Params = {"w": np.zeros(2)}
        self.td_steps = self.syncs = self.q_calls = 0

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        assert obs.shape == (1, *CONFIG.atari.observation_shape) and obs.dtype == np.uint8
        self.q_calls += 1
        q = np.zeros((1, self.n_actions))
        q[0, 1] = 1.0
        return q

    def td_step(self, batch: TDBatch) -> float:
        assert batch.obs.shape == (CONFIG.batch_size, *CONFIG.atari.observation_shape)
        assert np.all(np.abs(batch.rewards) <= REWARD_CLIP)
        self.td_steps += 1
        self.online = {"w": self.online["w"] + 1}
        return 0.5

    def sync_target(self) -> None:
        self.syncs += 1
        self.target = {k: v.copy() for k, v in self.online.items()}

    def get_params(self) -> Params:
        return {k: v.copy() for k, v in self.online.items()}

    def get_target_params(self) -> Params:
        return {k: v.copy() for k, v in self.target.items()}

    def set_params(self, params: Params) -> None:
        self.online = {k: v.copy() for k, v in params.items()}


@pytest.fixture(scope="module")
def smoke_run():
    # short episodes: end every game after 60 agent steps (240 frames, plus no-ops)
    config = replace(CONFIG, atari=replace(CONFIG.atari, max_episode_frames=300))
    agent = ScriptedAgent(6)
    return agent, config, play(agent, config, seed=0)


def test_loop_counts(smoke_run) -> None:
    agent, config, history = smoke_run
    learning = config.agent_steps - config.random_steps
    assert history.agent_steps == config.agent_steps
    assert agent.td_steps == len(history.td_seconds) == learning // config.train_every
    assert agent.syncs == config.agent_steps // config.target_every
    assert history.learning_steps == learning and history.learning_seconds > 0
    # greedy calls happen only after the random steps, at about 1 - epsilon of them
    assert 0 < agent.q_calls == len(history.act_seconds) < learning
    assert history.emulator_frames >= 4 * config.agent_steps


def test_episode_rows(smoke_run) -> None:
    _, config, history = smoke_run
    rows = history.episodes
    assert len(rows) >= 3  # truncated at 300 frames each
    assert [r["episode"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(r["truncated"] for r in rows)
    scores = [r["score"] for r in rows]
    for i, row in enumerate(rows):
        assert row["running_mean"] == pytest.approx(np.mean(scores[: i + 1]))
        assert row["running_max"] == max(scores[: i + 1])
        assert row["agent_steps_per_s"] > 0
    steps = [r["agent_steps"] for r in rows]
    assert steps == sorted(steps) and steps[-1] <= config.agent_steps
    assert rows[0]["epsilon"] == 1.0  # the first episode ends during the random steps
    # the raw game score, not the clipped reward: Space Invaders pays 5 to 30 per alien
    assert max(scores) > REWARD_CLIP


def test_epsilon_decays_linearly_after_the_random_steps() -> None:
    c = CONFIG
    assert c.epsilon(0) == c.epsilon(c.random_steps) == c.epsilon_start
    middle = c.random_steps + c.epsilon_steps // 2
    assert c.epsilon(middle) == pytest.approx((c.epsilon_start + c.epsilon_end) / 2)
    assert c.epsilon(c.random_steps + c.epsilon_steps + 7) == c.epsilon_end


def test_checkpoint_round_trip(tmp_path) -> None:
    online = {"layer0.kernel": np.arange(6.0).reshape(2, 3), "layer0.bias": np.ones(3)}
    target = {name: value * 2 for name, value in online.items()}
    path = tmp_path / "cell.ckpt.npz"
    save_checkpoint(path, online, target, {"agent_steps": 12, "episodes": [{"score": 5.0}]})
    loaded_online, loaded_target, meta = load_checkpoint(path)
    assert list(loaded_online) == list(online)
    for name in online:
        np.testing.assert_array_equal(loaded_online[name], online[name])
        np.testing.assert_array_equal(loaded_target[name], target[name])
    assert meta == {"agent_steps": 12, "episodes": [{"score": 5.0}]}
    agent = ScriptedAgent(6)
    restore(agent, {"w": np.ones(2)}, {"w": np.full(2, 3.0)})
    np.testing.assert_array_equal(agent.get_params()["w"], 1.0)
    np.testing.assert_array_equal(agent.get_target_params()["w"], 3.0)


def test_evaluate_plays_whole_episodes() -> None:
    config = replace(CONFIG, atari=replace(CONFIG.atari, max_episode_frames=200))
    results = evaluate(ScriptedAgent(6), config, episodes=2, epsilon=0.05, seed=1)
    assert len(results) == 2
    for result in results:
        assert result["agent_steps"] > 0 and result["frames"] >= 4 * result["agent_steps"]


def test_game_preprocessing() -> None:
    game = AtariGame(AtariSpec(), seed=0)
    try:
        frame = game.reset()
        assert frame.shape == (84, 84) and frame.dtype == np.uint8
        assert game.n_actions == 6
        before = game.step(0).emulator_frames
        after = game.step(0).emulator_frames
        assert after - before == 4  # frame skip 4
    finally:
        game.close()


def test_agent_steps_per_second_leave_the_first_td_step_out() -> None:
    from benchmarks.workloads.dqn.cell import steady_agent_steps_per_s

    timing = {"learning_agent_steps": 400, "learning_s": 70.0, "first_epoch_s": 60.0}
    assert steady_agent_steps_per_s(timing) == pytest.approx(40.0)
    assert steady_agent_steps_per_s({"learning_agent_steps": 0, "learning_s": 0.0}) is None
