"""SGD and Adam exactly as shared.optim states them, on canonical parameter dicts.

The updates write into preallocated scratch arrays (``out=``) instead of allocating a
temporary per operation: the same operations in the same order, so the same bits, and
several times faster on a network of millions of weights (the DQN's Q-network).
"""

from __future__ import annotations

import numpy as np

from shared.optim import SGD, Adam, Optimizer
from shared.params import Params


def clip_by_global_norm(grads: Params, max_norm: float | None) -> Params:
    if max_norm is None:
        return grads
    norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    if scale == 1.0:
        return grads  # multiplying by 1 changes nothing
    return {name: g * g.dtype.type(scale) for name, g in grads.items()}


class SGDState:
    def __init__(self, spec: SGD, params: Params):
        self.spec, self.lr = spec, spec.lr
        self.buffers = {name: np.zeros_like(p) for name, p in params.items()}
        self.scratch = {name: np.empty_like(p) for name, p in params.items()}

    def apply(self, params: Params, grads: Params) -> None:
        grads = clip_by_global_norm(grads, self.spec.clip_global_norm)
        for name, g in grads.items():
            buf, step = self.buffers[name], self.scratch[name]
            buf *= self.spec.momentum
            buf += g
            params[name] -= np.multiply(params[name].dtype.type(self.lr), buf, out=step)


class AdamState:
    def __init__(self, spec: Adam, params: Params):
        self.spec, self.lr, self.step = spec, spec.lr, 0
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.scratch = {name: (np.empty_like(p), np.empty_like(p)) for name, p in params.items()}

    def apply(self, params: Params, grads: Params) -> None:
        spec = self.spec
        grads = clip_by_global_norm(grads, spec.clip_global_norm)
        self.step += 1
        correction1 = 1 - spec.beta1**self.step
        correction2 = 1 - spec.beta2**self.step
        for name, g in grads.items():
            dtype = params[name].dtype.type
            m, v, (step, denom) = self.m[name], self.v[name], self.scratch[name]
            m *= dtype(spec.beta1)
            m += np.multiply(dtype(1 - spec.beta1), g, out=step)
            v *= dtype(spec.beta2)
            np.multiply(dtype(1 - spec.beta2), g, out=step)
            v += np.multiply(step, g, out=step)  # (1 - beta2) * g * g
            np.divide(v, dtype(correction2), out=denom)
            np.sqrt(denom, out=denom)
            denom += dtype(spec.eps)  # sqrt(v / correction2) + eps
            np.divide(m, dtype(correction1), out=step)
            np.multiply(dtype(self.lr), step, out=step)
            params[name] -= np.divide(step, denom, out=step)  # lr * (m / correction1) / denom


def make_optimizer(spec: Optimizer, params: Params) -> SGDState | AdamState:
    if isinstance(spec, SGD):
        return SGDState(spec, params)
    if isinstance(spec, Adam):
        return AdamState(spec, params)
    raise TypeError(f"unknown optimizer {spec!r}")
