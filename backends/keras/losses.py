"""The shared.losses specs as ``keras.losses.Loss`` objects built from ``keras.ops``.

``call`` returns the per-element loss ``(batch, *output)``; Keras's
``"sum_over_batch_size"`` reduction then sums it and divides by the number of
elements, which is the spec's mean over all output elements of the batch.
"""

from __future__ import annotations

import keras
from keras import ops

from shared.losses import MSE, BinaryCrossEntropy, Loss, RewardShaped

if keras.backend.backend() == "torch":
    from torch.compiler import is_compiling
else:

    def is_compiling() -> bool:
        return False


class SpecLoss(keras.losses.Loss):
    """One shared.losses spec, computed in ``dtype`` (y_true is cast to it).

    ``traces`` counts Python executions of ``call``: once per trace in compiled
    modes, once per step in eager mode (used to check that nothing retraces). Not
    under torch.compile: dynamo treats int attributes of a module (a Keras layer is
    one on torch) as constants, so counting would recompile every call.
    """

    def __init__(self, spec: Loss, dtype: str):
        if not isinstance(spec, MSE | RewardShaped | BinaryCrossEntropy):
            raise TypeError(f"unknown loss {spec!r}")
        super().__init__(name="spec_loss", reduction="sum_over_batch_size", dtype=dtype)
        self.spec = spec
        self.traces = 0

    def call(self, y_true, y_pred):
        if not is_compiling():
            self.traces += 1
        spec = self.spec
        if isinstance(spec, MSE):
            return ops.square(y_pred - y_true)
        if isinstance(spec, RewardShaped):
            return reward_shaped_elements(spec, y_true, y_pred)
        return binary_cross_entropy_elements(spec, y_true, y_pred)


def reward_shaped_elements(spec: RewardShaped, y_true, y_pred):
    """``penalty - reward`` per element, with ``e = |pred - target|``."""
    error = ops.abs(y_pred - y_true)
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
    p = ops.clip(y_pred, spec.eps, 1.0 - spec.eps)
    return -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
