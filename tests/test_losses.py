"""The N-body loss family's definitions: the curriculum's quantile rule and its schedule.
(Every backend against the NumPy reference: tests/test_parity.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from shared.losses import PercentileCurriculum, curriculum_threshold, loss_quantiles
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
