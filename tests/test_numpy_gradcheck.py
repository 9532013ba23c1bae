"""The NumPy reference's hand-written backward pass against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from backends.numpy.layers import build_layer
from backends.numpy.losses import loss_and_output_grad
from backends.numpy.model import build_model
from shared.losses import (
    L1,
    MSE,
    BinaryCrossEntropy,
    Huber,
    PercentileCurriculum,
    Ratio,
    RewardShaped,
    SoftmaxCrossEntropy,
)
from shared.optim import SGD
from shared.params import InitScheme, init_params
from shared.protocol import ModelSpec
from shared.specs import Conv2D, Dense, Flatten, MaxPool2D, Network

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
        ModelSpec(
            NET,
            init_params(NET, InitScheme("torch_default"), 0),
            LOSSES[loss_name],
            SGD(lr=0.1),
            "float64",
            "eager",
        )
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
        ModelSpec(
            net,
            init_params(net, InitScheme("normal"), 4),
            BinaryCrossEntropy(),
            SGD(lr=0.1),
            "float64",
            "eager",
        )
    )
    assert_backward_matches_finite_differences(model, x, y)


def _probability_targets(rng, batch: int, classes: int, all_sum_to_one: bool = False):
    """One-hot rows, soft rows that sum to 1, and (last, unless ``all_sum_to_one``) a row
    that does not: the output gradient's ``sum_c target_c`` term is checked too (a model
    refuses such targets: shared.losses.check_targets)."""
    y = rng.dirichlet(np.ones(classes), size=batch)
    y[0] = np.eye(classes)[1]
    y[1] = np.eye(classes)[classes - 1]
    if not all_sum_to_one:
        y[-1] *= 0.7
    return y


def test_softmax_cross_entropy_output_gradient_matches_finite_differences():
    rng = np.random.default_rng(9)
    pred = rng.normal(size=(5, 4)) * 3
    pred[2] = [50.0, -50.0, 49.0, 0.0]  # large logits: only the stable softmax copes
    pred[3] = [-50.0, -48.0, -50.0, -49.5]
    y = _probability_targets(rng, 5, 4)
    loss = SoftmaxCrossEntropy()
    value, grad = loss_and_output_grad(loss, pred, y)
    shifted = pred - pred.max(axis=1, keepdims=True)  # the definition, in float64
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(value, np.mean(-np.sum(y * log_p, axis=1)), rtol=1e-14)
    eps = 1e-6
    numeric = np.zeros_like(pred)
    for index in np.ndindex(pred.shape):
        for sign in (1, -1):
            shifted_pred = pred.copy()
            shifted_pred[index] += sign * eps
            numeric[index] += sign * loss_and_output_grad(loss, shifted_pred, y)[0] / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    # each row of the gradient sums to (sum(target) - sum(target)) / batch = 0
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-15)


def test_softmax_cross_entropy_is_stable_in_float32():
    """Logits of +-100: exp(100) overflows float32 (a naive softmax gives inf and nan),
    exp(-100) underflows; the max-shifted form keeps float32 at float64's values."""
    rng = np.random.default_rng(10)
    pred = np.array([[100.0, -100.0, 99.0, 0.0], [-100.0, -98.0, -100.0, -99.5]])
    y = _probability_targets(rng, 2, 4)
    value64, grad64 = loss_and_output_grad(SoftmaxCrossEntropy(), pred, y)
    value32, grad32 = loss_and_output_grad(
        SoftmaxCrossEntropy(), pred.astype(np.float32), y.astype(np.float32)
    )
    assert value32.dtype == np.float32 and grad32.dtype == np.float32
    assert np.isfinite(value32) and np.isfinite(grad32).all()
    np.testing.assert_allclose(value32, value64, rtol=1e-6)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-5, atol=1e-7)


def test_softmax_cross_entropy_backward_matches_finite_differences():
    net = Network((3,), (Dense(6, "tanh"), Dense(5, "relu"), Dense(4)))
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(6, 3)), _probability_targets(rng, 6, 4, all_sum_to_one=True)
    model = build_model(
        ModelSpec(
            net,
            init_params(net, InitScheme("torch_default"), 0),
            SoftmaxCrossEntropy(),
            SGD(lr=0.1),
            "float64",
            "eager",
        )
    )
    assert_backward_matches_finite_differences(model, x, y)


# Every conv and pool kind sits after another layer, so that its input gradient is
# checked too (the first layer's is never computed).
CNN = Network(
    (2, 9, 9),
    (
        Conv2D(3, 3, padding="same", activation="tanh"),  # (3, 9, 9)
        Conv2D(4, 3, stride=2, activation="tanh"),  # (4, 4, 4)  valid, strided
        Conv2D(3, 3, padding="same", activation="sigmoid"),  # (3, 4, 4)
        MaxPool2D(3, stride=1),  # (3, 2, 2)  overlapping windows
        Flatten(),
        Dense(2),
    ),
)


