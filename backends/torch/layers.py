"""The network as ``torch.nn`` modules, and the canonical <-> PyTorch parameter layout.

Each spec layer ``i`` becomes a child module named ``layer{i}``, so PyTorch's own
parameter names are ``layer{i}.weight`` / ``layer{i}.bias``. ``nn.Linear`` stores its
weight as ``(out, in)``: the canonical kernel ``(in, out)`` is its transpose.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shared.protocol import NotSupported
from shared.specs import Dense, Network

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor] | None] = {
    "linear": None,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}


class DenseLayer(nn.Linear):
    """``act(x @ weight.T + bias)``: ``(batch, in) -> (batch, out)``; weight ``(out, in)``."""

    def __init__(self, in_features: int, spec: Dense, dtype: torch.dtype):
        super().__init__(in_features, spec.units, dtype=dtype)
        self.activation = ACTIVATIONS[spec.activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight, self.bias)
        return out if self.activation is None else self.activation(out)


def build_network(network: Network, dtype: torch.dtype) -> nn.Sequential:
    """``nn.Sequential`` of ``layer{i}`` children; weights are placeholders until set."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    in_shapes = network.input_shapes()
    for index, (spec, in_shape) in enumerate(zip(network.layers, in_shapes, strict=True)):
        if not isinstance(spec, Dense):
            raise NotSupported(
                f"torch backend: {type(spec).__name__} (layer {index}) is not implemented yet; "
                "only Dense layers are supported for now"
            )
        layers[f"layer{index}"] = DenseLayer(in_shape[0], spec, dtype)
    return nn.Sequential(layers)


def canonical_parameters(module: nn.Sequential) -> dict[str, nn.Parameter]:
    """Canonical name -> the module's parameter, in canonical order (kernel, then bias)."""
    mapping: dict[str, nn.Parameter] = {}
    for layer_name, layer in module.named_children():
        mapping[f"{layer_name}.kernel"] = layer.weight
        mapping[f"{layer_name}.bias"] = layer.bias
    return mapping


def to_canonical(name: str, tensor: torch.Tensor) -> np.ndarray:
    """A fresh C-contiguous NumPy copy of ``tensor`` in the canonical layout."""
    value = tensor.detach()
    if name.endswith(".kernel"):
        value = value.t()  # (out, in) -> (in, out)
    return np.array(value.numpy(), order="C")


def from_canonical(name: str, value: np.ndarray) -> torch.Tensor:
    """A tensor view of canonical ``value`` in PyTorch's layout (no copy, no cast)."""
    tensor = torch.from_numpy(value)
    return tensor.t() if name.endswith(".kernel") else tensor
