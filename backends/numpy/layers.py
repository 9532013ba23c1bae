"""Layers with explicit backward passes, micrograd-style.

Each layer's ``forward`` keeps what ``backward`` needs (unless ``keep=False``: a forward
pass nothing will differentiate, such as the DQN's target network, must not overwrite
the state of the pass that will be); ``backward`` takes the gradient of the loss with
respect to the layer's output and returns the gradient with respect to its input,
storing parameter gradients in ``grads`` (canonical names and layout). Shapes: ``x`` is
``(batch, *input_shape)``, images channels-first ``(batch, C, H, W)``.

The convolution is im2col and one GEMM: the windows of the input are copied into a
matrix ``(batch * out_h * out_w, kh * kw * C)`` and multiplied by the kernel. Its input
gradient (col2im) adds the GEMM's result back one strided slice per kernel offset, so
no Python loop runs over the batch or the pixels.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from shared.params import Params
from shared.protocol import NotSupported
from shared.specs import Conv2D, Dense, Flatten, Layer, MaxPool2D, Network


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp(-logaddexp(0, -x)) never overflows, unlike 1 / (1 + exp(-x)) for x << 0.
    return np.exp(-np.logaddexp(0.0, -x))


class Activation:
    """Elementwise activation; backward multiplies by the derivative at the output."""

    def __init__(self, kind: str):
        self.kind = kind
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray, keep: bool = True) -> np.ndarray:
        if self.kind == "relu":
            out = np.maximum(x, 0)
        elif self.kind == "sigmoid":
            out = _sigmoid(x)
        elif self.kind == "tanh":
            out = np.tanh(x)
        else:
            out = x
        if keep:
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

    def forward(self, x: np.ndarray, params: Params, keep: bool = True) -> np.ndarray:
        if keep:
            self.x = x
        pre = x @ params[self.kernel_name] + params[self.bias_name]
        return self.activation.forward(pre, keep)

    def backward(
        self, grad: np.ndarray, params: Params, grads: Params, input_grad: bool = True
    ) -> np.ndarray | None:
        grad = self.activation.backward(grad)  # (batch, out): d loss / d pre-activation
        grads[self.kernel_name] = self.x.T @ grad
        grads[self.bias_name] = grad.sum(axis=0)
        return grad @ params[self.kernel_name].T if input_grad else None


def _channels_last(x: np.ndarray, pad: int = 0) -> np.ndarray:
    """``x`` ``(N, C, H, W)`` as a C-contiguous ``(N, H + 2 pad, W + 2 pad, C)``, zero
    padded; a view, without a copy, when ``x`` is already channels-last in memory."""
    x = x.transpose(0, 2, 3, 1)
    if not pad and x.flags.c_contiguous:
        return x
    n, height, width, channels = x.shape
    out = np.zeros((n, height + 2 * pad, width + 2 * pad, channels), dtype=x.dtype)
    out[:, pad : pad + height, pad : pad + width] = x
    return out


def _windows(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Every ``size x size`` window at ``stride`` of ``x`` ``(N, H, W, C)``, as a view
    ``(N, out_h, out_w, size, size, C)``."""
    windows = sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    return windows.transpose(0, 1, 2, 4, 5, 3)


