"""What must differ per Keras backend: settings, thread pools, gradients, feeding an epoch.

The settings each Keras backend needs before anything is built, its modes as
``compile`` arguments (``MODES``), and one function per Keras backend for each piece
below, named after it; ``model.py`` and ``agent.py`` pick them by
``keras.backend.backend()`` and stay backend-agnostic. Each function imports its
framework inside, so a process only ever imports the framework Keras runs on.

Hot path, measured at 1 thread on copy-net ``reward`` (1,000 batch-1 steps per epoch)
and XOR ``momentum`` (one 4-sample step per epoch); see each ``*_run_epoch``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import keras
import numpy as np

from backends import common
from shared.protocol import NotSupported

# f(x, y) -> (loss, [d loss / d v for v in the model's trainable variables])
LossAndGrads = Callable[[Any, Any], tuple[Any, Sequence[Any]]]

# ---------------------------------------------------------------------------- Every backend

if keras.backend.backend() == "jax":
    import jax

    common.jax_float64(jax)  # before JAX's first computation: importing Keras makes none
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


def keras_mode(mode: str) -> dict[str, bool]:
    """``compile`` arguments of ``mode`` on the Keras backend of this process."""
    modes = MODES.get(keras.backend.backend())
    if modes is None:
        raise NotSupported(f"keras backend: Keras on {keras.backend.backend()!r} is not supported")
    if mode not in modes:
        raise ValueError(
            f"keras backend on {keras.backend.backend()} has no mode {mode!r}; "
            f"valid: {', '.join(modes)}"
        )
    return modes[mode]


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


def in_model_float(method: Callable) -> Callable:
    """Run ``method`` under ``default_float(self.dtype)`` (read by Keras at call time)."""

    @functools.wraps(method)
    def wrapper(self, *args):
        with default_float(self.dtype):
            return method(self, *args)

    return wrapper


# ---------------------------------------------------------------------------- TensorFlow


def tensorflow_threads(threads: int) -> None:
    import tensorflow as tf

    # Must run before TensorFlow's first op, which creates the thread pools.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def tensorflow_loss_and_grads(net: keras.Model, run_eagerly: bool, jit_compile: bool):
    """``LossAndGrads`` under a GradientTape, in a tf.function unless eager."""
    import tensorflow as tf

    def loss_and_grads(x, y):
        with tf.GradientTape() as tape:
            y_pred = net(x, training=True)
            value = net.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
        return value, tape.gradient(value, net.trainable_variables)

    return loss_and_grads if run_eagerly else tf.function(loss_and_grads, jit_compile=jit_compile)


def tensorflow_prepare(net: keras.Model, xs: np.ndarray, ys: np.ndarray):
    """An endless tf.data iterator over ``(xs[i], ys[i])``, each ``(batch, *features)``.

    Created once per ``prepare`` over a repeated dataset: making and deleting an
    iterator per epoch costs ~15 ms. ``steps_per_execution`` = steps, so one call of
    the train function consumes exactly one epoch (retraced once per epoch length).
    """
    import tensorflow as tf

    if net.steps_per_execution != len(xs):
        net.steps_per_execution = len(xs)
        net.make_train_function(force=True)
    return iter(tf.data.Dataset.from_tensor_slices((xs, ys)).repeat())


def tensorflow_run_epoch(net: keras.Model, batches) -> Any:
    """One call: Keras's train function runs ``steps_per_execution`` steps in one
    ``tf.while_loop`` (~10x a Python loop of train_on_batch at batch 1; ``fit`` adds
    ~25 ms of setup per call). Returns the loss tracker's mean over the epoch."""
    net.reset_metrics()
    return net.train_function(batches)["loss"]


# ---------------------------------------------------------------------------- JAX


def jax_threads(threads: int) -> None:
    common.xla_cpu_threads(threads)  # before JAX's CPU client starts: importing Keras starts none


def jax_loss_and_grads(net: keras.Model, run_eagerly: bool, jit_compile: bool):
    """``LossAndGrads`` as ``jax.value_and_grad`` of ``stateless_call`` + ``compute_loss``,
    jitted unless eager (as Keras jits its train step)."""
    import jax

    def loss(trainable, non_trainable, metrics, x, y):
        y_pred, _ = net.stateless_call(trainable, non_trainable, x, training=True)
        value, _ = net.stateless_compute_loss(
            trainable, non_trainable, metrics, x=x, y=y, y_pred=y_pred, training=True
        )
        return value

    value_and_grad = jax.value_and_grad(loss)
    if jit_compile and not run_eagerly:
        value_and_grad = jax.jit(value_and_grad)

    def loss_and_grads(x, y):
        values = [[v.value for v in vs] for vs in _jax_state_variables(net)]
        return value_and_grad(values[0], values[1], values[3], x, y)

    return loss_and_grads


def jax_prepare(net: keras.Model, xs: np.ndarray, ys: np.ndarray) -> list:
    """``[(x, y)]`` per step, each ``(batch, *features)`` already on the device (one
    transfer, then split: 7x faster than a transfer per step).

    ``steps_per_execution`` = steps: one train-function call then runs one epoch."""
    import jax

    if net.steps_per_execution != len(xs):
        net.steps_per_execution = len(xs)
        net.make_train_function(force=True)
    return list(zip(jax.device_put(xs), jax.device_put(ys), strict=True))