@pytest.mark.parametrize("loss", [MSE(), Huber(delta=0.9)], ids=["mse", "huber"])
def test_cnn_backward_matches_finite_differences(loss):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(3, *CNN.input_shape)), rng.normal(size=(3, 2))
    params = init_params(CNN, InitScheme("torch_default"), 0)
    model = build_model(ModelSpec(CNN, params, loss, SGD(lr=0.1), "float64", "eager"))
    if isinstance(loss, Huber):  # errors on both sides of delta
        error = np.abs(model.predict(x) - y)
        assert (error < loss.delta).any() and (error > loss.delta).any()
    assert_backward_matches_finite_differences(model, x, y)


def _layer_input_grad_check(spec, x, params=None):
    """The layer's input gradient of ``sum(w * layer(x))`` against central differences."""
    layer, params = build_layer(1, spec), params or {}
    w = np.random.default_rng(3).normal(size=layer.forward(x, params).shape)
    grads = {}
    d_x = layer.backward(w, params, grads)
    numeric = np.zeros_like(x)
    eps = 1e-6
    for index in np.ndindex(x.shape):
        for sign in (1, -1):
            shifted = x.copy()
            shifted[index] += sign * eps
            numeric[index] += sign * np.sum(w * layer.forward(shifted, params, keep=False))
    np.testing.assert_allclose(d_x, numeric / (2 * eps), rtol=1e-6, atol=1e-9)
    return d_x


@pytest.mark.parametrize(
    "spec",
    [Conv2D(3, 3, stride=2), Conv2D(3, 2, stride=3), Conv2D(3, 3, padding="same")],
    ids=["valid-stride2", "valid-stride3-gaps", "same"],
)
def test_conv_input_gradient_matches_finite_differences(spec):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 2, 8, 7))
    params = {
        "layer1.kernel": rng.normal(size=(spec.kernel, spec.kernel, 2, spec.filters)),
        "layer1.bias": rng.normal(size=spec.filters),
    }
    _layer_input_grad_check(spec, x, params)


def test_overlapping_max_pool_gradient_accumulates_where_windows_share_the_max():
    x = np.random.default_rng(5).normal(size=(2, 3, 7, 6))
    x[0, 0, 2, 2] = 10.0  # the max of the four 3x3 windows (stride 2) that share it
    d_x = _layer_input_grad_check(MaxPool2D(3, stride=2), x)
    layer = build_layer(1, MaxPool2D(3, stride=2))
    assert np.count_nonzero(d_x) < d_x.size  # a max pool routes, it does not spread
    layer.forward(x, {})
    ones = layer.backward(np.ones((2, 3, 3, 2)), {}, {})
    assert ones[0, 0, 2, 2] == 4.0


def test_max_pool_routes_ties_to_the_first_maximum():
    layer = build_layer(0, MaxPool2D(2))
    out = layer.forward(np.ones((1, 1, 2, 2)), {})
    d_x = layer.backward(np.full_like(out, 3.0), {}, {})
    np.testing.assert_array_equal(d_x[0, 0], [[3.0, 0.0], [0.0, 0.0]])


def test_flatten_is_channels_first_and_its_gradient_a_reshape():
    x = np.random.default_rng(6).normal(size=(2, 3, 4, 5))
    layer = build_layer(0, Flatten())
    np.testing.assert_array_equal(
        layer.forward(x, {})[1], np.concatenate([c.ravel() for c in x[1]])
    )
    _layer_input_grad_check(Flatten(), x)


def _direct_conv(x, kernel, bias, stride, pad):
    """Cross-correlation by its definition, one output element at a time."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    size, filters = kernel.shape[0], kernel.shape[3]
    out_h = (x.shape[2] - size) // stride + 1
    out_w = (x.shape[3] - size) // stride + 1
    out = np.zeros((x.shape[0], filters, out_h, out_w))
    for n, f, i, j in np.ndindex(out.shape):
        patch = x[n, :, i * stride : i * stride + size, j * stride : j * stride + size]
        out[n, f, i, j] = np.sum(patch * kernel[:, :, :, f].transpose(2, 0, 1)) + bias[f]
    return out


@pytest.mark.parametrize(
    "spec", [Conv2D(4, 3, stride=2), Conv2D(4, 3, padding="same"), Conv2D(4, 2, stride=3)]
)
def test_conv_and_pool_forward_match_their_definitions(spec):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 3, 8, 9))
    params = {
        "layer1.kernel": rng.normal(size=(spec.kernel, spec.kernel, 3, 4)),
        "layer1.bias": rng.normal(size=4),
    }
    pad = spec.kernel // 2 if spec.padding == "same" else 0
    expected = _direct_conv(x, params["layer1.kernel"], params["layer1.bias"], spec.stride, pad)
    np.testing.assert_allclose(build_layer(1, spec).forward(x, params), expected, rtol=1e-12)
    pooled = build_layer(0, MaxPool2D(3, stride=2)).forward(x, {})
    for n, c, i, j in np.ndindex(pooled.shape):
        assert pooled[n, c, i, j] == x[n, c, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].max()
