"""The shared.losses specs as JAX functions ``(pred, target) -> scalar`` of pred's dtype.

Python-float constants are weakly typed in JAX, so they never promote a float32 loss.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from shared.losses import MSE, BinaryCrossEntropy, Loss, RewardShaped

LossFn = Callable[[jax.Array, jax.Array], jax.Array]


def mse(pred: jax.Array, target: jax.Array) -> jax.Array:
    """``mean((pred - target)**2)`` over every element of ``(batch, out)``."""
    diff = pred - target
    return jnp.mean(diff * diff)


def reward_shaped(spec: RewardShaped) -> LossFn:
    """``mean(penalty - reward)`` with ``e = |pred - target|`` (shared.losses)."""

    def loss(pred: jax.Array, target: jax.Array) -> jax.Array:
        error = jnp.abs(pred - target)  # d|x|/dx = sign(x): 0 at x = 0, as in NumPy
        if spec.reward == "exp":
            reward = spec.scale * jnp.exp(-error / spec.temperature)
        else:
            reward = spec.scale * (1 - error)
        penalty = jnp.where(error > spec.penalty_threshold, spec.penalty_coef * error, 0.0)
        return jnp.mean(penalty - reward)

    return loss


def binary_cross_entropy(spec: BinaryCrossEntropy) -> LossFn:
    """``mean(-(t log p + (1 - t) log(1 - p)))`` with ``p = clip(pred, eps, 1 - eps)``."""

    def loss(pred: jax.Array, target: jax.Array) -> jax.Array:
        p = jnp.clip(pred, spec.eps, 1 - spec.eps)
        return -jnp.mean(target * jnp.log(p) + (1 - target) * jnp.log(1 - p))

    return loss


def make_loss(spec: Loss) -> LossFn:
    if isinstance(spec, MSE):
        return mse
    if isinstance(spec, RewardShaped):
        return reward_shaped(spec)
    if isinstance(spec, BinaryCrossEntropy):
        return binary_cross_entropy(spec)
    raise TypeError(f"unknown loss {spec!r}")
