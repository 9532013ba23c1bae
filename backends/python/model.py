"""Plain-Python model of copy-net: the loop a person writes with no framework at all."""

from __future__ import annotations

import numpy as np

from backends.common import check_mode
from backends.python.agent import build_agent
from backends.python.layers import check_network, forward
from backends.python.losses import sample_loss
from backends.python.optim import ScalarSGD
from shared.losses import initial_quantile
from shared.params import Params, check_params
from shared.protocol import ModelSpec, NotSupported

__all__ = ["build_agent", "build_model", "configure"]

MODES = ("eager",)


def configure(threads: int, seed: int) -> None:
    """Nothing to configure: one thread, no randomness inside the backend."""


class ScalarModel:
    def __init__(self, spec: ModelSpec):
        check_network(spec.network)
        check_params(spec.network, spec.params)
        self.network = spec.network
        self.loss = spec.loss
        # Held as the protocol asks; no loss this backend runs has a curriculum.
        self.quantile = initial_quantile(spec.loss)
        self.optimizer = ScalarSGD(spec.optimizer)
        self.set_params(spec.params)

    def predict(self, x: np.ndarray) -> np.ndarray:
        flat = [forward(self.w, self.b, float(v)) for v in np.asarray(x).reshape(-1)]
        return np.asarray(flat, dtype=np.float64).reshape(-1, 1)

    def _batch_loss_and_grads(self, xs: list[float], ys: list[float]) -> tuple[float, float, float]:
        total = grad_w = grad_b = 0.0
        for x, y in zip(xs, ys, strict=True):
            value, d_pred = sample_loss(self.loss, forward(self.w, self.b, x), y)
            total += value
            grad_w += d_pred * x
            grad_b += d_pred
        n = len(xs)
        return total / n, grad_w / n, grad_b / n

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        value, grad_w, grad_b = self._batch_loss_and_grads(*self.prepare_batch(x, y))
        return value, {"layer0.kernel": np.array([[grad_w]]), "layer0.bias": np.array([grad_b])}

    def _step(self, xs: list[float], ys: list[float]) -> float:
        value, grad_w, grad_b = self._batch_loss_and_grads(xs, ys)
        self.w, self.b = self.optimizer.step(self.w, self.b, grad_w, grad_b)
        return value

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        return self._step(*self.prepare_batch(x, y))

    @staticmethod
    def prepare_batch(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
        return np.asarray(x).reshape(-1).tolist(), np.asarray(y).reshape(-1).tolist()

    def prepare(self, xs: np.ndarray, ys: np.ndarray) -> list[tuple[list[float], list[float]]]:
        """Python lists of floats, one (inputs, targets) pair per step."""
        return [self.prepare_batch(x, y) for x, y in zip(xs, ys, strict=True)]

    def train_epoch(self, batches: list[tuple[list[float], list[float]]]) -> float:
        total = 0.0
        for xs, ys in batches:
            total += self._step(xs, ys)
        return total / len(batches)

    def get_params(self) -> Params:
        return {"layer0.kernel": np.array([[self.w]]), "layer0.bias": np.array([self.b])}

    def set_params(self, params: Params) -> None:
        check_params(self.network, params)  # reshape(()) would take a (1, 1, 1) as well
        self.w = float(params["layer0.kernel"].reshape(()))
        self.b = float(params["layer0.bias"].reshape(()))

    def set_learning_rate(self, lr: float) -> None:
        self.optimizer.lr = lr

    def set_loss_quantile(self, q: float) -> None:
        self.quantile = q


def build_model(spec: ModelSpec) -> ScalarModel:
    if spec.dtype != "float64":
        raise NotSupported("python backend computes in Python floats (float64) only")
    check_mode("python", spec.mode, MODES)
    return ScalarModel(spec)
