"""The frame-by-frame replay memory against a naive one that stores every stacked state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from benchmarks.workloads.dqn.atari import FrameStack
from benchmarks.workloads.dqn.replay import ReplayMemory
from shared.specs import SpecError
from shared.td import TDBatch

STACK = 4
FRAME = (2, 3)


@dataclass
class NaiveTransition:
    obs: np.ndarray  # (STACK, *FRAME)
    action: int
    reward: float
    next_obs: np.ndarray
    done: bool
    sampleable: bool  # a truncated episode's last transition has no next state stored


def frame_of(step: int) -> np.ndarray:
    """A frame that names its step: the replay memory must return exactly these."""
    frame = np.zeros(FRAME, dtype=np.uint8)
    frame[0, 0], frame[0, 1], frame[1, 2] = step % 256, step // 256, 7
    return frame


def play(memory: ReplayMemory, steps: int, seed: int) -> list[NaiveTransition]:
    """Episodes of random lengths (some shorter than the stack), ended by termination or
    truncation, fed to ``memory`` as the DQN driver feeds it; the naive transitions are
    the states the agent saw through its FrameStack."""
    rng = np.random.default_rng(seed)
    stack = FrameStack(STACK)
    frame, first = frame_of(0), True
    stack.start(frame)
    left = int(rng.integers(1, 9))
    naive = []
    for step in range(steps):
        obs = stack.observation()[0]
        action, reward = int(rng.integers(0, 6)), float(rng.choice([-1.0, 0.0, 1.0]))
        left -= 1
        ended = left == 0
        terminal = ended and rng.random() < 0.7
        next_frame = frame_of(step + 1)
        memory.add(frame, action, reward, terminal, first)
        if ended:  # the game resets: next_frame is the next episode's first frame
            naive.append(NaiveTransition(obs, action, reward, obs, terminal, terminal))
            stack.start(next_frame)
            left, first = int(rng.integers(1, 9)), True
        else:
            stack.push(next_frame)
            naive.append(NaiveTransition(obs, action, reward, stack.observation()[0], False, True))
            first = False
        frame = next_frame
    return naive


@pytest.mark.parametrize(("capacity", "steps"), [(500, 300), (64, 300), (37, 1000)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stacks_match_a_naive_buffer(capacity: int, steps: int, seed: int) -> None:
    memory = ReplayMemory(capacity, FRAME, STACK, seed)
    naive = play(memory, steps, seed)
    assert memory.size == min(capacity, steps)
    offset = steps - memory.size  # naive index of the oldest stored step
    logical = np.arange(memory.size)
    sampleable = memory.sampleable(logical)
    expected = np.array(
        [
            naive[offset + j].sampleable and STACK - 1 <= j < memory.size - 1
            for j in range(memory.size)
        ]
    )
    np.testing.assert_array_equal(sampleable, expected)
    batch = memory.transitions(logical[sampleable])
    for row, j in enumerate(logical[sampleable]):
        truth = naive[offset + j]
        np.testing.assert_array_equal(batch.obs[row], truth.obs, err_msg=f"obs of step {j}")
        assert batch.actions[row] == truth.action
        assert batch.rewards[row] == truth.reward
        assert bool(batch.dones[row]) == truth.done
        if not truth.done:  # a terminal transition's next state is never read
            np.testing.assert_array_equal(batch.next_obs[row], truth.next_obs)


def test_no_stack_mixes_two_episodes() -> None:
    memory = ReplayMemory(200, FRAME, STACK, seed=3)
    play(memory, 400, seed=3)
    batch = memory.sample(512)
    # step ids of each stack, oldest first: consecutive, or repeating the episode's first
    ids = batch.obs[:, :, 0, 0].astype(int) + 256 * batch.obs[:, :, 0, 1].astype(int)
    steps = np.diff(ids, axis=1)
    assert np.all((steps == 1) | (steps == 0))
    repeats = steps == 0  # padding happens only at the old end of the stack
    assert np.all(np.diff(repeats.astype(int), axis=1) <= 0)


def test_sample_draws_only_sampleable_transitions() -> None:
    memory = ReplayMemory(100, FRAME, STACK, seed=4)
    naive = play(memory, 100, seed=4)
    batch = memory.sample(2000)
    valid = {(t.obs.tobytes(), t.action) for t in naive[STACK - 1 : -1] if t.sampleable}
    drawn = {(obs.tobytes(), int(a)) for obs, a in zip(batch.obs, batch.actions, strict=True)}
    assert drawn <= valid
    assert len(drawn) > 0.8 * len(valid)  # uniform over them: nearly all show up


def test_a_million_transitions_fit_at_about_7_kb_each() -> None:
    memory = ReplayMemory(1_000_000, (84, 84), STACK, seed=0)  # lazily mapped: no RAM yet
    assert memory.bytes_per_transition == pytest.approx(84 * 84 + 7)
    assert memory.nbytes < 7.1e9


def test_too_small_or_empty_memory_is_refused() -> None:
    with pytest.raises(SpecError):
        ReplayMemory(STACK, FRAME, STACK, seed=0)
    with pytest.raises(SpecError):
        ReplayMemory(10, FRAME, STACK, seed=0).sample(1)


def good_transition() -> dict:
    return {"frame": frame_of(1), "action": 2, "reward": 1.0, "terminal": False, "first": True}


@pytest.mark.parametrize(
    ("field", "value", "error", "match"),
    [
        ("frame", frame_of(1).astype(np.float32) + 0.7, TypeError, "uint8"),  # 0.7 -> 0
        ("frame", frame_of(1).astype(np.int64), TypeError, "uint8"),
        ("frame", frame_of(1).tolist(), TypeError, "uint8"),
        ("frame", np.zeros((FRAME[1],), np.uint8), ValueError, "shape"),  # would broadcast
        ("frame", np.zeros((1, *FRAME), np.uint8), ValueError, "shape"),
        ("action", 256, ValueError, r"\[0, 256\)"),  # stored as uint8: it would wrap to 0
        ("action", -1, ValueError, r"\[0, 256\)"),
        ("action", 2.0, TypeError, "integer"),
        ("action", True, TypeError, "integer"),
        ("reward", float("nan"), ValueError, "finite"),
        ("reward", float("inf"), ValueError, "finite"),
        ("reward", "1", TypeError, "real"),
        ("terminal", 0.5, TypeError, "bool"),
        ("first", None, TypeError, "bool"),
        ("first", 2, TypeError, "bool"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_add_refuses_a_bad_transition_and_stores_nothing(field, value, error, match) -> None:
    memory = ReplayMemory(10, FRAME, STACK, seed=0)
    with pytest.raises(error, match=match):
        memory.add(**{**good_transition(), field: value})
    assert memory.size == 0 and not memory.frames.any()


def test_add_refuses_actions_the_game_does_not_have() -> None:
    memory = ReplayMemory(10, FRAME, STACK, seed=0, n_actions=6)
    for action in (6, 7):  # an agent would index Q-values out of range (JAX clamps)
        with pytest.raises(ValueError, match=r"\[0, 6\)"):
            memory.add(**{**good_transition(), "action": action})
    memory.add(**{**good_transition(), "action": 5})
    assert memory.size == 1


def test_add_takes_numpy_scalars_and_int_flags() -> None:
    memory = ReplayMemory(10, FRAME, STACK, seed=0, n_actions=6)
    memory.add(frame_of(3), np.int64(5), np.float32(-1.0), np.bool_(True), 1)
    memory.add(frame_of(4), 0, 0, 0, False)
    assert memory.size == 2
    assert memory.actions[0] == 5 and memory.rewards[0] == -1.0 and memory.terminal[0]
    np.testing.assert_array_equal(memory.frames[0], frame_of(3))


def test_memory_sizes_are_checked() -> None:
    for kwargs in ({"n_actions": 257}, {"n_actions": 0}, {"n_actions": 2.0}):
        with pytest.raises(SpecError, match="n_actions"):
            ReplayMemory(10, FRAME, STACK, seed=0, **kwargs)
    with pytest.raises(SpecError, match="frame_shape"):
        ReplayMemory(10, (0, 3), STACK, seed=0)
    with pytest.raises(SpecError, match="capacity"):
        ReplayMemory(10.0, FRAME, STACK, seed=0)


def td_batch(**changes) -> TDBatch:
    frames = np.zeros((2, STACK, *FRAME), np.uint8)
    arrays = {
        "obs": frames,
        "actions": np.array([0, 1]),
        "rewards": np.array([1.0, 0.0], np.float32),
        "next_obs": frames.copy(),
        "dones": np.array([0.0, 1.0], np.float32),
    }
    return TDBatch(**{**arrays, **changes})


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"obs": np.zeros((2, STACK, *FRAME), np.float32)}, "uint8"),
        ({"obs": np.zeros((2, *FRAME), np.uint8)}, r"\(batch, C, H, W\)"),
        ({"next_obs": np.zeros((2, STACK, 3, 2), np.uint8)}, "next_obs"),
        ({"actions": np.array([0.0, 1.0])}, "actions"),
        ({"rewards": np.array([1.0, np.nan], np.float32)}, "finite"),
        ({"rewards": np.array([1.0], np.float32)}, "rewards"),
        ({"dones": np.array([0.0, 0.5], np.float32)}, "0 or 1"),
        ({"dones": np.array([False, True])}, "dones"),
    ],
)
def test_td_batch_refuses_what_the_agents_would_misread(changes, match) -> None:
    td_batch()  # the unchanged batch is fine
    with pytest.raises(SpecError, match=match):
        td_batch(**changes)


def test_frame_stack_refuses_frames_the_agent_would_misread() -> None:
    stack = FrameStack(STACK)
    with pytest.raises(ValueError, match="uint8"):
        stack.start(frame_of(0) / 255.0)
    stack.start(frame_of(0))
    with pytest.raises(ValueError, match="shape"):
        stack.push(np.zeros((3, 2), np.uint8))
    stack.push(frame_of(1))
    assert stack.observation().dtype == np.uint8
