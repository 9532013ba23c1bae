"""NumPy model: the reference implementation of the backend protocol."""

from __future__ import annotations

import numpy as np

from backends.common import blas_threads, check_mode, check_spec
from backends.numpy.agent import build_agent
from backends.numpy.layers import backward, build_layers, forward
from backends.numpy.losses import loss_and_output_grad
from backends.numpy.optim import make_optimizer
from shared.losses import check_targets, initial_quantile
from shared.params import Params, cast_params, check_params
from shared.protocol import ModelSpec

__all__ = ["build_agent", "build_model", "configure"]

MODES = ("eager",)


def configure(threads: int, seed: int) -> None:
    del seed  # no randomness inside the backend
    blas_threads(threads)


class NumpyModel:
    def __init__(self, spec: ModelSpec):
        check_spec(spec)
        self.network = spec.network
        self.dtype = np.dtype(spec.dtype)
        self.loss = spec.loss
        self.quantile = initial_quantile(spec.loss)
        self.layers = build_layers(spec.network)
        self.params = cast_params(spec.params, spec.dtype)
        self.optimizer = make_optimizer(spec.optimizer, self.params)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return forward(self.layers, self.params, np.asarray(x, dtype=self.dtype))

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        check_targets(self.loss, y)
        pred = self.predict(x)
        value, grad_out = loss_and_output_grad(
            self.loss, pred, np.asarray(y, dtype=self.dtype), self.quantile
        )
        return float(value), backward(self.layers, self.params, grad_out.astype(self.dtype))

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        value, grads = self.loss_and_grads(x, y)
        self.optimizer.apply(self.params, grads)
        return value

    def prepare(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_targets(self.loss, ys)
        return (
            np.ascontiguousarray(xs, dtype=self.dtype),
            np.ascontiguousarray(ys, dtype=self.dtype),
        )

    def train_epoch(self, batches: tuple[np.ndarray, np.ndarray]) -> float:
        xs, ys = batches
        total = 0.0
        for x, y in zip(xs, ys, strict=True):
            total += self.train_step(x, y)
        return total / len(xs)

    def get_params(self) -> Params:
        return {name: value.copy() for name, value in self.params.items()}

    def set_params(self, params: Params) -> None:
        check_params(self.network, params)  # assignment would broadcast a wrong shape
        for name, value in cast_params(params, self.dtype.name).items():
            self.params[name][...] = value  # in place: the optimizer holds no copies

    def set_learning_rate(self, lr: float) -> None:
        self.optimizer.lr = lr

    def set_loss_quantile(self, q: float) -> None:
        self.quantile = q


def build_model(spec: ModelSpec) -> NumpyModel:
    check_mode("numpy", spec.mode, MODES)
    return NumpyModel(spec)
