"""What must differ per Keras backend: thread pools, gradients, feeding an epoch.

One function per Keras backend for each piece, named after it; ``model.py`` picks them
by ``keras.backend.backend()`` and stays backend-agnostic. Each function imports its
framework inside, so a process only ever imports the framework Keras runs on.

Hot path, measured at 1 thread on copy-net ``reward`` (1,000 batch-1 steps per epoch)
and XOR ``momentum`` (one 4-sample step per epoch); see each ``*_run_epoch``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import keras
import numpy as np

# f(x, y) -> (loss, [d loss / d v for v in the model's trainable variables])
LossAndGrads = Callable[[np.ndarray, np.ndarray], tuple[Any, Sequence[Any]]]

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
    """XLA:CPU sizes its intra-op (Eigen) and PjRt client pools from ``NPROC`` when JAX's
    CPU client starts (after this: importing Keras starts none). XLA_FLAGS has no thread
    count; with one thread, no multi-threaded Eigen either."""
    os.environ["NPROC"] = str(threads)
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()


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

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # allowed once per process, before any inter-op work
        if torch.get_num_interop_threads() != threads:
            raise


def torch_loss_and_grads(net: keras.Model, run_eagerly: bool, jit_compile: bool):
    """``LossAndGrads`` by ``torch.autograd.grad``, eager in both modes: dynamo cannot
    trace ``autograd.grad``, and the compiled train step (forward and backward) is
    what the parity tests check step by step."""
    del run_eagerly, jit_compile
    import torch

    def loss_and_grads(x, y):
        x, y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
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
    return logs["loss"]


class Native(NamedTuple):
    """One Keras backend's pieces (see the functions above)."""

    threads: Callable[[int], None]
    loss_and_grads: Callable[[keras.Model, bool, bool], LossAndGrads]
    prepare: Callable[[keras.Model, np.ndarray, np.ndarray], Any]
    run_epoch: Callable[[keras.Model, Any], Any]


NATIVE = {
    "tensorflow": Native(
        tensorflow_threads, tensorflow_loss_and_grads, tensorflow_prepare, tensorflow_run_epoch
    ),
    "jax": Native(jax_threads, jax_loss_and_grads, jax_prepare, jax_run_epoch),
    "torch": Native(torch_threads, torch_loss_and_grads, torch_prepare, torch_run_epoch),
}
