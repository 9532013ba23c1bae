"""The shared.optim rules as Optax transformations, every hyperparameter passed explicitly.

- SGD: ``optax.trace`` is ``buf = g + momentum * buf`` (the PyTorch form); the update is
  then ``-lr * buf``.
- Adam: ``optax.scale_by_adam`` with ``eps_root=0`` computes
  ``m_hat / (sqrt(v_hat) + eps)``, epsilon outside the square root as the spec says.
- Clipping: ``optax.clip_by_global_norm`` computes ``(g / ||g||) * c`` behind a
  ``||g|| < c`` switch; the spec's ``g * min(1, c / ||g||)`` rounds differently, so it
  is written out below.

The learning rate is an injected hyperparameter: it lives in the optimizer state as a
device scalar of the model's dtype, so changing it is a buffer swap, never a retrace.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from shared.optim import SGD, Adam, Optimizer

LR_KEY = "learning_rate"


def clip_global_norm(max_norm: float) -> optax.GradientTransformation:
    """``g * min(1, max_norm / ||g||)`` with ``||g||`` over every leaf together."""

    def update(updates, state, params=None):
        del params
        leaves = jax.tree.leaves(updates)
        norm = jnp.sqrt(sum(jnp.sum(g * g) for g in leaves))
        # A zero gradient has nothing to clip; the where keeps c / 0 out of the result.
        scale = jnp.where(norm > 0, jnp.minimum(1, max_norm / norm), 1)
        return jax.tree.map(lambda g: g * scale.astype(g.dtype), updates), state

    return optax.GradientTransformation(optax.init_empty_state, update)


def _rule(spec: Optimizer, dtype: str) -> optax.GradientTransformation:
    """The spec's direction before the learning rate (``buf`` or Adam's ratio)."""
    if isinstance(spec, SGD):
        if spec.momentum == 0:
            return optax.identity()  # buf = 0 * buf + g is g: no state to carry
        return optax.trace(decay=spec.momentum, nesterov=False, accumulator_dtype=dtype)
    if isinstance(spec, Adam):
        return optax.scale_by_adam(
            b1=spec.beta1, b2=spec.beta2, eps=spec.eps, eps_root=0.0, mu_dtype=dtype, nesterov=False
        )
    raise TypeError(f"unknown optimizer {spec!r}")


def make_optimizer(spec: Optimizer, dtype: str) -> optax.GradientTransformation:
    """Clip (when asked), the rule, then ``-lr`` scaling, with ``lr`` injectable."""

    def chain(learning_rate: jax.Array) -> optax.GradientTransformation:
        parts = [] if spec.clip_global_norm is None else [clip_global_norm(spec.clip_global_norm)]
        parts += [_rule(spec, dtype), optax.scale_by_learning_rate(learning_rate, flip_sign=True)]
        return optax.chain(*parts)

    return optax.inject_hyperparams(chain, hyperparam_dtype=jnp.dtype(dtype))(learning_rate=spec.lr)


def with_learning_rate(state: optax.OptState, lr: float, dtype: str) -> optax.OptState:
    """``state`` with its learning rate replaced by a device scalar of ``dtype``.

    Same shape, dtype and weak-type flag as the one ``init`` made, so jit reuses its
    compiled code."""
    hyperparams = {**state.hyperparams, LR_KEY: jnp.asarray(lr, dtype=dtype)}
    return state._replace(hyperparams=hyperparams)
