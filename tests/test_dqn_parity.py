"""The DQN's TD step (shared/td.py) in every backend and mode against the NumPy agent.

From one canonical start and the same sampled batches: the Q-values, the TD loss and its
gradients, then the loss, online and target weights after each of the first
``TD_STEPS`` steps, with a target sync after step ``SYNC_AFTER``. The NumPy agent itself
is checked against an oracle built from two plain NumPy models (online and target), so
a backend that bootstraps from the online network fails here, whichever it is.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pytest

from benchmarks.workloads import get_workload
from shared import registry
from shared.losses import Huber, huber
from shared.optim import SGD, Adam, Optimizer
from shared.params import DTYPES, InitScheme, Params, init_params
from shared.protocol import AgentSpec, ModelSpec
from shared.specs import Conv2D, Dense, Flatten, Network
from shared.td import TDBatch, TDSpec, scale_frames
from shared.tolerances import TD_PARITY_STEPS, TD_SYNC_AFTER
from tests.parity import OTHER_BACKENDS, assert_close, assert_params_close, backends_to_test

TD_STEPS, SYNC_AFTER = TD_PARITY_STEPS, TD_SYNC_AFTER
N_ACTIONS = 3
BATCH = 6
# A scaled-down Nature CNN: the same layer kinds, strides and activations.
Q_NETWORK = Network(
    (4, 20, 20),
    (
        Conv2D(4, 4, stride=2, activation="relu"),  # (4, 9, 9)
        Conv2D(5, 3, stride=2, activation="relu"),  # (5, 4, 4)
        Flatten(),
        Dense(8, "relu"),
        Dense(N_ACTIONS, "linear"),
    ),
)
TD = TDSpec(discount=0.9)
LOSS = Huber(delta=1.0)


@dataclass(frozen=True)
class AgentCase:
    name: str
    optimizer: Optimizer


CASES = {
    case.name: case
    for case in (
        # clip_global_norm 0.1 is active on these batches (norms 0.27 to 0.44; checked below)
        AgentCase(
            "adam-clip", Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, clip_global_norm=0.1)
        ),
        AgentCase("sgd", SGD(lr=0.05)),
    )
}


def start_params(dtype: str) -> Params:
    return init_params(Q_NETWORK, InitScheme("torch_default"), seed=5, dtype=dtype)


@functools.cache
def batches() -> tuple[TDBatch, ...]:
    """TD_STEPS batches; rewards of the clipped range and a few terminal transitions."""
    rng = np.random.default_rng(21)
    shape = (BATCH, *Q_NETWORK.input_shape)
    return tuple(
        TDBatch(
            obs=rng.integers(0, 256, size=shape, dtype=np.uint8),
            actions=rng.integers(0, N_ACTIONS, size=BATCH).astype(np.int64),
            rewards=rng.choice(np.array([-1.0, 0.0, 1.0], dtype=np.float32), size=BATCH),
            next_obs=rng.integers(0, 256, size=shape, dtype=np.uint8),
            dones=(rng.random(BATCH) < 0.3).astype(np.float32),
        )
        for _ in range(TD_STEPS)
    )


def build_agent(backend: str, case: AgentCase, dtype: str, mode: str | None = None):
    module = registry.load(backend)
    mode = mode or registry.get(backend).default_mode
    return module.build_agent(
        AgentSpec(Q_NETWORK, start_params(dtype), LOSS, case.optimizer, dtype, mode, TD)
    )


@dataclass
class AgentTrace:
    q_values: np.ndarray
    loss: float
    grads: Params
    step_losses: list[float]
    step_params: list[Params]
    step_targets: list[Params]


def agent_trace(agent) -> AgentTrace:
    first = batches()[0]
    q_values = np.asarray(agent.q_values(first.obs))
    loss, grads = agent.td_loss_and_grads(first)
    losses, params, targets = [], [], []
    for step, batch in enumerate(batches(), start=1):
        losses.append(agent.td_step(batch))
        if step == SYNC_AFTER:
            agent.sync_target()
        params.append(agent.get_params())
        targets.append(agent.get_target_params())
    return AgentTrace(q_values, loss, grads, losses, params, targets)


@functools.cache
def reference_trace(case_name: str, dtype: str) -> AgentTrace:
    return agent_trace(build_agent("numpy", CASES[case_name], dtype))


def oracle_td_loss(online: Params, target: Params, batch: TDBatch) -> float:
    """shared/td.py's loss from two independent plain NumPy models, in float64."""
    module = registry.load("numpy")

    def values(params: Params, obs: np.ndarray) -> np.ndarray:
        model = module.build_model(
            ModelSpec(Q_NETWORK, params, LOSS, SGD(lr=1.0), "float64", "eager")
        )
        return model.predict(scale_frames(obs, "float64"))

    q = values(online, batch.obs)[np.arange(len(batch)), batch.actions]
    bootstrap = values(target, batch.next_obs).max(axis=1)
    y = batch.rewards + TD.discount * (1.0 - batch.dones.astype(np.float64)) * bootstrap
    return float(np.mean(huber(q - y, LOSS.delta)))


