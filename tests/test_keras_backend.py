"""Checks specific to the Keras backend: no retracing, epoch loss, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from shared import registry
from shared.losses import MSE
from shared.optim import SGD
from shared.params import InitScheme, init_params
from shared.protocol import NotSupported
from shared.specs import Conv2D, Dense, Flatten, Network
from tests.parity import assert_params_close, build, cases

pytestmark = pytest.mark.skipif(
    bool(registry.missing_packages("keras")), reason="keras is not installed"
)


@pytest.mark.parametrize("mode", ["function", "xla"])
def test_nothing_retraces_across_epochs_and_rate_changes(mode: str) -> None:
    case = cases()["mlp-sgd-momentum-decay"]
    model = build("keras", case, "float64", mode)
    batches = model.prepare(case.xs, case.ys)
    model.train_epoch(batches)
    traces = model.loss.traces  # SpecLoss.call runs once per trace
    model.train_epoch(batches)
    model.set_learning_rate(0.01)
    model.train_epoch(batches)
    model.train_epoch(model.prepare(case.xs[::-1], case.ys[::-1]))  # new data, same shapes
    assert model.loss.traces == traces


@pytest.mark.parametrize("mode", ["function", "eager", "xla"])
def test_epoch_loss_is_mean_of_losses_before_each_update(mode: str) -> None:
    case = cases()["xor-online"]
    by_epoch = build("keras", case, "float64", mode)
    by_step = build("keras", case, "float64", mode)
    batches = by_epoch.prepare(case.xs, case.ys)
    for _ in range(2):  # the second epoch reuses the prepared batches
        epoch_loss = by_epoch.train_epoch(batches)
        step_losses = [by_step.train_step(x, y) for x, y in zip(case.xs, case.ys, strict=True)]
        assert epoch_loss == pytest.approx(np.mean(step_losses), rel=1e-12, abs=0)
    assert_params_close(by_epoch.get_params(), by_step.get_params(), "float64", "params")


def test_float64_stays_float64() -> None:
    case = cases()["mlp-adam-clip-decay"]
    model = build("keras", case, "float64", "function")
    model.train_epoch(model.prepare(case.xs, case.ys))
    assert {v.dtype for v in model.net.weights} == {"float64"}
    float_vars = [v for v in model.optimizer.variables if "int" not in v.dtype]
    assert {v.dtype for v in float_vars} == {"float64"}
    assert model.net.metrics[0].dtype == "float64"  # the loss tracker
    assert model.predict(case.xs[0]).dtype == np.float64
    assert {g.dtype for g in model.loss_and_grads(case.xs[0], case.ys[0])[1].values()} == {
        np.dtype("float64")
    }


def test_unknown_mode_and_unsupported_layers() -> None:
    module = registry.load("keras")
    network = Network((2,), (Dense(1),))
    params = init_params(network, InitScheme("torch_default"), seed=0)
    with pytest.raises(ValueError, match="no mode"):
        module.build_model(network, params, MSE(), SGD(lr=0.1), "float32", "jit")
    conv = Network((1, 4, 4), (Conv2D(2, 3), Flatten(), Dense(1)))
    conv_params = init_params(conv, InitScheme("torch_default"), seed=0)
    with pytest.raises(NotSupported, match="Conv2D"):
        module.build_model(conv, conv_params, MSE(), SGD(lr=0.1), "float32", "function")
