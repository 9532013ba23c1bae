"""The framework-free checks of data where it enters (the backends' use of them:
tests/test_input_checks.py; the replay memory's: tests/test_replay.py)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.workloads.base import EpochData
from benchmarks.workloads.search.digits import accuracy, one_hot
from shared.losses import MSE, SoftmaxCrossEntropy, check_targets, loss_value
from shared.params import InitScheme, check_params, init_params
from shared.specs import Dense, Network, SpecError


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_probability_targets_pass(dtype: str) -> None:
    rng = np.random.default_rng(0)
    check_targets(SoftmaxCrossEntropy(), np.eye(10, dtype=dtype)[[3, 1, 4]])
    check_targets(SoftmaxCrossEntropy(), np.eye(4, dtype=np.int64))  # integer one-hot
    soft = rng.dirichlet(np.ones(10), size=(5, 7)).astype(dtype)  # (steps, batch, classes)
    check_targets(SoftmaxCrossEntropy(), soft)
    smoothed = (0.9 * np.eye(10) + 0.01)[[2, 5]].astype(dtype)  # label smoothing
    check_targets(SoftmaxCrossEntropy(), smoothed)
    check_targets(MSE(), -soft)  # only the cross-entropy restricts its targets


@pytest.mark.parametrize(
    ("targets", "example"),
    [
        (np.full((2, 3), 0.8 / 3), "example 0 "),
        (np.array([[1.0, 0.0, 0.0], [1.2, -0.2, 0.0]]), "example 1 "),
        (np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [np.nan, 1.0]]]), r"example \(1, 1\)"),
        (np.array([[1.0, 1e-6, 0.0]]), "example 0 "),  # off by far more than rounding
    ],
)
def test_other_targets_are_refused_naming_the_example(targets, example) -> None:
    with pytest.raises(SpecError, match=f"probability vectors.*{example}"):
        check_targets(SoftmaxCrossEntropy(), targets)
    with pytest.raises(SpecError, match="probability vectors"):
        loss_value(SoftmaxCrossEntropy(), np.zeros(targets.shape), targets)


def test_one_hot_and_accuracy_refuse_labels_that_indexing_would_wrap_or_broadcast() -> None:
    np.testing.assert_array_equal(one_hot(np.array([0, 9]))[:, [0, 9]], np.eye(2))
    for labels in (np.array([-1, 2]), np.array([10]), np.array([1.0])):
        with pytest.raises(SpecError, match="labels"):
            one_hot(labels)
    logits = np.eye(3)
    assert accuracy(logits, np.array([0, 1, 0])) == pytest.approx(2 / 3)
    with pytest.raises(SpecError, match=r"labels \(n,\)"):
        accuracy(logits, np.array([[0], [1], [2]]))  # would broadcast to 3 x 3
    with pytest.raises(SpecError, match="labels"):
        accuracy(logits, np.array([0, 1, -1]))


def test_epoch_data_axes_must_agree() -> None:
    EpochData(np.zeros((3, 4, 2)), np.zeros((3, 4, 1)))
    EpochData(np.zeros((2, 3, 4, 2)), np.zeros((2, 3, 4, 1)), per_epoch=True)
    with pytest.raises(SpecError, match="differ"):
        EpochData(np.zeros((3, 4, 2)), np.zeros((3, 5, 1)))
    with pytest.raises(SpecError, match="leading axes"):
        EpochData(np.zeros((3, 4, 2)), np.zeros((3, 4, 1)), per_epoch=True)


def test_check_params_wants_float_arrays_of_the_network_layout() -> None:
    network = Network((2,), (Dense(3),))
    params = init_params(network, InitScheme("torch_default"), seed=0)
    check_params(network, params)
    check_params(network, {name: value.astype(np.float32) for name, value in params.items()})
    wrong = {
        "int": {**params, "layer0.bias": np.zeros(3, np.int64)},
        "list": {**params, "layer0.bias": [0.0, 0.0, 0.0]},
        "shape": {**params, "layer0.bias": np.zeros((1, 3))},
        "order": dict(reversed(params.items())),
        "not a dict": list(params.values()),
    }
    for what, bad in wrong.items():
        with pytest.raises(SpecError):
            check_params(network, bad)
            pytest.fail(f"accepted params with the wrong {what}")
