"""A cell's float32 parity check that fails is re-checked in float64 and at equal
weights (benchmarks.parity_check). A float64 pass alone must not clear a difference that
only float32 reaches: here a backend that halves BCE's gradient exactly on the clip
bound (what ``jnp.clip`` did), which a saturated float32 sigmoid hits and float64 never
does. Framework-free: the backend is the NumPy reference with that one change."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from backends.numpy import model as reference
from backends.numpy.layers import backward
from backends.numpy.losses import loss_and_output_grad
from backends.numpy.model import NumpyModel
from benchmarks.document import Table
from benchmarks.parity_check import check_gradients_at_reference, supervised_parity
from benchmarks.report.parity import parity_blocks
from benchmarks.workloads.base import EpochData, TrainingConfig
from shared.losses import BinaryCrossEntropy
from shared.optim import SGD
from shared.params import InitScheme, Params, cast_params
from shared.protocol import ModelSpec
from shared.specs import Dense, Network
from tests.parity_boundaries import SATURATED_LOGIT

NETWORK = Network((2,), (Dense(1, "sigmoid"),))
CONFIG = TrainingConfig(
    NETWORK, InitScheme("normal"), BinaryCrossEntropy(1e-7), SGD(lr=10.0), 10, 1, 4
)
DATA = EpochData(
    np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])[None], np.zeros((1, 4, 1))
)
START: Params = {"layer0.kernel": np.zeros((2, 1)), "layer0.bias": np.array([SATURATED_LOGIT])}


class HalvedOnTheBound(NumpyModel):
    """The reference, but with half of BCE's gradient where the output is exactly on a
    clip bound, in float32 only (float64 never lands there on this data)."""

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        pred = self.predict(x)
        value, grad = loss_and_output_grad(self.loss, pred, y.astype(self.dtype))
        bounds = np.array([self.loss.eps, 1 - self.loss.eps], dtype=self.dtype)
        grad = np.where(np.isin(pred, bounds), grad / 2, grad)
        return float(value), backward(self.layers, self.params, grad.astype(self.dtype))


def build_model(spec: ModelSpec):
    return HalvedOnTheBound(spec)


HALVING_BACKEND = SimpleNamespace(build_model=build_model)


def test_a_float32_only_kink_difference_is_not_called_rounding() -> None:
    summary = supervised_parity(
        HALVING_BACKEND, CONFIG, DATA, lambda dtype: cast_params(START, dtype), "float32", "eager"
    )
    assert not summary["within_tolerance"]
    assert summary["float64"]["within_tolerance"]  # float64 does not reach the bound
    gradients = summary["float32_gradients"]
    assert not gradients["within_tolerance"]
    assert gradients["grads_error_over_tolerance"] > 100  # half the gradient, not rounding
    record = {"variant": "v", "backend": "b", "mode": "eager", "dtype": "float32"}
    table = next(b for b in parity_blocks([{**record, "parity": summary}]) if isinstance(b, Table))
    assert "float64: yes" in table.rows[0][-1] and "equal weights: NO" in table.rows[0][-1]


def test_an_honest_backend_passes_at_equal_weights() -> None:
    params = cast_params(START, "float32")
    summary = check_gradients_at_reference(reference, CONFIG, DATA, params, "float32", "eager")
    assert summary["within_tolerance"] and summary["grads_error_over_tolerance"] == 0.0
