"""Keras model: the backend protocol on a compiled ``keras.Sequential``.

Modes map to ``Model.compile``: ``function`` (a tf.function graph per step, no XLA),
``eager`` (``run_eagerly=True``) and ``xla`` (``jit_compile=True``). Every step goes
through Keras's own train step, with the spec's loss and optimizer plugged in.

Hot path (measured on copy-net ``reward``, 1,000 batch-1 steps per epoch, and XOR
``momentum``, one step per epoch): ``fit`` costs ~25 ms of setup per call, and a
Python loop over steps (``train_on_batch``, or the train function fed from a Python
iterator) costs a function call per step, ~10x the in-graph loop. Keras's compiled
train function fed from a ``tf.data`` iterator runs ``steps_per_execution`` steps in
one ``tf.while_loop`` and returns the loss tracker's mean, so ``train_epoch`` is one
call and one host read. The iterator is created once in ``prepare`` over a repeated
dataset (creating and deleting one per epoch costs ~15 ms), and
``steps_per_execution`` equals the epoch's steps, so each call consumes one epoch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np

from backends.keras.layers import (
    build_network,
    canonical_variables,
    read_params,
    write_params,
)
from backends.keras.losses import SpecLoss
from backends.keras.optim import make_optimizer
from shared.losses import Loss
from shared.optim import Optimizer
from shared.params import Params, check_dtype, check_params
from shared.protocol import NotSupported
from shared.specs import Network

MODES = {
    "function": {"run_eagerly": False, "jit_compile": False},
    "eager": {"run_eagerly": True, "jit_compile": False},
    "xla": {"run_eagerly": False, "jit_compile": True},
}


def configure(threads: int, seed: int) -> None:
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Must run before TensorFlow's first op, which creates the thread pools.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    keras.utils.set_random_seed(seed)


@contextlib.contextmanager
def default_float(dtype: str) -> Iterator[None]:
    """Make ``dtype`` Keras's default float while compile-time objects are created.

    ``compile`` creates its loss wrapper and loss tracker (a ``Mean``) in
    ``floatx()``, and the optimizer its learning-rate variable: under the float32
    default a float64 model would report float32 losses.
    """
    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


@dataclass
class PreparedEpoch:
    """One epoch of batches in TensorFlow's form: an endless iterator over them."""

    batches: Any  # a tf.data iterator cycling over the (batch, *features) pairs
    steps: int


class KerasModel:
    def __init__(
        self,
        network: Network,
        params: Params,
        loss: Loss,
        optimizer: Optimizer,
        dtype: str,
        mode: str,
    ):
        check_params(network, params)
        self.dtype = dtype
        with default_float(dtype):
            self.net = build_network(network, dtype)
            self.loss = SpecLoss(loss, dtype)
            # Tracked by the model (a non-trainable variable of it), so that backends
            # whose train step is stateless feed its current value in.
            self.net.loss_quantile = self.loss.quantile
            self.optimizer = make_optimizer(optimizer)
            self.net.compile(optimizer=self.optimizer, loss=self.loss, **MODES[mode])
        self.variables = canonical_variables(self.net)
        self.optimizer.build(list(self.variables.values()))
        write_params(self.variables, params)
        self.net.make_train_function()
        self._loss_and_grads = tensorflow_loss_and_grads(
            self.net, list(self.variables.values()), **MODES[mode]
        )

    def _array(self, value: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(value, dtype=self.dtype)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.net.predict_on_batch(self._array(x))

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        value, grads = self._loss_and_grads(self._array(x), self._array(y))
        return float(value), {
            name: np.array(keras.ops.convert_to_numpy(g))
            for name, g in zip(self.variables, grads, strict=True)
        }

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        logs = self.net.train_on_batch(self._array(x), self._array(y), return_dict=True)
        return float(logs["loss"])

    def prepare(self, xs: np.ndarray, ys: np.ndarray) -> PreparedEpoch:
        steps = len(xs)
        if self.net.steps_per_execution != steps:
            # One train-function call runs steps_per_execution steps: one epoch.
            # Retraces once per distinct epoch length (the workloads have one).
            self.net.steps_per_execution = steps
            self.net.make_train_function(force=True)
        return PreparedEpoch(tensorflow_endless_iterator(self._array(xs), self._array(ys)), steps)

    def train_epoch(self, batches: PreparedEpoch) -> float:
        if batches.steps != self.net.steps_per_execution:
            raise ValueError("train_epoch needs the batches of this model's latest prepare")
        self.net.reset_metrics()  # the loss tracker then averages this epoch's steps
        logs = self.net.train_function(batches.batches)
        return float(logs["loss"])

    def get_params(self) -> Params:
        return read_params(self.variables)

    def set_params(self, params: Params) -> None:
        write_params(self.variables, params)

    def set_learning_rate(self, lr: float) -> None:
        self.optimizer.learning_rate = lr  # assigns the variable: nothing retraces

    def set_loss_quantile(self, q: float) -> None:
        self.loss.quantile.assign(q)  # a variable, as the learning rate: nothing retraces


# TensorFlow-specific pieces, kept here so the rest runs on any Keras backend.


def tensorflow_endless_iterator(xs: np.ndarray, ys: np.ndarray):
    """Iterator cycling over ``(xs[i], ys[i])``, converted to tensors once."""
    import tensorflow as tf

    return iter(tf.data.Dataset.from_tensor_slices((xs, ys)).repeat())


def tensorflow_loss_and_grads(
    net: keras.Model, variables: list, run_eagerly: bool, jit_compile: bool
):
    """``f(x, y) -> (loss, [d loss / d v for v in variables])`` compiled as the mode says."""
    import tensorflow as tf

    def loss_and_grads(x, y):
        with tf.GradientTape() as tape:
            y_pred = net(x, training=True)
            value = net.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
        return value, tape.gradient(value, variables)

    return loss_and_grads if run_eagerly else tf.function(loss_and_grads, jit_compile=jit_compile)


def build_model(
    network: Network, params: Params, loss: Loss, optimizer: Optimizer, dtype: str, mode: str
) -> KerasModel:
    if mode not in MODES:
        raise ValueError(f"keras backend has no mode {mode!r}; valid: {', '.join(MODES)}")
    check_dtype(dtype)
    if keras.backend.backend() != "tensorflow":
        raise NotSupported(
            f"keras backend: Keras on {keras.backend.backend()!r} is not "
            "implemented yet (loss_and_grads and prepare use TensorFlow)"
        )
    return KerasModel(network, params, loss, optimizer, dtype, mode)
