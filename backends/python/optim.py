"""SGD (with optional momentum and global-norm clipping) on two floats."""

from __future__ import annotations

import math

from shared.optim import SGD, Optimizer
from shared.protocol import NotSupported


class ScalarSGD:
    def __init__(self, spec: Optimizer):
        if not isinstance(spec, SGD):
            raise NotSupported(f"python backend has no optimizer {type(spec).__name__}")
        self.lr, self.momentum, self.clip = spec.lr, spec.momentum, spec.clip_global_norm
        self.buf_w = self.buf_b = 0.0

    def step(self, w: float, b: float, grad_w: float, grad_b: float) -> tuple[float, float]:
        if self.clip is not None:
            norm = math.sqrt(grad_w * grad_w + grad_b * grad_b)
            scale = min(1.0, self.clip / norm) if norm > 0 else 1.0
            grad_w, grad_b = grad_w * scale, grad_b * scale
        self.buf_w = self.momentum * self.buf_w + grad_w
        self.buf_b = self.momentum * self.buf_b + grad_b
        return w - self.lr * self.buf_w, b - self.lr * self.buf_b
