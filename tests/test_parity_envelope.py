"""A float32 cell beyond the fixed tolerance is judged against the NumPy reference's own
float32 rounding, measured on the cell's steps (benchmarks.parity_envelope). On the
N-body smoke data an honest float32 backend lies hundreds of tolerances from the
reference after 10 Adam steps and must read "within rounding"; one gradient scaled by
1.001 (which Adam's per-weight scaling hides from the weights) and a TD step that
bootstraps from the online network must still fail. Framework-free: the backends are
the NumPy reference with one change each."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from backends.numpy.agent import NumpyAgent
from backends.numpy.model import NumpyModel
from benchmarks.parity_check import agent_parity, supervised_parity
from benchmarks.report.parity import parity_verdict
from benchmarks.workloads.nbody.workload import NBody
from shared.optim import Adam
from shared.params import InitScheme, Params, cast_params, init_params
from tests.test_dqn_parity import LOSS, Q_NETWORK, TD, batches, start_params


class WideAccumulator(NumpyModel):
    """An honest float32 backend that computes each step's gradients in float64 and
    rounds them once (as a kernel with wide accumulators does)."""

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        kept = self.params, self.dtype
        self.params, self.dtype = cast_params(self.params, "float64"), np.dtype("float64")
        try:
            loss, grads = super().loss_and_grads(x, y)
        finally:
            self.params, self.dtype = kept
        return loss, cast_params(grads, "float32")


class OneGradientScaled(NumpyModel):
    """The reference with its first parameter's gradient scaled by 1.001."""

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        loss, grads = super().loss_and_grads(x, y)
        first = next(iter(grads))
        return loss, {**grads, first: grads[first] * np.asarray(1.001, grads[first].dtype)}


def nbody_smoke_parity(model_class: type, dtype: str) -> dict:
    workload = NBody()
    config = workload.config("two-body", "smoke")
    data = workload.data("two-body", "smoke", 0)
    start = init_params(config.network, config.init, 0)
    backend = SimpleNamespace(build_model=model_class)
    return supervised_parity(backend, config, data, lambda d: cast_params(start, d), dtype, "eager")


def test_an_honest_float32_backend_is_within_rounding_on_nbody() -> None:
    summary = nbody_smoke_parity(WideAccumulator, "float32")
    assert not summary["within_tolerance"]  # Adam has amplified float32 rounding
    assert summary["params_error_over_tolerance"] > 10
    rounding = summary["rounding"]
    assert rounding["within_rounding"], rounding
    assert rounding["params"]["envelope"] > 10  # the reference's own, of the same size
    assert "float64" not in summary  # no re-check for a pass
    verdict = parity_verdict({"parity": summary})
    assert verdict.startswith("within rounding (parameters: envelope ")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_gradient_scaled_by_1_001_fails_on_nbody(dtype: str) -> None:
    summary = nbody_smoke_parity(OneGradientScaled, dtype)
    assert not summary["within_tolerance"]
    if dtype == "float32":
        grads = summary["rounding"]["grads"]
        assert not summary["rounding"]["within_rounding"] and not grads["within"]
        assert grads["error"] > 100 * grads["envelope"]
        assert parity_verdict({"parity": summary}).startswith(
            "NO, beyond rounding (gradients of layer0.kernel: "
        )


class OnlineAsTarget(NumpyAgent):
    """The reference agent bootstrapping from the online network: a real bug."""

    def td_loss_and_grads(self, batch):
        kept = self.target_params
        self.target_params = self.params
        try:
            return super().td_loss_and_grads(batch)
        finally:
            self.target_params = kept


def test_an_agent_that_bootstraps_from_the_online_network_fails_in_float32() -> None:
    config = SimpleNamespace(
        network=Q_NETWORK,
        init=InitScheme("torch_default"),
        loss=LOSS,
        optimizer=Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8),
        td=TD,
        agent_steps=0,
    )
    backend = SimpleNamespace(build_agent=OnlineAsTarget)
    summary = agent_parity(backend, config, list(batches()), start_params, "float32", "eager")
    assert not summary["within_tolerance"] and not summary["rounding"]["within_rounding"]
    assert summary["envelope"]["params_error_over_tolerance"] < 1  # tiny net: no amplification
