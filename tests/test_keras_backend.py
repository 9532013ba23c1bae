"""Checks specific to the Keras backend: no retracing, epoch loss, dtypes, errors.

They run on the Keras backend this process can load: ``keras`` (TensorFlow) in the
main test run, ``keras-jax`` and ``keras-torch`` in the subprocesses that
test_keras_multibackend.py starts with their registry env applied.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from shared import registry
from shared.losses import MSE, Huber
from shared.optim import SGD
from shared.params import InitScheme, init_params
from shared.protocol import AgentSpec, ModelSpec
from shared.specs import Dense, Network
from shared.td import TDSpec
from tests import test_dqn_parity as dqn
from tests.parity import assert_params_close, backends_to_test, build, cases

KERAS_BACKENDS = [
    name
    for name in backends_to_test(registry.BACKENDS)
    if registry.get(name).module == "backends.keras.model"
]
KERAS = KERAS_BACKENDS[0] if KERAS_BACKENDS else "keras"
MODES = list(registry.get(KERAS).modes) if KERAS_BACKENDS else []
COMPILED_MODES = [mode for mode in MODES if mode != "eager"]
# The epoch's loss is the same Python code in every mode around the mode's train step:
# Keras's torch.compile (~40 s here to compile both models) adds nothing the eager mode
# and the parity epoch test (tests/test_parity.py) do not show; every mode with
# BENCH_FULL_PARITY=1.
EPOCH_LOSS_MODES = [
    mode
    for mode in MODES
    if os.environ.get("BENCH_FULL_PARITY") == "1" or (KERAS, mode) != ("keras-torch", "compile")
]

pytestmark = pytest.mark.skipif(
    not KERAS_BACKENDS or bool(registry.missing_packages(KERAS)),
    reason="no Keras backend loads in this process, or it is not installed",
)


def compilations(model) -> int:
    """Traces so far: SpecLoss.call runs once per trace (JAX, TensorFlow); under
    torch.compile it does not count, so dynamo's graph count is added."""
    count = model.loss.traces
    if KERAS == "keras-torch":
        from torch._dynamo.utils import counters

        count += counters["stats"]["unique_graphs"]
    return count


@pytest.mark.parametrize("mode", COMPILED_MODES)
def test_nothing_retraces_across_epochs_and_rate_changes(mode: str) -> None:
    case = cases()["mlp-sgd-momentum-decay"]
    model = build(KERAS, case, "float64", mode)
    batches = model.prepare(case.xs, case.ys)
    model.train_epoch(batches)
    traces = compilations(model)
    model.train_epoch(batches)
    model.set_learning_rate(0.01)
    model.train_epoch(batches)
    model.train_epoch(model.prepare(case.xs[::-1], case.ys[::-1]))  # new data, same shapes
    assert compilations(model) == traces


@pytest.mark.parametrize("mode", EPOCH_LOSS_MODES)
def test_epoch_loss_is_mean_of_losses_before_each_update(mode: str) -> None:
    case = cases()["xor-online"]
    by_epoch = build(KERAS, case, "float64", mode)
    by_step = build(KERAS, case, "float64", mode)
    batches = by_epoch.prepare(case.xs, case.ys)
    for _ in range(2):  # the second epoch reuses the prepared batches
        epoch_loss = by_epoch.train_epoch(batches)
        step_losses = [by_step.train_step(x, y) for x, y in zip(case.xs, case.ys, strict=True)]
        assert epoch_loss == pytest.approx(np.mean(step_losses), rel=1e-12, abs=0)
    assert_params_close(by_epoch.get_params(), by_step.get_params(), "float64", "params")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept_everywhere(dtype: str) -> None:
    case = cases()["mlp-adam-clip-decay"]
    model = build(KERAS, case, dtype)
    model.train_epoch(model.prepare(case.xs, case.ys))
    assert {v.dtype for v in model.net.weights} == {dtype}
    float_vars = [v for v in model.optimizer.variables if "int" not in v.dtype]
    assert {v.dtype for v in float_vars} == {dtype}
    assert {v.dtype for v in model.net.metrics_variables} == {dtype}  # the loss tracker
    assert model.predict(case.xs[0]).dtype == np.dtype(dtype)
    grads = model.loss_and_grads(case.xs[0], case.ys[0])[1]
    assert {g.dtype for g in grads.values()} == {np.dtype(dtype)}


def test_unknown_mode() -> None:
    module = registry.load(KERAS)
    network = Network((2,), (Dense(1),))
    params = init_params(network, InitScheme("torch_default"), seed=0)
    with pytest.raises(ValueError, match="no mode"):
        module.build_model(
            ModelSpec(network, params, MSE(), SGD(lr=0.1), "float32", "no-such-mode")
        )
    with pytest.raises(ValueError, match="no mode"):
        module.build_agent(
            AgentSpec(network, params, Huber(), SGD(lr=0.1), "float32", "no-such-mode", TDSpec())
        )


@pytest.mark.parametrize("mode", COMPILED_MODES)
def test_td_steps_never_retrace(mode: str) -> None:
    """The agent's compiled TD step is traced once: not again for new batches, after a
    target sync or when the online weights are replaced. (On torch, the second step
    compiled again while Keras's gradients stayed set: native.torch_release_grads.)"""
    agent = dqn.build_agent(KERAS, dqn.CASES["sgd"], "float32", mode)
    first, *rest = dqn.batches()
    agent.td_step(first)
    traces = compilations(agent)
    for batch in rest[:2]:
        agent.td_step(batch)
    agent.sync_target()
    agent.set_params(agent.get_params())
    agent.td_step(rest[2])
    assert compilations(agent) == traces
