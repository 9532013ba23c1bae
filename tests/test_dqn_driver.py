"""The DQN loop (benchmarks/workloads/dqn/loop.py) on the real game with a scripted agent: what it
plays, stores, learns from, syncs and logs; checkpoints and evaluation."""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import replace

import numpy as np
import pytest

from benchmarks.drivers import build_agent
from benchmarks.records import Cell
from benchmarks.workloads.dqn import loop
from benchmarks.workloads.dqn.atari import AtariGame, AtariSpec, GameStep
from benchmarks.workloads.dqn.cell import DQNRun, checkpoint_path
from benchmarks.workloads.dqn.loop import (
    DQNHistory,
    evaluate,
    load_checkpoint,
    play,
    restore,
    save_checkpoint,
    segment_seeds,
)
from benchmarks.workloads.dqn.workload import DQN, REWARD_CLIP
from shared import registry
from shared.params import Params, init_params
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


# ------------------------------------------------ the same game for every backend


def digest(*arrays: np.ndarray) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()


class FixedRuleAgent:
    """Acts by a rule of the observation alone, so that any two backends act alike, while
    ``inner`` (a backend's agent, or None) computes the Q-values (then ignored), the TD
    steps and the syncs. ``seen``: a digest of every observation and batch it is given."""

    def __init__(self, inner, n_actions: int):
        self.inner, self.n_actions, self.seen = inner, n_actions, []

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        self.seen.append(("obs", digest(obs)))
        if self.inner is not None and len(self.seen) < 5:  # a few: a forward pass is 2 ms
            self.inner.q_values(obs)
        q = np.zeros((1, self.n_actions))
        q[0, int(obs[0, -1].sum()) % self.n_actions] = 1.0  # the newest frame decides
        return q

    def td_step(self, batch: TDBatch) -> float:
        fields = (batch.obs, batch.actions, batch.rewards, batch.next_obs, batch.dones)
        self.seen.append(("batch", digest(*fields)))
        return 0.0 if self.inner is None else float(self.inner.td_step(batch))

    def sync_target(self) -> None:
        if self.inner is not None:
            self.inner.sync_target()


def watch_the_game(monkeypatch) -> list[tuple]:
    """Every step the loop's game plays, as (frame digest, reward, terminated, truncated,
    emulator frames), in order."""
    steps: list[tuple] = []

    class WatchedGame(AtariGame):
        def step(self, action: int) -> GameStep:
            result = super().step(action)
            ends = (result.reward, result.terminated, result.truncated, result.emulator_frames)
            steps.append((digest(result.frame), *ends))
            return result

    monkeypatch.setattr(loop, "AtariGame", WatchedGame)
    return steps


# 120 agent steps (an episode ends at 100), 40 random, then greedy most of the time, TD
# steps (batches of 32) at 40 and 80, target syncs after them: every random draw of the
# loop is made, and the backend's agent learns in between.
SAME_GAME = replace(
    CONFIG,
    agent_steps=120,
    random_steps=40,
    epsilon_steps=40,
    train_every=40,
    target_every=41,
    checkpoint_every=None,
)


def play_watched(monkeypatch, backend: str | None, seed: int) -> tuple[list, list]:
    """``(game steps, what the agent was given)`` of SAME_GAME played at ``seed`` by
    ``backend``'s agent (None: no framework) behind the fixed rule."""
    inner = None
    if backend is not None:
        module = registry.load(backend)
        params = init_params(SAME_GAME.network, SAME_GAME.init, seed, "float32")
        mode = registry.get(backend).default_mode
        inner = build_agent(module, SAME_GAME, params, "float32", mode)
    steps = watch_the_game(monkeypatch)
    agent = FixedRuleAgent(inner, 6)
    history = play(agent, SAME_GAME, seed)
    assert history.agent_steps == 120 and len(history.td_seconds) == 2
    return steps, agent.seen


def test_two_backends_that_act_alike_see_the_same_game(monkeypatch) -> None:
    """NumPy's agent and PyTorch's, acting by one rule: the same frames, rewards and ends
    at every step, the same observations acted on and the same TD batches sampled, with
    the process's global generators disturbed between them; another seed differs."""
    pytest.importorskip("torch")
    numpy_steps, numpy_seen = play_watched(monkeypatch, "numpy", 0)
    np.random.seed(12345)  # the loop must not read the global generators
    random.seed(12345)
    torch_steps, torch_seen = play_watched(monkeypatch, "torch", 0)
    assert len(numpy_steps) == 120 and any(step[2] or step[3] for step in numpy_steps)
    assert torch_steps == numpy_steps
    assert torch_seen == numpy_seen and sum(kind == "batch" for kind, _ in numpy_seen) == 2
    assert sum(kind == "obs" for kind, _ in numpy_seen) > 20  # greedy most of the time
    other_steps, other_seen = play_watched(monkeypatch, None, 1)
    assert [s[0] for s in other_steps] != [s[0] for s in numpy_steps]
    assert other_seen != numpy_seen


