"""The shared.losses specs as JAX functions ``(pred, target, quantile) -> scalar`` of
pred's dtype.

``quantile`` is the curriculum's q, a 0-d array of the model's dtype passed into every
jitted step like the data (a new value never retraces); only ``PercentileCurriculum``
reads it. Python-float constants are weakly typed in JAX, so they never promote a
float32 loss.

At the kinks, JAX's own derivatives are not the spec's (shared.losses, "Kinks"):
``jnp.abs`` has derivative 1 at 0 and ``jnp.clip`` passes half the gradient at a
bound, so ``spec_abs`` and ``clip_closed`` below state the spec's.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from shared.losses import (
    L1,
    MSE,
    BinaryCrossEntropy,
    Huber,
    Loss,
    PercentileCurriculum,
    Ratio,
    RewardShaped,
    SoftmaxCrossEntropy,
)

LossFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


@jax.custom_jvp
def spec_abs(x: jax.Array) -> jax.Array:
    """``|x|`` whose derivative is ``sign(x)``: 0 at 0, as the spec states."""
    return jnp.abs(x)


@spec_abs.defjvp
def _spec_abs_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return jnp.abs(x), jnp.sign(x) * dx


def clip_closed(x: jax.Array, low: float, high: float) -> jax.Array:
    """``clip(x, low, high)`` passing the whole gradient on ``[low, high]``, bounds
    included, and none outside (``jnp.clip`` alone passes half at a bound). The bounds
    are weakly typed: rounded to ``x``'s dtype, as the comparisons are."""
    inside = (x >= low) & (x <= high)
    return jnp.where(inside, x, jnp.clip(x, low, high))


def mse(pred: jax.Array, target: jax.Array, quantile: jax.Array) -> jax.Array:
    """``mean((pred - target)**2)`` over every element of ``(batch, out)``."""
    diff = pred - target
    return jnp.mean(diff * diff)


def l1(pred: jax.Array, target: jax.Array, quantile: jax.Array) -> jax.Array:
    """``mean(|pred - target|)``."""
    return jnp.mean(spec_abs(pred - target))


def ratio(pred: jax.Array, target: jax.Array, quantile: jax.Array) -> jax.Array:
    """``mean(|(pred - target) / (1 + |target|)|)``."""
    return jnp.mean(spec_abs((pred - target) / (1 + jnp.abs(target))))


def percentile_curriculum(pred: jax.Array, target: jax.Array, quantile: jax.Array) -> jax.Array:
    """Mean ``|r|`` of the examples at or below the batch's q-th quantile (shared.losses)."""
    batch = pred.shape[0]
    r = jnp.mean(((pred - target) / (1 + jnp.abs(target))).reshape(batch, -1), axis=1)
    abs_r = spec_abs(r)  # (batch,)
    a = jax.lax.stop_gradient(abs_r)  # the threshold and the mask are constants
    s = jnp.sort(a)
    pos = quantile * (batch - 1)  # 0-d, in the model's dtype
    lo_float = jnp.floor(pos)
    lo = lo_float.astype(jnp.int32)
    hi = jnp.minimum(lo + 1, batch - 1)
    threshold = s[lo] + (pos - lo_float) * (s[hi] - s[lo])
    kept = (a <= threshold).astype(pred.dtype)
    return jnp.sum(abs_r * kept) / jnp.sum(kept)


def reward_shaped(spec: RewardShaped) -> LossFn:
    """``mean(penalty - reward)`` with ``e = |pred - target|`` (shared.losses)."""

    def loss(pred: jax.Array, target: jax.Array, quantile: jax.Array) -> jax.Array:
        error = spec_abs(pred - target)
        if spec.reward == "exp":
            reward = spec.scale * jnp.exp(-error / spec.temperature)
        else:
            reward = spec.scale * (1 - error)
        penalty = jnp.where(error > spec.penalty_threshold, spec.penalty_coef * error, 0.0)
        return jnp.mean(penalty - reward)

    return loss


def binary_cross_entropy(spec: BinaryCrossEntropy) -> LossFn:
    """``mean(-(t log p + (1 - t) log(1 - p)))`` with ``p = clip(pred, eps, 1 - eps)``."""

    def loss(pred: jax.Array, target: jax.Array, quantile: jax.Array) -> jax.Array:
        p = clip_closed(pred, spec.eps, 1 - spec.eps)
        return -jnp.mean(target * jnp.log(p) + (1 - target) * jnp.log(1 - p))

    return loss


def huber(spec: Huber) -> LossFn:
    """``mean(huber(pred - target, delta))``: Optax's per-element Huber is the spec's."""

    def loss(pred: jax.Array, target: jax.Array, quantile: jax.Array) -> jax.Array:
        return jnp.mean(optax.huber_loss(pred, target, delta=spec.delta))

    return loss


def softmax_cross_entropy(pred: jax.Array, target: jax.Array, quantile: jax.Array) -> jax.Array:
    """Mean over the batch of ``-sum(target * log_softmax(pred))``: Optax's per-example
    cross-entropy is the spec's (``jax.nn.log_softmax``: the max-shifted form)."""
    return jnp.mean(optax.softmax_cross_entropy(pred, target))


def make_loss(spec: Loss) -> LossFn:
    if isinstance(spec, MSE):
        return mse
    if isinstance(spec, L1):
        return l1
    if isinstance(spec, Ratio):
        return ratio
    if isinstance(spec, PercentileCurriculum):
        return percentile_curriculum
    if isinstance(spec, RewardShaped):
        return reward_shaped(spec)
    if isinstance(spec, BinaryCrossEntropy):
        return binary_cross_entropy(spec)
    if isinstance(spec, Huber):
        return huber(spec)
    if isinstance(spec, SoftmaxCrossEntropy):
        return softmax_cross_entropy
    raise TypeError(f"unknown loss {spec!r}")
