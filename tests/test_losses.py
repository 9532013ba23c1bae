"""The losses' definitions: the N-body family's curriculum quantile rule and its
schedule, the softmax cross-entropy's reduction, and ``loss_value`` against the NumPy
reference's losses. (Every backend against the NumPy reference: tests/test_parity.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from backends.numpy.losses import loss_and_output_grad
from shared.losses import (
    L1,
    MSE,
    Huber,
    PercentileCurriculum,
    Ratio,
    SoftmaxCrossEntropy,
    curriculum_threshold,
    loss_quantiles,
    loss_value,
)
from shared.specs import SpecError
from tests.parity import cases


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("q", [0.1, 0.25, 0.333, 0.5, 0.9, 1.0])
def test_threshold_is_numpys_linear_quantile(q: float, dtype: str) -> None:
    abs_r = np.abs(np.random.default_rng(0).normal(size=37)).astype(dtype)
    threshold = curriculum_threshold(abs_r, q)
    assert threshold.dtype == np.dtype(dtype)
    expected = np.quantile(abs_r.astype(np.float64), q)  # method="linear"
    np.testing.assert_allclose(threshold, expected, rtol=1e-6 if dtype == "float32" else 1e-14)


def test_threshold_keeps_the_right_examples() -> None:
    a = np.array([0.5, 0.1, 0.4, 0.2, 0.3])  # sorted: 0.1 0.2 0.3 0.4 0.5
    assert np.sum(a <= curriculum_threshold(a, 1.0)) == 5  # q = 1 keeps every example
    assert np.sum(a <= curriculum_threshold(a, 0.5)) == 3  # pos 2: exactly 0.3, kept
    assert np.sum(a <= curriculum_threshold(a, 0.6)) == 3  # pos 2.4: between 0.3 and 0.4
    assert np.sum(a <= curriculum_threshold(a, 0.0001)) == 1  # the smallest always stays
    ties = np.array([0.2, 0.2, 0.2, 0.7])
    assert np.sum(ties <= curriculum_threshold(ties, 0.4)) == 3  # ties at it are kept


def test_quantile_grows_from_start_to_one_by_half_of_training() -> None:
    curriculum = PercentileCurriculum()
    q = loss_quantiles(curriculum, 100)
    assert q[0] == pytest.approx(0.1)
    assert q[25] == pytest.approx(0.55)
    # the source's formula: min(1, 2 * (epoch / epochs) * (1 - 0.1) + 0.1)
    source = [min(1, 2 * (e / 100) * (1 - 0.1) + 0.1) for e in range(100)]
    np.testing.assert_array_equal(q, source)
    assert np.all(q[50:] == 1.0) and np.all(np.diff(q) >= 0)
    assert loss_quantiles(cases()["nbody-loss-ratio"].loss, 10) is None
    with pytest.raises(SpecError, match="start"):
        PercentileCurriculum(start=0.0)


@pytest.mark.parametrize(
    "loss",
    [MSE(), L1(), Huber(delta=0.5), Ratio(), PercentileCurriculum(), SoftmaxCrossEntropy()],
    ids=lambda loss: type(loss).__name__,
)
def test_loss_value_is_the_reference_loss(loss) -> None:
    rng = np.random.default_rng(1)
    pred = rng.normal(size=(8, 5)) * 2
    target = rng.dirichlet(np.ones(5), size=8)  # probabilities: every loss takes them
    expected = loss_and_output_grad(loss, pred, target, quantile=0.5)[0]
    assert loss_value(loss, pred, target, quantile=0.5) == pytest.approx(expected, rel=1e-15)


def test_softmax_cross_entropy_is_a_mean_over_examples() -> None:
    """Sums over the classes, averages over the batch (not over batch * classes)."""
    loss = SoftmaxCrossEntropy()
    labels = np.eye(10)[[3, 7, 0]]
    assert loss_value(loss, np.zeros((3, 10)), labels) == pytest.approx(np.log(10), rel=1e-15)
    # shifting an example's logits by a constant changes nothing; a confident right
    # answer costs ~0, a confident wrong one ~its margin
    pred = np.repeat([[5.0], [-300.0]], 10, axis=1)
    pred[0, 3], pred[1, 7] = 105.0, -400.0
    value = loss_value(loss, pred, labels[:2])
    assert np.isfinite(value)
    assert value == pytest.approx((0.0 + 100.0 + np.log(9)) / 2, rel=1e-12)
