"""The design MDP and the agents: every trajectory is a valid network spec, masking
allows exactly the actions the rules allow, and the agents are deterministic.

The rules are checked against an oracle written from the rules alone (on the design's
own ``Network`` shapes), not from ``SearchSpace``'s bookkeeping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.workloads.search.metaqnn import (
    EpsilonSchedule,
    QLearning,
    QLearningSpec,
    RandomSearch,
    sample_design,
)
from benchmarks.workloads.search.space import (
    TERMINATE,
    SearchSpace,
    design_from_key,
    design_key,
)
from benchmarks.workloads.search.workload import SMOKE_SPACE, Search
from shared.specs import Conv2D, Dense, Flatten, MaxPool2D, Network, SpecError

SPACES = {
    "default": SearchSpace(),
    "smoke": SMOKE_SPACE,
    "wide": SearchSpace(input_shape=(3, 12, 12), n_classes=4, pools=((2, 2), (3, 3), (5, 1))),
    "shallow": SearchSpace(max_depth=2, max_dense=0),
}
seeds = st.integers(min_value=0, max_value=2**32 - 1)
space_names = st.sampled_from(sorted(SPACES))


def _side(space: SearchSpace, design) -> int:
    """The representation's side after ``design``, from the Network's own shapes."""
    spatial = [layer for layer in design if not isinstance(layer, Dense)]
    if len(spatial) < len(design):
        return 1
    if not spatial:
        return space.input_shape[1]
    shapes = Network(space.input_shape, (*spatial, Flatten(), Dense(2))).layer_shapes()
    return shapes[len(spatial) - 1][1]


def rules_allow(space: SearchSpace, design, action) -> bool:
    """The oracle: may ``action`` follow ``design``? (the module docstring's rules)"""
    if action is TERMINATE:
        return len(design) >= 1
    if len(design) >= space.max_depth:
        return False
    dense_so_far = sum(isinstance(layer, Dense) for layer in design)
    if isinstance(action, Dense):
        return dense_so_far < space.max_dense
    if dense_so_far:
        return False
    side = _side(space, design)
    if isinstance(action, Conv2D):
        return action.kernel <= side
    previous_is_pool = bool(design) and isinstance(design[-1], MaxPool2D)
    return action.size <= side and not previous_is_pool


def check_valid_design(space: SearchSpace, design) -> None:
    network = space.to_network(design)  # validated by Network itself
    assert 1 <= len(design) <= space.max_depth
    assert sum(isinstance(layer, Dense) for layer in design) <= space.max_dense
    assert network.output_shape == (space.n_classes,)
    assert network.layers[-1] == Dense(space.n_classes, "linear")
    for index in range(len(design)):
        assert rules_allow(space, design[:index], design[index]), (design, index)
    assert design_from_key(design_key(design)) == design


@settings(max_examples=300, deadline=None)
@given(space_names, seeds, st.floats(0.0, 1.0))
def test_every_sampled_design_is_a_valid_network(space_name: str, seed: int, epsilon: float):
    space = SPACES[space_name]
    rng = np.random.default_rng(seed)
    # A Q-table of random values over the pairs a walk meets: the greedy choices then
    # go everywhere a learned table could send them.
    table: dict = {}
    for _ in range(3):
        design = sample_design(space, rng)
        for state, action in zip(space.states_of(design), (*design, TERMINATE), strict=True):
            table[(state, action)] = float(rng.random())
    for _ in range(5):
        check_valid_design(space, sample_design(space, rng, epsilon, table))


@settings(max_examples=200, deadline=None)
@given(space_names, seeds)
def test_masking_allows_exactly_the_valid_actions(space_name: str, seed: int):
    """Along a random walk, in every state: each action of the whole action set is
    listed by valid_actions exactly when the rules allow it, and every listed action
    keeps the design a valid network (ending right after it, where it may end)."""
    space = SPACES[space_name]
    design = sample_design(space, np.random.default_rng(seed))
    states = space.states_of(design)
    for prefix_length, state in enumerate(states):
        prefix = design[:prefix_length]
        valid = space.valid_actions(state)
        assert valid, state
        for action in (*space.layer_actions(), TERMINATE):
            assert (action in valid) == rules_allow(space, prefix, action), (prefix, action)
        for action in valid:
            if action is not TERMINATE:  # a design may end after any layer
                check_valid_design(space, (*prefix, action))


def test_invalid_actions_and_designs_are_refused():
    space = SearchSpace()
    with pytest.raises(SpecError):
        space.step(space.start, TERMINATE)  # an empty design
    with pytest.raises(SpecError):
        space.to_network((MaxPool2D(2, 2), MaxPool2D(2, 2)))  # pool after pool
    with pytest.raises(SpecError):
        space.to_network((Dense(32, "relu"), Conv2D(8, 3, padding="same", activation="relu")))
    too_deep = (Conv2D(8, 1, padding="same", activation="relu"),) * (space.max_depth + 1)
    with pytest.raises(SpecError):
        space.to_network(too_deep)
    shrunk = (MaxPool2D(3, 2), Conv2D(8, 3, padding="same", activation="relu"), MaxPool2D(3, 2))
    space.to_network(shrunk)  # 8 -> 3 -> 3 -> 1
    with pytest.raises(SpecError):  # a 3x3 kernel no longer fits
        space.to_network((*shrunk, Conv2D(8, 3, padding="same", activation="relu")))


def test_designs_end_in_the_classifier_with_flatten_before_dense():
    space = SearchSpace()
    design = (Conv2D(8, 3, padding="same", activation="relu"), MaxPool2D(2, 2), Dense(64, "relu"))
    assert space.to_network(design).layers == (
        *design[:2],
        Flatten(),
        Dense(64, "relu"),
        Dense(10, "linear"),
    )
    assert design_key(design) == "C8k3-P2s2-D64"


def test_the_same_seed_gives_the_same_designs_and_another_seed_others():
    space = SearchSpace()

    def designs(seed: int) -> list:
        agent = QLearning(space, np.random.default_rng(seed), QLearningSpec())
        out = []
        for episode, epsilon in enumerate(EpsilonSchedule(((1.0, 10), (0.2, 10))).epsilons()):
            design = agent.propose(epsilon)
            agent.learn(design, reward=math.sin(episode + len(design)))  # any fixed rewards
            out.append(design)
        return out

    assert designs(0) == designs(0)
    assert designs(0) != designs(1)
    random_a = RandomSearch(space, np.random.default_rng(5))
    random_b = RandomSearch(space, np.random.default_rng(5))
    assert [random_a.propose(1.0) for _ in range(20)] == [random_b.propose(1.0) for _ in range(20)]


def test_q_update_follows_metaqnn():
    """One update by hand: a two-layer design, lr 0.5, discount 1, Q initialised 0.5."""
    space = SearchSpace()
    agent = QLearning(space, np.random.default_rng(0), QLearningSpec(lr=0.5, replay=1))
    design = (Conv2D(8, 3, padding="same", activation="relu"), Dense(32, "relu"))
    start, after_conv, after_dense = space.states_of(design)
    agent.update(design, reward=0.9)
    # Backwards: the end learns from the reward, then each earlier pair from the best
    # value of the state after it (the just-updated end, or an untouched 0.5).
    assert agent.value(after_dense, TERMINATE) == pytest.approx(0.5 + 0.5 * (0.9 - 0.5))
    assert agent.value(after_conv, design[1]) == pytest.approx(0.5 + 0.5 * (0.7 - 0.5))
    assert agent.value(start, design[0]) == pytest.approx(0.5 + 0.5 * (0.6 - 0.5))
    agent.update(design, reward=0.1)  # the best after-value stays the untouched 0.5
    assert agent.value(after_dense, TERMINATE) == pytest.approx(0.7 + 0.5 * (0.1 - 0.7))
    assert agent.value(after_conv, design[1]) == pytest.approx(0.6 + 0.5 * (0.5 - 0.6))


def test_greedy_q_learning_exploits_what_it_learned():
    """With one design rewarded far above the rest, epsilon 0 proposes it."""
    space = SMOKE_SPACE
    agent = QLearning(space, np.random.default_rng(3), QLearningSpec(lr=0.5, replay=10))
    good = (Conv2D(8, 3, padding="same", activation="relu"), Dense(16, "relu"))
    for _ in range(5):
        agent.learn(good, reward=1.0)
    assert agent.propose(0.0) == good


def test_search_workload_configs_are_valid():
    workload = Search()
    for variant in workload.variants:
        for preset in ("smoke", "quick", "full"):
            config = workload.search_config(variant, preset)
            assert config.penalty(10_000) == pytest.approx(0.01 * (1e-4 + math.log(10_000)))
    assert Search().search_config("digits", "quick").schedule.episodes == 40
    assert Search().search_config("digits", "full").schedule.episodes == 2700
