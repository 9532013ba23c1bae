"""JAX model: Flax (linen) forward, ``jax.value_and_grad``, Optax updates.

Modes:
- ``jit``: one jitted training step, called from Python once per step; parameters and
  optimizer state are donated, so XLA updates them in place.
- ``scan``: ``train_epoch`` runs every step of the epoch inside one jitted ``lax.scan``.

The DQN agent lives in ``backends.jax.agent`` (re-exported here). float64 needs
``jax_enable_x64``, set when the package is imported (``backends/jax/__init__.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from backends.common import check_mode, check_spec, xla_cpu_threads
from backends.jax.agent import build_agent
from backends.jax.layers import FlaxParams, build_module, to_canonical, to_flax
from backends.jax.losses import make_loss
from backends.jax.optim import make_optimizer, with_learning_rate
from shared.losses import check_targets, initial_quantile
from shared.params import Params, check_params
from shared.protocol import ModelSpec

__all__ = ["build_agent", "build_model", "configure"]


def configure(threads: int, seed: int) -> None:
    """Size XLA's CPU thread pools (``backends.common.xla_cpu_threads``); must run
    before JAX's first computation. JAX has no global seed: all randomness (initial
    weights, data) comes from the harness."""
    del seed
    xla_cpu_threads(threads)


def _make_step(module, loss_fn, tx: optax.GradientTransformation):
    """``(params, opt_state, x, y, quantile) -> (params, opt_state, loss before the update)``;
    ``quantile`` is the curriculum's q (see backends.jax.losses)."""

    def objective(params: FlaxParams, x: jax.Array, y: jax.Array, quantile: jax.Array):
        return loss_fn(module.apply({"params": params}, x), y, quantile)

    value_and_grad = jax.value_and_grad(objective)

    def step(params, opt_state, x, y, quantile):
        loss, grads = value_and_grad(params, x, y, quantile)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return objective, step


def _flat_indexed_step(step, treedef):
    """jit mode's per-step call: ``(*state leaves, total, i, xs, ys, quantile) -> (*leaves,
    total, i+1)``.

    Step ``i`` reads its batch from the epoch's device arrays, so ``prepare`` is a single
    transfer and every call passes the same two arrays. jit flattens and rebuilds pytree
    arguments (nested dicts, Optax's named tuples) on each call, a sizeable share of a
    batch-1 step, so the loop carries the leaves of ``(params, opt_state)`` as plain
    arrays, donated so XLA reuses their buffers. The running loss total and the index
    stay on the device: no host sync until the epoch ends.
    """
    n_leaves = treedef.num_leaves

    def flat_step(*args):
        params, opt_state = jax.tree.unflatten(treedef, args[:n_leaves])
        total, index, xs, ys, quantile = args[n_leaves:]
        x = jax.lax.dynamic_index_in_dim(xs, index, keepdims=False)
        y = jax.lax.dynamic_index_in_dim(ys, index, keepdims=False)
        params, opt_state, loss = step(params, opt_state, x, y, quantile)
        return (*jax.tree.leaves((params, opt_state)), total + loss, index + 1)

    return jax.jit(flat_step, donate_argnums=tuple(range(n_leaves)))


def _scan_epoch(step):
    """``(params, opt_state, xs, ys, quantile) -> (params, opt_state, mean loss)`` in one
    program."""

    def epoch(params, opt_state, xs, ys, quantile):
        def body(carry, batch):
            params, opt_state, loss = step(*carry, *batch, quantile)
            return (params, opt_state), loss

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), (xs, ys))
        return params, opt_state, jnp.mean(losses)

    return jax.jit(epoch, donate_argnums=(0, 1))


