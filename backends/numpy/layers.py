"""Layers with explicit backward passes, micrograd-style.

Each layer's ``forward`` keeps what ``backward`` needs; ``backward`` takes the gradient
of the loss with respect to the layer's output and returns the gradient with respect
to its input, storing parameter gradients in ``grads`` (canonical names and layout).
Shapes: ``x`` is ``(batch, *input_shape)``.
"""

from __future__ import annotations

import numpy as np

from shared.params import Params
from shared.protocol import NotSupported
from shared.specs import Dense, Layer, Network


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp(-logaddexp(0, -x)) never overflows, unlike 1 / (1 + exp(-x)) for x << 0.
    return np.exp(-np.logaddexp(0.0, -x))


class Activation:
    """Elementwise activation; backward multiplies by the derivative at the output."""

    def __init__(self, kind: str):
        self.kind = kind
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "relu":
            out = np.maximum(x, 0)
        elif self.kind == "sigmoid":
            out = _sigmoid(x)
        elif self.kind == "tanh":
            out = np.tanh(x)
        else:
            out = x
        self.out = out
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        out = self.out
        if self.kind == "relu":
            return grad * (out > 0)
        if self.kind == "sigmoid":
            return grad * out * (1 - out)
        if self.kind == "tanh":
            return grad * (1 - out * out)
        return grad


class DenseLayer:
    """``y = act(x @ kernel + bias)``; kernel ``(in, out)``, bias ``(out,)``."""

    def __init__(self, index: int, spec: Dense):
        self.kernel_name, self.bias_name = f"layer{index}.kernel", f"layer{index}.bias"
        self.activation = Activation(spec.activation)
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray, params: Params) -> np.ndarray:
        self.x = x
        return self.activation.forward(x @ params[self.kernel_name] + params[self.bias_name])

    def backward(self, grad: np.ndarray, params: Params, grads: Params) -> np.ndarray:
        grad = self.activation.backward(grad)  # (batch, out): d loss / d pre-activation
        grads[self.kernel_name] = self.x.T @ grad
        grads[self.bias_name] = grad.sum(axis=0)
        return grad @ params[self.kernel_name].T


def build_layers(network: Network) -> list[DenseLayer]:
    """One layer object per spec layer. Conv2D, MaxPool2D and Flatten arrive with DQN."""
    layers = []
    for index, spec in enumerate(network.layers):
        if not isinstance(spec, Dense):
            raise NotSupported(f"numpy backend: {type(spec).__name__} is not implemented yet")
        layers.append(DenseLayer(index, spec))
    return layers


def forward(layers: list[Layer], params: Params, x: np.ndarray) -> np.ndarray:
    for layer in layers:
        x = layer.forward(x, params)
    return x


def backward(layers: list[Layer], params: Params, grad: np.ndarray) -> Params:
    """Gradients of every parameter, in canonical order, from d loss / d output."""
    grads: Params = {}
    for layer in reversed(layers):
        grad = layer.backward(grad, params, grads)
    return {name: grads[name] for name in params}
