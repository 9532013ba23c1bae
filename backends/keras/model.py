"""Keras model: the backend protocol on a compiled ``keras.Sequential``, on whichever
Keras backend ``KERAS_BACKEND`` selects (TensorFlow, JAX or PyTorch).

Modes map to ``Model.compile`` arguments, per Keras backend (``native.MODES``). Every
step goes through Keras's own train step, with the spec's loss and optimizer plugged
in; what must differ per Keras backend (threads, gradients for ``loss_and_grads``, how
an epoch is fed and run) lives in ``native.py``, one function per backend. The DQN
agent (``build_agent``) is in ``agent.py``.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np

from backends.common import check_spec
from backends.keras.agent import build_agent
from backends.keras.layers import (
    build_network,
    canonical_variables,
    read_params,
    write_params,
)
from backends.keras.losses import SpecLoss
from backends.keras.native import NATIVE, default_float, in_model_float, keras_mode
from backends.keras.optim import make_optimizer
from shared.losses import check_targets
from shared.params import Params, check_params
from shared.protocol import ModelSpec

__all__ = ["build_agent", "build_model", "configure"]


def configure(threads: int, seed: int) -> None:
    NATIVE[keras.backend.backend()].threads(threads)
    if keras.backend.backend() == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    # keras.utils.set_random_seed imports TensorFlow whenever it is installed (to seed
    # tf.data); elsewhere, seed what it seeds but that. Nothing here draws from these
    # generators (weights come from the canonical parameters), so this is hygiene.
    from keras.src.backend.common import global_state

    global_state.set_global_attribute("global_random_seed", seed)
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


@dataclass(frozen=True)
class PreparedEpoch:
    """One epoch of batches in the Keras backend's form (see ``native.*_prepare``)."""

    batches: Any
    steps: int


class KerasModel:
    def __init__(self, spec: ModelSpec):
        network, dtype = spec.network, spec.dtype
        self.network = network
        self.dtype = dtype
        self.native = NATIVE[keras.backend.backend()]
        compile_args = keras_mode(spec.mode)
        with default_float(dtype):
            self.net = build_network(network, dtype)
            self.loss = SpecLoss(spec.loss, dtype)
            # Tracked by the model (a non-trainable variable of it), so that backends
            # whose train step is stateless feed its current value in.
            self.net.loss_quantile = self.loss.quantile
            self.optimizer = make_optimizer(spec.optimizer)
            self.net.compile(optimizer=self.optimizer, loss=self.loss, **compile_args)
            self.optimizer.build(self.net.trainable_variables)
            # fit and train_on_batch build compile()'s loss wrapper before the first
            # train-function call; train_epoch calls that function directly, and dynamo
            # fails on the lazy build inside torch.compile: build it here, eagerly.
            zeros = np.zeros((1, *network.output_shape), dtype)
            self.net.compute_loss(y=zeros, y_pred=zeros)
            self.net.make_train_function()
            self._loss_and_grads = self.native.loss_and_grads(self.net, **compile_args)
        self.variables = canonical_variables(self.net, network)
        # Gradients come in trainable_variables order: it must be the canonical one.
        assert list(map(id, self.variables.values())) == list(map(id, self.net.trainable_variables))
        write_params(self.variables, spec.params)
        self._steps: int | None = None  # of the latest prepare

    def _array(self, value: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(value, dtype=self.dtype)

    @in_model_float
    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.net.predict_on_batch(self._array(x)))

    @in_model_float
    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        check_targets(self.loss.spec, y)
        value, grads = self._loss_and_grads(self._array(x), self._array(y))
        return float(value), {
            name: np.array(keras.ops.convert_to_numpy(g))
            for name, g in zip(self.variables, grads, strict=True)
        }

    @in_model_float
    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        check_targets(self.loss.spec, y)
        # Tensors, not NumPy: torch.compile breaks its graph where Keras converts a NumPy
        # input inside the compiled step (19 breaks on XOR, 2 with tensors).
        x, y = (keras.ops.convert_to_tensor(self._array(a)) for a in (x, y))
        logs = self.net.train_on_batch(x, y, return_dict=True)
        self.native.release_grads(self.net)
        return float(logs["loss"])

    @in_model_float
    def prepare(self, xs: np.ndarray, ys: np.ndarray) -> PreparedEpoch:
        check_targets(self.loss.spec, ys)
        self._steps = len(xs)
        return PreparedEpoch(
            self.native.prepare(self.net, self._array(xs), self._array(ys)), len(xs)
        )

    @in_model_float
    def train_epoch(self, batches: PreparedEpoch) -> float:
        if batches.steps != self._steps:
            # One train-function call runs the latest prepare's number of steps.
            raise ValueError("train_epoch needs batches as long as the latest prepare's")
        return float(self.native.run_epoch(self.net, batches.batches))

    def get_params(self) -> Params:
        return read_params(self.variables)

    def set_params(self, params: Params) -> None:
        check_params(self.network, params)
        write_params(self.variables, params)

    @in_model_float
    def set_learning_rate(self, lr: float) -> None:
        self.optimizer.learning_rate = lr  # assigns the variable: nothing retraces

    def set_loss_quantile(self, q: float) -> None:
        self.loss.quantile.assign(q)  # a variable, as the learning rate: nothing retraces


def build_model(spec: ModelSpec) -> KerasModel:
    keras_mode(spec.mode)  # raises for an unknown mode
    check_spec(spec)
    return KerasModel(spec)