def jax_run_epoch(net: keras.Model, batches: list) -> Any:
    """What ``fit`` does per epoch, minus its callbacks and data adapter.

    The model's state goes in once, Keras's train function threads it through one
    jitted (state-donating) ``train_step`` call per batch, and it is assigned back
    once. The loss tracker starts from zeros placed in the state: ``reset_metrics``
    dispatches JAX ops per variable, ~140 us, half of a one-step epoch. Measured
    (jit): device batches 37 us/step on copy-net, NumPy batches 56, Keras's epoch
    iterator 71, ``fit`` 73, ``train_on_batch`` 1,330; XOR epoch 0.12 ms, with
    ``reset_metrics`` 0.3, ``train_on_batch`` 1.8, ``fit`` 3.2. In eager mode every
    option costs the same (~15 ms a step: JAX traces the step's gradient every call).
    """
    trainable, non_trainable, optimizer, metrics = _jax_state_variables(net)
    state = (
        [v.value for v in trainable],
        [v.value for v in non_trainable],
        [v.value for v in optimizer],
        [np.zeros(v.shape, v.dtype) for v in metrics],
    )
    logs, state = net.train_function(state, iter(batches))
    for refs, values in zip(_jax_state_variables(net), state, strict=True):
        for ref, value in zip(refs, values, strict=True):
            ref.assign(value)
    return logs["loss"]


def _jax_state_variables(net: keras.Model) -> tuple[list, list, list, list]:
    """The four variable lists of Keras's JAX train state, in its order."""
    return (
        net.trainable_variables,
        net.non_trainable_variables,
        net.optimizer.variables,
        net.metrics_variables,
    )


# ---------------------------------------------------------------------------- PyTorch


def torch_threads(threads: int) -> None:
    import torch

    common.torch_threads(torch, threads)


def torch_loss_and_grads(net: keras.Model, run_eagerly: bool, jit_compile: bool):
    """``LossAndGrads`` by ``torch.autograd.grad``, eager in both modes: dynamo cannot
    trace ``autograd.grad``, and the compiled train step (forward and backward) is
    what the parity tests check step by step."""
    del run_eagerly, jit_compile
    import torch

    def loss_and_grads(x, y):
        # x and y may be nested (the agent's batch is a dict; its y is None).
        x, y = keras.tree.map_structure(keras.ops.convert_to_tensor, (x, y), none_is_leaf=False)
        value = net.compute_loss(x=x, y=y, y_pred=net(x, training=True), training=True)
        params = [v.value for v in net.trainable_variables]
        return value.detach(), torch.autograd.grad(value, params)

    return loss_and_grads


def torch_prepare(net: keras.Model, xs: np.ndarray, ys: np.ndarray) -> list:
    """``[(x, y)]`` per step as CPU tensors ``(batch, *features)``, each its own copy:
    torch.compile specialises on a view's storage offset (0, 1, or more), so views
    of one epoch tensor would compile again for a new epoch's first step."""
    x_all, y_all = keras.ops.convert_to_tensor(xs), keras.ops.convert_to_tensor(ys)
    return [(x.clone(), y.clone()) for x, y in zip(x_all.unbind(0), y_all.unbind(0), strict=True)]


def torch_release_grads(net: keras.Model) -> None:
    """Set the gradients Keras's torch train step leaves in ``.grad`` back to None.

    The step starts with ``zero_grad``, where torch.compile guards on ``.grad is
    None``: with the gradients left set, the second step compiles the whole train step
    again (~7 s for one Dense layer here). After every step, once is enough (~20 us a
    step, under 1% of copy-net's eager batch-1 step)."""
    net.zero_grad(set_to_none=True)


def torch_run_epoch(net: keras.Model, batches: list) -> Any:
    """Keras's torch train function (one step a call: torch refuses
    ``steps_per_execution`` > 1) on each prepared batch; the loss tracker averages
    the steps and is read once. Measured (eager, epochs of each option interleaved):
    tensors 2.7 ms/step on copy-net, NumPy batches 3.2, Keras's epoch iterator (a
    DataLoader) 3.5, ``train_on_batch`` 3.5; XOR epoch 4.2, 4.7, 6.1, 4.9 ms."""
    net.reset_metrics()
    logs = None
    for batch in batches:
        logs = net.train_function([batch])
        torch_release_grads(net)
    return logs["loss"]


def no_grads_kept(net: keras.Model) -> None:
    """TensorFlow and JAX keep no gradients between steps."""
    del net


class Native(NamedTuple):
    """One Keras backend's pieces (see the functions above)."""

    threads: Callable[[int], None]
    loss_and_grads: Callable[[keras.Model, bool, bool], LossAndGrads]
    prepare: Callable[[keras.Model, np.ndarray, np.ndarray], Any]
    run_epoch: Callable[[keras.Model, Any], Any]
    release_grads: Callable[[keras.Model], None]


NATIVE = {
    "tensorflow": Native(
        tensorflow_threads,
        tensorflow_loss_and_grads,
        tensorflow_prepare,
        tensorflow_run_epoch,
        no_grads_kept,
    ),
    "jax": Native(jax_threads, jax_loss_and_grads, jax_prepare, jax_run_epoch, no_grads_kept),
    "torch": Native(
        torch_threads,
        torch_loss_and_grads,
        torch_prepare,
        torch_run_epoch,
        torch_release_grads,
    ),
}
