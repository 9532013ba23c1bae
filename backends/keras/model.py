"""Keras model: the backend protocol on a compiled ``keras.Sequential``, on whichever
Keras backend ``KERAS_BACKEND`` selects (TensorFlow, JAX or PyTorch).

Modes map to ``Model.compile`` arguments, per Keras backend (``MODES``). Every step
goes through Keras's own train step, with the spec's loss and optimizer plugged in;
what must differ per Keras backend (threads, gradients for ``loss_and_grads``, how an
epoch is fed and run) lives in ``native.py``, one function per backend.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
from collections.abc import Callable, Iterator
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
from backends.keras.native import NATIVE
from backends.keras.optim import make_optimizer
from shared.losses import Loss
from shared.optim import Optimizer
from shared.params import Params, check_dtype, check_params
from shared.protocol import NotSupported
from shared.specs import Network

if keras.backend.backend() == "jax":
    import jax

    # float64 arrays need x64, set before JAX's first computation (importing Keras
    # makes none); every array Keras makes here has an explicit dtype, so float32
    # stays float32.
    jax.config.update("jax_enable_x64", True)
if keras.backend.backend() in ("jax", "torch"):
    from keras.src.backend.common import dtypes

    # Keras's type promotion maps float64 to float32 on every backend but TensorFlow
    # (JAX's x64-off default; keras-team/keras#23704), so with float64 inputs ops.tanh
    # (JAX), ops.matmul and ops.minimum (torch) return float32, silently. Both
    # frameworks run float64 natively here: keep it. float32 models stay float32.
    dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
if keras.backend.backend() == "torch":
    import torch._dynamo  # already imported by Keras

    # compile mode: Keras torch.compiles one train (and predict) function per model, all
    # one code object; past dynamo's 8 cache entries per code object it silently runs
    # eagerly. A process builds one model in a benchmark cell, ~40 in the tests.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)

EAGER = {"run_eagerly": True, "jit_compile": False}
MODES = {
    "tensorflow": {
        "function": {"run_eagerly": False, "jit_compile": False},  # tf.function, no XLA
        "eager": EAGER,
        "xla": {"run_eagerly": False, "jit_compile": True},
    },
    # On JAX, Keras jits the train step only with jit_compile=True; False runs eagerly.
    "jax": {"jit": {"run_eagerly": False, "jit_compile": True}, "eager": EAGER},
    # On torch, jit_compile=False runs eagerly whatever run_eagerly says; True wraps
    # the train step in torch.compile.
    "torch": {"eager": EAGER, "compile": {"run_eagerly": False, "jit_compile": True}},
}


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


@contextlib.contextmanager
def default_float(dtype: str) -> Iterator[None]:
    """Make ``dtype`` Keras's default float while the model is built and runs.

    ``compile`` creates its loss wrapper and loss tracker (a ``Mean``) in
    ``floatx()``, and the optimizer its learning-rate variable: under the float32
    default a float64 model would report float32 losses. On torch, Keras also converts
    Python floats to ``floatx()`` tensors at call time (``variable * 0.9``, clip
    bounds), so a float64 model would compute with constants rounded to float32.
    """
    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


@dataclass(frozen=True)
class PreparedEpoch:
    """One epoch of batches in the Keras backend's form (see ``native.*_prepare``)."""

    batches: Any
    steps: int


def in_model_float(method: Callable) -> Callable:
    """Run ``method`` under ``default_float(self.dtype)`` (read by Keras at call time)."""

    @functools.wraps(method)
    def wrapper(self, *args):
        with default_float(self.dtype):
            return method(self, *args)

    return wrapper


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
        self.native = NATIVE[keras.backend.backend()]
        compile_args = MODES[keras.backend.backend()][mode]
        with default_float(dtype):
            self.net = build_network(network, dtype)
            self.loss = SpecLoss(loss, dtype)
            # Tracked by the model (a non-trainable variable of it), so that backends
            # whose train step is stateless feed its current value in.
            self.net.loss_quantile = self.loss.quantile
            self.optimizer = make_optimizer(optimizer)
            self.net.compile(optimizer=self.optimizer, loss=self.loss, **compile_args)
            self.optimizer.build(self.net.trainable_variables)
            # fit and train_on_batch build compile()'s loss wrapper before the first
            # train-function call; train_epoch calls that function directly, and dynamo
            # fails on the lazy build inside torch.compile: build it here, eagerly.
            zeros = np.zeros((1, *network.output_shape), dtype)
            self.net.compute_loss(y=zeros, y_pred=zeros)
            self.net.make_train_function()
            self._loss_and_grads = self.native.loss_and_grads(self.net, **compile_args)
        self.variables = canonical_variables(self.net)
        # Gradients come in trainable_variables order: it must be the canonical one.
        assert list(map(id, self.variables.values())) == list(map(id, self.net.trainable_variables))
        write_params(self.variables, params)
        self._steps: int | None = None  # of the latest prepare

    def _array(self, value: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(value, dtype=self.dtype)

    @in_model_float
    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.net.predict_on_batch(self._array(x)))

    @in_model_float
    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        value, grads = self._loss_and_grads(self._array(x), self._array(y))
        return float(value), {
            name: np.array(keras.ops.convert_to_numpy(g))
            for name, g in zip(self.variables, grads, strict=True)
        }

    @in_model_float
    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        logs = self.net.train_on_batch(self._array(x), self._array(y), return_dict=True)
        return float(logs["loss"])

    @in_model_float
    def prepare(self, xs: np.ndarray, ys: np.ndarray) -> PreparedEpoch:
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
        write_params(self.variables, params)

    @in_model_float
    def set_learning_rate(self, lr: float) -> None:
        self.optimizer.learning_rate = lr  # assigns the variable: nothing retraces

    def set_loss_quantile(self, q: float) -> None:
        self.loss.quantile.assign(q)  # a variable, as the learning rate: nothing retraces


def build_model(
    network: Network, params: Params, loss: Loss, optimizer: Optimizer, dtype: str, mode: str
) -> KerasModel:
    modes = MODES.get(keras.backend.backend())
    if modes is None:
        raise NotSupported(f"keras backend: Keras on {keras.backend.backend()!r} is not supported")
    if mode not in modes:
        raise ValueError(
            f"keras backend on {keras.backend.backend()} has no mode {mode!r}; "
            f"valid: {', '.join(modes)}"
        )
    check_dtype(dtype)
    return KerasModel(network, params, loss, optimizer, dtype, mode)