class JaxModel:
    """State shared by both modes: device parameters, optimizer state and jitted pieces."""

    def __init__(self, spec: ModelSpec):
        check_spec(spec)
        network, dtype = spec.network, spec.dtype
        self.network = network
        self.dtype = np.dtype(dtype)
        self.names = list(network.param_shapes())
        self.module = build_module(network, dtype)
        self.tx = make_optimizer(spec.optimizer, dtype)
        self.params = to_flax(spec.params, dtype)
        self.opt_state = self.tx.init(self.params)
        self.quantile = jnp.asarray(initial_quantile(spec.loss), dtype=self.dtype)
        self.loss_spec = spec.loss
        objective, self.step_fn = _make_step(self.module, make_loss(spec.loss), self.tx)
        self._forward = jax.jit(lambda p, x: self.module.apply({"params": p}, x))
        self._loss_and_grads = jax.jit(jax.value_and_grad(objective))
        self._step = jax.jit(self.step_fn, donate_argnums=(0, 1))

    def _device(self, array: np.ndarray) -> jax.Array:
        return jax.device_put(np.asarray(array, dtype=self.dtype))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(batch, *in) -> (batch, *out)``: a fresh, writable NumPy array of the model's dtype."""
        return np.array(self._forward(self.params, self._device(x)))

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        check_targets(self.loss_spec, y)
        loss, grads = self._loss_and_grads(
            self.params, self._device(x), self._device(y), self.quantile
        )
        return float(loss), to_canonical(grads, self.names)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        check_targets(self.loss_spec, y)
        self.params, self.opt_state, loss = self._step(
            self.params, self.opt_state, self._device(x), self._device(y), self.quantile
        )
        return float(loss)

    def prepare(self, xs: np.ndarray, ys: np.ndarray) -> tuple[jax.Array, jax.Array]:
        """``(steps, batch, *features)`` arrays on the device, one transfer each."""
        check_targets(self.loss_spec, ys)
        return self._device(xs), self._device(ys)

    def get_params(self) -> Params:
        return to_canonical(self.params, self.names)

    def set_params(self, params: Params) -> None:
        check_params(self.network, params)  # jit would retrace for a new shape, silently
        self.params = to_flax({name: params[name] for name in self.names}, self.dtype.name)

    def set_learning_rate(self, lr: float) -> None:
        self.opt_state = with_learning_rate(self.opt_state, lr, self.dtype.name)

    def set_loss_quantile(self, q: float) -> None:
        # Same shape and dtype as before: the jitted steps take it as an argument.
        self.quantile = jnp.asarray(q, dtype=self.dtype)


class JitModel(JaxModel):
    """``jit`` mode: Python drives the steps, each one a call of a compiled step."""

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self._treedef = jax.tree.structure((self.params, self.opt_state))
        self._flat_step = _flat_indexed_step(self.step_fn, self._treedef)
        # Never donated, so reused as the start of every epoch.
        self._zero_total = jnp.zeros((), dtype=self.dtype)
        self._first_index = jnp.zeros((), dtype=jnp.int32)

    def train_epoch(self, batches: tuple[jax.Array, jax.Array]) -> float:
        xs, ys = batches
        state = (
            *jax.tree.leaves((self.params, self.opt_state)),
            self._zero_total,
            self._first_index,
        )
        for _ in range(xs.shape[0]):
            state = self._flat_step(*state, xs, ys, self.quantile)
        self.params, self.opt_state = jax.tree.unflatten(self._treedef, state[:-2])
        return float(state[-2]) / xs.shape[0]


class ScanModel(JaxModel):
    """``scan`` mode: one compiled program runs the whole epoch."""

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self._epoch = _scan_epoch(self.step_fn)

    def train_epoch(self, batches: tuple[jax.Array, jax.Array]) -> float:
        self.params, self.opt_state, mean_loss = self._epoch(
            self.params, self.opt_state, *batches, self.quantile
        )
        return float(mean_loss)


MODELS = {"jit": JitModel, "scan": ScanModel}


def build_model(spec: ModelSpec) -> JaxModel:
    check_mode("jax", spec.mode, MODELS)
    return MODELS[spec.mode](spec)