def test_numpy_agent_bootstraps_from_the_target_network() -> None:
    agent = build_agent("numpy", CASES["adam-clip"], "float64")
    start = agent.get_params()
    agent.td_step(batches()[0])  # the online weights move; the target keeps ``start``
    online = agent.get_params()
    batch = batches()[1]
    loss, _ = agent.td_loss_and_grads(batch)
    assert loss == pytest.approx(oracle_td_loss(online, start, batch), rel=1e-12)
    # The check has teeth: bootstrapping from the online weights gives another loss.
    wrong = oracle_td_loss(online, online, batch)
    assert abs(wrong - loss) > 1e-6 * abs(loss)
    assert_params_close(agent.get_target_params(), start, "float64", "target before sync")
    agent.sync_target()
    assert_params_close(agent.get_target_params(), online, "float64", "target after sync")


def test_numpy_td_gradients_match_finite_differences() -> None:
    agent = build_agent("numpy", CASES["sgd"], "float64")
    batch = batches()[0]
    _, grads = agent.td_loss_and_grads(batch)
    params, target = agent.get_params(), agent.get_target_params()
    rng = np.random.default_rng(0)
    for name, value in params.items():
        for _ in range(3):
            index = tuple(rng.integers(0, size) for size in value.shape)
            eps = 1e-6
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][index] += eps
            minus[name][index] -= eps
            numeric = (
                oracle_td_loss(plus, target, batch) - oracle_td_loss(minus, target, batch)
            ) / (2 * eps)
            assert grads[name][index] == pytest.approx(numeric, rel=1e-5, abs=1e-9), name


def test_clipping_is_active_in_the_clip_case() -> None:
    agent = build_agent("numpy", CASES["adam-clip"], "float64")
    _, grads = agent.td_loss_and_grads(batches()[0])
    norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    assert norm > 2 * CASES["adam-clip"].optimizer.clip_global_norm


def agent_combos():
    for backend in backends_to_test(OTHER_BACKENDS):
        info = registry.get(backend)
        if not info.runs(get_workload("dqn")):
            continue
        for mode in info.modes_for(get_workload("dqn")):
            for dtype in info.dtypes:
                for case in CASES:
                    yield pytest.param(
                        backend, mode, dtype, case, id=f"{backend}-{mode}-{dtype}-{case}"
                    )


@pytest.mark.parametrize(("backend", "mode", "dtype", "case_name"), list(agent_combos()))
def test_td_steps_match_numpy(backend: str, mode: str, dtype: str, case_name: str) -> None:
    actual = agent_trace(build_agent(backend, CASES[case_name], dtype, mode))
    expected = reference_trace(case_name, dtype)
    assert_close(actual.q_values, expected.q_values, dtype, "q_values")
    assert_close(actual.loss, expected.loss, dtype, "TD loss")
    assert_params_close(actual.grads, expected.grads, dtype, "TD gradients")
    for step in range(TD_STEPS):
        what = f"after TD step {step + 1}"
        assert_close(actual.step_losses[step], expected.step_losses[step], dtype, f"loss {what}")
        assert_params_close(actual.step_params[step], expected.step_params[step], dtype, what)
        assert_params_close(
            actual.step_targets[step], expected.step_targets[step], dtype, f"target {what}"
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_q_values_keep_the_model_dtype(dtype: str) -> None:
    for backend in backends_to_test(("numpy", *OTHER_BACKENDS)):
        info = registry.get(backend)
        if not info.runs(get_workload("dqn")) or dtype not in info.dtypes:
            continue
        agent = build_agent(backend, CASES["sgd"], dtype)
        q = np.asarray(agent.q_values(batches()[0].obs))
        assert q.shape == (BATCH, N_ACTIONS), backend
        assert q.dtype == np.dtype(dtype), backend