def _offset_slice(offset: int, count: int, stride: int) -> slice:
    """The input rows (or columns) that kernel offset ``offset`` touches in ``count``
    windows ``stride`` apart."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


def _channels_first(x: np.ndarray) -> np.ndarray:
    """A view of ``(N, H, W, C)`` as ``(N, C, H, W)``."""
    return x.transpose(0, 3, 1, 2)


class Conv2DLayer:
    """``y = act(conv(x, kernel) + bias)`` on ``(N, C, H, W)``; kernel ``(kh, kw, C, F)``,
    bias ``(F,)``, output ``(N, F, out_h, out_w)``. Cross-correlation, as every framework
    computes it; ``padding="same"`` pads ``kernel // 2`` zeros on every side.

    Inside, images are channels-last in memory (the arrays passed on are channels-first
    views of them): the im2col copy then moves runs of C contiguous values, and the
    columns ``(N * out_h * out_w, kh * kw * C)`` meet the canonical kernel reshaped to
    ``(kh * kw * C, F)``, without a transpose.
    """

    def __init__(self, index: int, spec: Conv2D):
        self.kernel_name, self.bias_name = f"layer{index}.kernel", f"layer{index}.bias"
        self.size, self.stride = spec.kernel, spec.stride
        self.pad = spec.kernel // 2 if spec.padding == "same" else 0
        self.activation = Activation(spec.activation)
        self.cols: np.ndarray | None = None  # (N * out_h * out_w, kh * kw * C)
        self.in_shape: tuple[int, ...] = ()  # padded, channels-last (N, H, W, C)

    def forward(self, x: np.ndarray, params: Params, keep: bool = True) -> np.ndarray:
        x = _channels_last(x, self.pad)
        windows = _windows(x, self.size, self.stride)  # (N, oh, ow, kh, kw, C)
        n, out_h, out_w = windows.shape[:3]
        cols = windows.reshape(n * out_h * out_w, -1)  # the im2col copy
        kernel = params[self.kernel_name]
        pre = cols @ kernel.reshape(-1, kernel.shape[3]) + params[self.bias_name]
        if keep:
            self.cols, self.in_shape = cols, x.shape
        return self.activation.forward(_channels_first(pre.reshape(n, out_h, out_w, -1)), keep)

    def backward(
        self, grad: np.ndarray, params: Params, grads: Params, input_grad: bool = True
    ) -> np.ndarray | None:
        grad = self.activation.backward(grad)  # (N, F, oh, ow): d loss / d pre-activation
        n, filters, out_h, out_w = grad.shape
        grad = grad.transpose(0, 2, 3, 1).reshape(n * out_h * out_w, filters)
        kernel = params[self.kernel_name]
        grads[self.kernel_name] = (self.cols.T @ grad).reshape(kernel.shape)
        grads[self.bias_name] = grad.sum(axis=0)
        if not input_grad:
            return None
        d_cols = grad @ kernel.reshape(-1, filters).T  # (N * oh * ow, kh * kw * C)
        return self._col2im(d_cols.reshape(n, out_h, out_w, self.size, self.size, -1))

    def _col2im(self, d_cols: np.ndarray) -> np.ndarray:
        """Sum the columns' gradient ``(N, oh, ow, kh, kw, C)`` back onto the input
        pixels each window read, one strided slice per kernel offset; ``(N, C, H, W)``."""
        out_h, out_w = d_cols.shape[1:3]
        d_x = np.zeros(self.in_shape, dtype=d_cols.dtype)
        for i in range(self.size):
            rows = _offset_slice(i, out_h, self.stride)
            for j in range(self.size):
                d_x[:, rows, _offset_slice(j, out_w, self.stride)] += d_cols[:, :, :, i, j]
        p, (height, width) = self.pad, self.in_shape[1:3]
        return _channels_first(d_x[:, p : height - p, p : width - p])


class MaxPool2DLayer:
    """Maximum of each ``size x size`` window at ``stride`` on ``(N, C, H, W)``. The
    gradient goes to the window's first maximal element (row-major, as the frameworks
    pick it) and adds up where overlapping windows share that element. Channels-last
    in memory inside, like Conv2DLayer."""

    def __init__(self, spec: MaxPool2D):
        self.size, self.stride = spec.size, spec.step
        self.argmax: np.ndarray | None = None  # (N, oh, ow, C): row-major index in window
        self.in_shape: tuple[int, ...] = ()  # channels-last (N, H, W, C)

    def forward(self, x: np.ndarray, params: Params, keep: bool = True) -> np.ndarray:
        x = x.transpose(0, 2, 3, 1)  # a view: the window copy below gathers anyway
        # (N, oh, ow, C, size * size)
        windows = _windows(x, self.size, self.stride).transpose(0, 1, 2, 5, 3, 4)
        flat = windows.reshape(*windows.shape[:4], self.size * self.size)
        if not keep:
            return _channels_first(flat.max(axis=-1))
        argmax = flat.argmax(axis=-1)  # np.argmax takes the first of tied maxima
        self.argmax, self.in_shape = argmax, x.shape
        return _channels_first(np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0])

    def backward(
        self, grad: np.ndarray, params: Params, grads: Params, input_grad: bool = True
    ) -> np.ndarray | None:
        if not input_grad:
            return None
        grad = grad.transpose(0, 2, 3, 1)  # (N, oh, ow, C)
        out_h, out_w = grad.shape[1:3]
        d_x = np.zeros(self.in_shape, dtype=grad.dtype)
        for i in range(self.size):
            rows = _offset_slice(i, out_h, self.stride)
            for j in range(self.size):
                routed = np.where(self.argmax == i * self.size + j, grad, 0)
                d_x[:, rows, _offset_slice(j, out_w, self.stride)] += routed
        return _channels_first(d_x)


class FlattenLayer:
    """``(N, C, H, W) -> (N, C * H * W)`` in channels-first order."""

    def __init__(self) -> None:
        self.in_shape: tuple[int, ...] = ()

    def forward(self, x: np.ndarray, params: Params, keep: bool = True) -> np.ndarray:
        if keep:
            self.in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(
        self, grad: np.ndarray, params: Params, grads: Params, input_grad: bool = True
    ) -> np.ndarray | None:
        return grad.reshape(self.in_shape) if input_grad else None


NumpyLayer = DenseLayer | Conv2DLayer | MaxPool2DLayer | FlattenLayer


def build_layer(index: int, spec: Layer) -> NumpyLayer:
    if isinstance(spec, Dense):
        return DenseLayer(index, spec)
    if isinstance(spec, Conv2D):
        return Conv2DLayer(index, spec)
    if isinstance(spec, MaxPool2D):
        return MaxPool2DLayer(spec)
    if isinstance(spec, Flatten):
        return FlattenLayer()
    raise NotSupported(f"numpy backend: no layer {type(spec).__name__}")


def build_layers(network: Network) -> list[NumpyLayer]:
    """One layer object per spec layer, in order."""
    return [build_layer(index, spec) for index, spec in enumerate(network.layers)]


def forward(
    layers: list[NumpyLayer], params: Params, x: np.ndarray, keep: bool = True
) -> np.ndarray:
    """The network's output; ``keep=False`` leaves the layers' saved state untouched."""
    for layer in layers:
        x = layer.forward(x, params, keep)
    return x


def backward(layers: list[NumpyLayer], params: Params, grad: np.ndarray) -> Params:
    """Gradients of every parameter, in canonical order, from d loss / d output, for the
    last ``forward`` that kept its state. The first layer's input gradient, which nothing
    needs, is not computed."""
    grads: Params = {}
    for index in range(len(layers) - 1, -1, -1):
        grad = layers[index].backward(grad, params, grads, input_grad=index > 0)
    return {name: grads[name] for name in params}