def test_a_resumed_run_plays_streams_of_its_own() -> None:
    fresh, resumed = segment_seeds(7, 0), segment_seeds(7, 200)
    assert fresh[0] == 7  # a fresh cell's game: its seed, as before resuming existed
    assert resumed[0] != fresh[0] and resumed[1] != fresh[1]
    assert 0 <= resumed[0] < 2**31 and segment_seeds(7, 200)[:2] == resumed[:2]
    assert resumed[2].random() != fresh[2].random()


# ------------------------------------------------------------- a resumed cell, in process


class Killed(Exception):
    """Stands for a kill -9 right after a checkpoint."""


class NetworkAgent(FixedRuleAgent):
    """The fixed rule with weights of the Q-network's shapes, which a checkpoint checks;
    a TD step changes them, so a resumed agent is seen to start from the saved ones."""

    def __init__(self, config):
        super().__init__(None, 6)
        self.online = init_params(config.network, config.init, 0, "float32")
        self.target = self.online

    def td_step(self, batch: TDBatch) -> float:
        super().td_step(batch)
        self.online = {name: value + 1 for name, value in self.online.items()}
        return 0.5

    def sync_target(self) -> None:
        self.target = self.online

    def get_params(self) -> Params:
        return self.online

    def get_target_params(self) -> Params:
        return self.target

    def set_params(self, params: Params) -> None:
        self.online = params


def test_a_resumed_cell_continues_its_curves(tmp_path) -> None:
    """A cell stopped right after its checkpoint at step 150 and resumed: the total, the
    episode log, the evaluation rows, the frames and the wall time continue."""
    config = replace(
        CONFIG,
        atari=replace(CONFIG.atari, max_episode_frames=200),  # 50-step episodes
        random_steps=50,
        checkpoint_every=150,
        eval_every=150,
        eval_episodes=1,
    )
    cell = Cell("dqn", "space-invaders", "numpy", "eager", "float32", 0, "smoke")
    record = tmp_path / cell.file_name
    first = DQNRun(cell, config, record)
    first.agent = NetworkAgent(config)

    def checkpoint_then_die(step: int, so_far: DQNHistory) -> None:
        DQNRun.checkpoint(first, step, so_far)
        if step == 150:
            raise Killed

    first.checkpoint = checkpoint_then_die
    with pytest.raises(Killed):
        first.run(None, {})
    _, _, meta = load_checkpoint(checkpoint_path(record))
    assert meta["agent_steps"] == 150 and len(meta["evaluations"]) == 1

    second = DQNRun(cell, config, record)
    second.agent = NetworkAgent(config)
    second.prepare({})
    assert second.first_step == 150
    saved = first.agent.online["layer0.kernel"]
    np.testing.assert_array_equal(second.agent.online["layer0.kernel"], saved)
    second.run(None, {})
    fields = second.outcome({}).fields
    assert fields["metrics"]["agent_steps"] == 300 and fields["resumed_from_step"] == 150
    assert fields["episodes"][: len(meta["episodes"])] == meta["episodes"]
    rows = fields["episodes"]
    assert [row["episode"] for row in rows] == list(range(1, len(rows) + 1))
    assert len(rows) > len(meta["episodes"]) >= 2
    for key in ("agent_steps", "frames", "wall_s"):
        assert all(a[key] < b[key] for a, b in itertools.pairwise(rows)), key
    evaluations = fields["evaluations"]
    assert evaluations[:1] == meta["evaluations"]
    assert [row["agent_steps"] for row in evaluations] == [150, 300]
    assert evaluations[0]["frames"] == meta["emulator_frames"] < evaluations[1]["frames"]
    assert evaluations[1]["wall_s"] > meta["wall_s"] > evaluations[0]["wall_s"]
    # refilled: 50 random steps from 150, then a TD step every 4 to 300
    assert len(second.history.td_seconds) == 100 // config.train_every
    assert fields["metrics"]["play_wall_s"] > meta["wall_s"]


def test_a_run_resumed_at_its_last_step_keeps_its_counts() -> None:
    """Killed after its last checkpoint, before the record: nothing left to play."""
    history = play(ScriptedAgent(6), CONFIG, 0, first_step=300, history=DQNHistory(frames_offset=9))
    assert (history.agent_steps, history.emulator_frames, history.td_losses) == (300, 9, [])
