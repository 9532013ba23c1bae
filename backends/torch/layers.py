"""The network as ``torch.nn`` modules, and the canonical <-> PyTorch parameter layout.

Each spec layer ``i`` becomes a child module named ``layer{i}`` (pooling and flattening
too, so positions match the spec), and PyTorch's own parameter names are
``layer{i}.weight`` / ``layer{i}.bias``. PyTorch stores a dense weight as ``(out, in)``
and a conv weight as ``(out, in, kh, kw)``; the canonical kernels are ``(in, out)`` and
``(kh, kw, in, out)``. PyTorch is channels-first like the canonical images, so Flatten
is a plain flatten.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shared.params import Params
from shared.specs import Conv2D, Dense, Flatten, Layer, MaxPool2D, Network, Shape

DTYPES = {"float32": torch.float32, "float64": torch.float64}
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor] | None] = {
    "linear": None,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}
# Canonical kernel axes <-> PyTorch's: conv (kh, kw, in, out) <-> (out, in, kh, kw).
CONV_TO_CANONICAL = (2, 3, 1, 0)
CONV_FROM_CANONICAL = (3, 2, 0, 1)


class DenseLayer(nn.Linear):
    """``act(x @ weight.T + bias)``: ``(batch, in) -> (batch, out)``; weight ``(out, in)``."""

    def __init__(self, in_features: int, spec: Dense, dtype: torch.dtype):
        super().__init__(in_features, spec.units, dtype=dtype)
        self.activation = ACTIVATIONS[spec.activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight, self.bias)
        return out if self.activation is None else self.activation(out)


class ConvLayer(nn.Conv2d):
    """``act(conv(x) + bias)``: ``(batch, in, H, W) -> (batch, filters, H', W')``;
    weight ``(filters, in, kh, kw)``. 'same' pads ``kernel // 2`` on every side (the spec
    allows it only with stride 1 and an odd kernel, where that keeps the size)."""

    def __init__(self, in_channels: int, spec: Conv2D, dtype: torch.dtype):
        padding = spec.kernel // 2 if spec.padding == "same" else 0
        super().__init__(
            in_channels, spec.filters, spec.kernel, stride=spec.stride, padding=padding, dtype=dtype
        )
        self.activation = ACTIVATIONS[spec.activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        return out if self.activation is None else self.activation(out)


def _build_layer(spec: Layer, in_shape: Shape, dtype: torch.dtype) -> nn.Module:
    if isinstance(spec, Dense):
        return DenseLayer(in_shape[0], spec, dtype)
    if isinstance(spec, Conv2D):
        return ConvLayer(in_shape[0], spec, dtype)
    if isinstance(spec, MaxPool2D):
        return nn.MaxPool2d(spec.size, spec.step)
    if isinstance(spec, Flatten):
        return nn.Flatten()  # (batch, C, H, W) -> (batch, C * H * W), the canonical order
    raise TypeError(f"unknown layer {spec!r}")


def build_network(network: Network, dtype: torch.dtype) -> nn.Sequential:
    """``nn.Sequential`` of ``layer{i}`` children; weights are placeholders until set."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    in_shapes = network.input_shapes()
    for index, (spec, in_shape) in enumerate(zip(network.layers, in_shapes, strict=True)):
        layers[f"layer{index}"] = _build_layer(spec, in_shape, dtype)
    return nn.Sequential(layers)


def canonical_parameters(module: nn.Sequential) -> dict[str, nn.Parameter]:
    """Canonical name -> the module's parameter, in canonical order (kernel, then bias);
    layers without parameters (pooling, flatten) have no entry."""
    mapping: dict[str, nn.Parameter] = {}
    for layer_name, layer in module.named_children():
        if isinstance(layer, DenseLayer | ConvLayer):
            mapping[f"{layer_name}.kernel"] = layer.weight
            mapping[f"{layer_name}.bias"] = layer.bias
    return mapping


def to_canonical(name: str, tensor: torch.Tensor) -> np.ndarray:
    """A fresh C-contiguous NumPy copy of ``tensor`` in the canonical layout."""
    value = tensor.detach()
    if name.endswith(".kernel"):
        value = value.t() if value.ndim == 2 else value.permute(CONV_TO_CANONICAL)
    return np.array(value.numpy(), order="C")


def from_canonical(name: str, value: np.ndarray) -> torch.Tensor:
    """A tensor view of canonical ``value`` in PyTorch's layout (no copy, no cast)."""
    tensor = torch.from_numpy(value)
    if not name.endswith(".kernel"):
        return tensor
    return tensor.t() if tensor.ndim == 2 else tensor.permute(CONV_FROM_CANONICAL)


def get_canonical(named: dict[str, torch.Tensor]) -> Params:
    """Fresh canonical copies of ``named`` (canonical name -> tensor)."""
    return {name: to_canonical(name, tensor) for name, tensor in named.items()}


def set_canonical_(named: dict[str, torch.Tensor], params: Params) -> None:
    """Copy canonical ``params`` (already checked and cast) into ``named``, in place:
    optimizers and compiled code hold these very tensors."""
    with torch.no_grad():
        for name, value in params.items():
            named[name].copy_(from_canonical(name, value))


# Distinct networks/losses/optimizers/dtypes built in one process (the parity tests build
# about 20 models), each a cache entry on the one step code object. Identical
# configurations share an entry, and nothing recompiles within a model or agent
# (tests/test_torch_backend.py checks).
DISTINCT_MODELS_PER_PROCESS = 64


def allow_distinct_models() -> None:
    """Raise dynamo's limit of compiled variants per code object (see above)."""
    # The default, 8 entries per code object, is a hard error under fullgraph.
    limit = torch._dynamo.config.recompile_limit
    torch._dynamo.config.recompile_limit = max(limit, DISTINCT_MODELS_PER_PROCESS)
