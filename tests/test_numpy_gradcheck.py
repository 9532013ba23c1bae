"""The NumPy reference's hand-written backward pass against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from backends.numpy.model import build_model
from shared.losses import L1, MSE, BinaryCrossEntropy, PercentileCurriculum, Ratio, RewardShaped
from shared.optim import SGD
from shared.params import InitScheme, init_params
from shared.specs import Dense, Network

NET = Network((3,), (Dense(4, "tanh"), Dense(5, "sigmoid"), Dense(3, "relu"), Dense(2)))
LOSSES = {
    "mse": MSE(),
    "reward-exp-penalty": RewardShaped("exp", 1.0, 100.0, 1.333, 0.01),
    "reward-linear": RewardShaped("linear", 0.5),
    "reward-exp": RewardShaped("exp", 0.5, 1.0),
    "l1": L1(),
    "ratio": Ratio(),
    "curriculum": PercentileCurriculum(),
}
# The curriculum's quantile for the check: 0.6 of 6 examples keeps 4 (pos = 3, exact),
# 0.5 keeps 3 of them by interpolation (pos = 2.5).
QUANTILES = {"curriculum": (0.6, 0.5)}


def numeric_grads(model, x, y, eps=1e-6):
    params = model.get_params()
    grads = {}
    for name, value in params.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            for sign in (1, -1):
                shifted = {k: v.copy() for k, v in params.items()}
                shifted[name][index] += sign * eps
                model.set_params(shifted)
                grad[index] += sign * model.loss_and_grads(x, y)[0] / (2 * eps)
        grads[name] = grad
    model.set_params(params)
    return grads


def assert_backward_matches_finite_differences(model, x, y):
    _, grads = model.loss_and_grads(x, y)
    for name, grad in grads.items():  # a dead unit would make the comparison vacuous
        assert np.abs(grad).max() > 1e-4, f"{name}: gradient vanishes; pick another start"
    for name, expected in numeric_grads(model, x, y).items():
        np.testing.assert_allclose(grads[name], expected, rtol=1e-6, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_backward_matches_finite_differences(loss_name):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2)) * 3
    model = build_model(
        NET,
        init_params(NET, InitScheme("torch_default"), 0),
        LOSSES[loss_name],
        SGD(lr=0.1),
        "float64",
        "eager",
    )
    for q in QUANTILES.get(loss_name, (None,)):
        if q is not None:
            model.set_loss_quantile(q)
        assert_backward_matches_finite_differences(model, x, y)


def test_binary_cross_entropy_backward_matches_finite_differences():
    net = Network((2,), (Dense(3, "tanh"), Dense(1, "sigmoid")))
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    model = build_model(
        net,
        init_params(net, InitScheme("normal"), 4),
        BinaryCrossEntropy(),
        SGD(lr=0.1),
        "float64",
        "eager",
    )
    assert_backward_matches_finite_differences(model, x, y)
