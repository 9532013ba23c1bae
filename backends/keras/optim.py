"""SGD and Adam exactly as shared.optim states them, as ``keras.optimizers.Optimizer``s.

Keras's own optimizers differ from the spec (Adam puts epsilon on the raw
``sqrt(v)`` and folds the bias corrections into the rate; SGD keeps ``v = mu*v - lr*g``,
which differs once the rate changes; its global-norm clipping computes
``c * min(1/n, 1/c)``), so these subclasses implement the spec with ``keras.ops``.
The learning rate is the base class's variable: assigning it never retraces.
"""

from __future__ import annotations

import keras
from keras import ops

from shared.optim import SGD, Adam, Optimizer


def clip_by_global_norm(grads: list, max_norm: float | None) -> list:
    """``g * min(1, max_norm / ||g||)`` with ``||g||`` over every gradient together."""
    if max_norm is None:
        return list(grads)
    norm = ops.sqrt(sum(ops.sum(ops.square(g)) for g in grads))
    scale = ops.minimum(1.0, max_norm / norm)
    return [g * scale for g in grads]


class SpecOptimizer(keras.optimizers.Optimizer):
    """Base of the spec optimizers: global-norm clipping before the update rule.

    Build it under ``keras.config.floatx() == dtype`` so that the learning-rate
    variable has the model's dtype (as the reference casts the rate to it).
    """

    def __init__(self, lr: float, clip_global_norm: float | None, name: str):
        super().__init__(learning_rate=float(lr), name=name)
        self.clip_global_norm = clip_global_norm

    def apply(self, grads, trainable_variables=None):
        clipped = clip_by_global_norm(grads, self.clip_global_norm)
        return super().apply(clipped, trainable_variables)


class SpecSGD(SpecOptimizer):
    """``buf = momentum * buf + g ; p = p - lr * buf`` (no buffer when momentum is 0)."""

    def __init__(self, spec: SGD):
        super().__init__(spec.lr, spec.clip_global_norm, name="spec_sgd")
        self.momentum = spec.momentum

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # With momentum 0, buf == g exactly, so the buffer would only cost time.
        self.buffers = self.add_optimizer_variables(variables, "momentum") if self.momentum else []

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        if not self.momentum:
            self.assign_sub(variable, lr * gradient)
            return
        buf = self.buffers[self._get_variable_index(variable)]
        self.assign(buf, buf * self.momentum + gradient)
        self.assign_sub(variable, lr * buf)


class SpecAdam(SpecOptimizer):
    """Adam with epsilon outside the square root of the bias-corrected second moment."""

    def __init__(self, spec: Adam):
        super().__init__(spec.lr, spec.clip_global_norm, name="spec_adam")
        self.beta1, self.beta2, self.eps = spec.beta1, spec.beta2, spec.eps

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.m = self.add_optimizer_variables(variables, "m")
        self.v = self.add_optimizer_variables(variables, "v")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        # 1 - beta**t in float64, rounded to the model's dtype last, as the reference does:
        # in float32, beta2 = 0.999 itself is off by 1.3e-8, i.e. 1.3e-5 of 1 - beta2, which
        # the 128x10 N-body MLP's first steps amplified past the float32 tolerance.
        # convert_to_tensor, not cast: casting a Python float goes through float32.
        step = ops.cast(self.iterations + 1, "float64")  # t = 1, 2, ...
        correction1 = ops.cast(
            1.0 - ops.power(ops.convert_to_tensor(self.beta1, "float64"), step), dtype
        )
        correction2 = ops.cast(
            1.0 - ops.power(ops.convert_to_tensor(self.beta2, "float64"), step), dtype
        )
        index = self._get_variable_index(variable)
        m, v = self.m[index], self.v[index]
        self.assign(m, m * self.beta1 + (1.0 - self.beta1) * gradient)
        self.assign(v, v * self.beta2 + (1.0 - self.beta2) * gradient * gradient)
        denom = ops.sqrt(v / correction2) + self.eps
        self.assign_sub(variable, lr * (m / correction1) / denom)


def make_optimizer(spec: Optimizer) -> SpecOptimizer:
    if isinstance(spec, SGD):
        return SpecSGD(spec)
    if isinstance(spec, Adam):
        return SpecAdam(spec)
    raise TypeError(f"unknown optimizer {spec!r}")
