"""The shared.losses specs as ``keras.losses.Loss`` objects built from ``keras.ops``.

``call`` returns the per-element loss ``(batch, *output)``; Keras's
``"sum_over_batch_size"`` reduction then sums it and divides by the number of
elements, which is the spec's mean over all output elements of the batch (Huber is
Keras's own ``keras.losses.huber``, which already averages the last axis). The softmax
cross-entropy is Keras's own ``categorical_crossentropy``, one value per example
``(batch,)``, so the same reduction is the spec's mean over the batch. The
percentile curriculum is not a mean over elements: its ``call`` returns the 0-d loss,
which the reduction passes through unchanged.

Only ``keras.ops`` here, so the losses run on any Keras backend. At the kinks
(shared.losses, "Kinks") the derivatives of ``ops.abs`` and ``ops.clip`` are the spec's
on TensorFlow and torch but not on JAX (``jnp.abs`` has derivative 1 at 0, ``jnp.clip``
passes half the gradient at a bound): ``spec_abs`` and ``clip_closed`` state them there.
"""

from __future__ import annotations

import keras
from keras import ops

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
    initial_quantile,
)

SPECS = (
    MSE,
    RewardShaped,
    BinaryCrossEntropy,
    L1,
    Huber,
    SoftmaxCrossEntropy,
    Ratio,
    PercentileCurriculum,
)

# Whether ops.abs and ops.clip already have the spec's derivatives at their kinks.
NATIVE_KINKS_ARE_SPEC = keras.backend.backend() != "jax"

if keras.backend.backend() == "torch":
    from torch.compiler import is_compiling
else:

    def is_compiling() -> bool:
        return False


def spec_abs(x):
    """``|x|`` whose derivative is ``sign(x)``, 0 at 0: ``sign(x) * x`` is exactly
    ``|x|``, and its product rule gives ``sign(x)`` (sign's own derivative is 0)."""
    return ops.abs(x) if NATIVE_KINKS_ARE_SPEC else ops.sign(x) * x


def clip_closed(x, low: float, high: float):
    """``clip(x, low, high)`` passing the whole gradient on ``[low, high]``, bounds
    included, and none outside."""
    if NATIVE_KINKS_ARE_SPEC:
        return ops.clip(x, low, high)
    return ops.where((x >= low) & (x <= high), x, ops.clip(x, low, high))


class SpecLoss(keras.losses.Loss):
    """One shared.losses spec, computed in ``dtype`` (y_true is cast to it).

    ``traces`` counts Python executions of ``call``: once per trace in compiled
    modes, once per step in eager mode (used to check that nothing retraces). Not
    under torch.compile: dynamo treats int attributes of a module (a Keras layer is
    one on torch) as constants, so counting would recompile every call.
    ``quantile`` is the curriculum's q, a non-trainable variable: assigning it, like
    the optimizer's learning rate, never retraces.
    """

    def __init__(self, spec: Loss, dtype: str):
        if not isinstance(spec, SPECS):
            raise TypeError(f"unknown loss {spec!r}")
        super().__init__(name="spec_loss", reduction="sum_over_batch_size", dtype=dtype)
        self.spec = spec
        self.traces = 0
        self.quantile = keras.Variable(
            initial_quantile(spec), dtype=dtype, trainable=False, name="loss_quantile"
        )

    def call(self, y_true, y_pred):
        if not is_compiling():
            self.traces += 1
        spec = self.spec
        if isinstance(spec, MSE):
            return ops.square(y_pred - y_true)
        if isinstance(spec, L1):
            return spec_abs(y_pred - y_true)
        if isinstance(spec, Huber):
            # Keras's own Huber, averaged over the last axis: (batch, *output[:-1]); the
            # reduction's mean of those equal-sized means is the mean over all elements.
            return keras.losses.huber(y_true, y_pred, delta=spec.delta)
        if isinstance(spec, SoftmaxCrossEntropy):
            # Keras's own, (batch,): -sum(y_true * log_softmax(y_pred)) per example (on
            # TensorFlow the fused softmax_cross_entropy_with_logits kernel).
            return keras.losses.categorical_crossentropy(y_true, y_pred, from_logits=True)
        if isinstance(spec, Ratio):
            return spec_abs((y_pred - y_true) / (1.0 + ops.abs(y_true)))
        if isinstance(spec, PercentileCurriculum):
            return percentile_curriculum(y_true, y_pred, self.quantile)
        if isinstance(spec, RewardShaped):
            return reward_shaped_elements(spec, y_true, y_pred)
        return binary_cross_entropy_elements(spec, y_true, y_pred)


def reward_shaped_elements(spec: RewardShaped, y_true, y_pred):
    """``penalty - reward`` per element, with ``e = |pred - target|``."""
    error = spec_abs(y_pred - y_true)
    if spec.reward == "exp":
        reward = spec.scale * ops.exp(-error / spec.temperature)
    else:
        reward = spec.scale * (1.0 - error)
    if spec.penalty_coef == 0:
        return -reward  # the penalty term is exactly 0: skip its ops on the hot path
    penalty = ops.where(error > spec.penalty_threshold, spec.penalty_coef * error, 0.0)
    return penalty - reward


def binary_cross_entropy_elements(spec: BinaryCrossEntropy, y_true, y_pred):
    """Cross-entropy per element of probabilities clipped to ``[eps, 1 - eps]``."""
    p = clip_closed(y_pred, spec.eps, 1.0 - spec.eps)
    return -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))


def percentile_curriculum(y_true, y_pred, quantile):
    """Mean ``|r|`` of the examples at or below the batch's q-th quantile (shared.losses),
    as a 0-d tensor."""
    batch = y_pred.shape[0]
    ratio = (y_pred - y_true) / (1.0 + ops.abs(y_true))
    abs_r = spec_abs(ops.mean(ops.reshape(ratio, (batch, -1)), axis=1))  # (batch,)
    a = ops.stop_gradient(abs_r)  # the threshold and the mask are constants
    s = ops.sort(a)
    pos = ops.convert_to_tensor(quantile, dtype=y_pred.dtype) * float(batch - 1)
    lo_float = ops.floor(pos)
    lo = ops.cast(lo_float, "int32")
    hi = ops.minimum(lo + 1, batch - 1)
    low, high = ops.take(s, lo), ops.take(s, hi)
    threshold = low + (pos - lo_float) * (high - low)
    kept = ops.cast(a <= threshold, y_pred.dtype)
    return ops.sum(abs_r * kept) / ops.sum(kept)
