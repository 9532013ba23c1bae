"""Networks as data: layer specs, a network spec, and its canonical parameter layout.

A network is an input shape and a tuple of layers. Images are channels-first
``(C, H, W)``; vectors are ``(features,)``. Every backend builds the same network
from the same spec, and every backend reads and writes parameters in one layout:

- ``layer{i}.kernel``: dense ``(in, out)``; conv ``(kh, kw, in, out)``
- ``layer{i}.bias``: ``(out,)``

where ``i`` is the layer's position in ``Network.layers``. ``Flatten`` flattens in
``(C, H, W)`` order, whatever layout a framework uses inside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

# relu's derivative at 0 is 0 (every framework's choice, and the NumPy reference's).
ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")
PADDINGS = ("valid", "same")

Activation = Literal["linear", "relu", "sigmoid", "tanh"]
Shape = tuple[int, ...]


class SpecError(ValueError):
    """A spec that cannot describe a working network, optimizer, loss or run."""


@dataclass(frozen=True)
class Dense:
    """Fully connected layer: ``(features,) -> (units,)``."""

    units: int
    activation: Activation = "linear"


@dataclass(frozen=True)
class Conv2D:
    """2-D convolution on ``(C, H, W)``; square kernel and stride.

    ``padding="same"`` is only allowed with stride 1 and an odd kernel, where every
    framework pads symmetrically by ``kernel // 2``.
    """

    filters: int
    kernel: int
    stride: int = 1
    padding: Literal["valid", "same"] = "valid"
    activation: Activation = "linear"


@dataclass(frozen=True)
class MaxPool2D:
    """Max pooling on ``(C, H, W)`` with a square window; ``stride`` defaults to ``size``.

    Where a window holds tied maxima, the gradient goes to the first of them in
    row-major order (as every framework here routes it)."""

    size: int = 2
    stride: int | None = None

    @property
    def step(self) -> int:
        return self.size if self.stride is None else self.stride


@dataclass(frozen=True)
class Flatten:
    """``(C, H, W) -> (C * H * W,)`` in channels-first order."""


Layer = Dense | Conv2D | MaxPool2D | Flatten
LAYER_KINDS = {Dense: "dense", Conv2D: "conv2d", MaxPool2D: "maxpool2d", Flatten: "flatten"}


def _positive_int(value: object, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(f"{what} must be a positive integer, got {value!r}")


def _layer_output_shape(layer: Layer, shape: Shape, where: str) -> Shape:
    """Output shape of ``layer`` for ``shape`` input; raises SpecError when it cannot apply."""
    if isinstance(layer, Dense):
        _positive_int(layer.units, f"{where}: Dense units")
        _check_activation(layer.activation, where)
        if len(shape) != 1:
            raise SpecError(f"{where}: Dense needs a 1-D input, got {shape}; add Flatten() first")
        return (layer.units,)
    if isinstance(layer, Flatten):
        if len(shape) != 3:
            raise SpecError(f"{where}: Flatten needs a (C, H, W) input, got {shape}")
        return (math.prod(shape),)
    if len(shape) != 3:
        raise SpecError(f"{where}: {type(layer).__name__} needs a (C, H, W) input, got {shape}")
    channels, height, width = shape
    if isinstance(layer, Conv2D):
        return _conv_output_shape(layer, height, width, where)
    if isinstance(layer, MaxPool2D):
        _positive_int(layer.size, f"{where}: MaxPool2D size")
        _positive_int(layer.step, f"{where}: MaxPool2D stride")
        if layer.size > min(height, width):
            raise SpecError(f"{where}: pool size {layer.size} is larger than its input {shape}")
        return (
            channels,
            _valid_extent(height, layer.size, layer.step),
            _valid_extent(width, layer.size, layer.step),
        )
    raise SpecError(f"{where}: unknown layer {layer!r}")


def _conv_output_shape(layer: Conv2D, height: int, width: int, where: str) -> Shape:
    _positive_int(layer.filters, f"{where}: Conv2D filters")
    _positive_int(layer.kernel, f"{where}: Conv2D kernel")
    _positive_int(layer.stride, f"{where}: Conv2D stride")
    _check_activation(layer.activation, where)
    if layer.padding not in PADDINGS:
        raise SpecError(f"{where}: padding must be one of {PADDINGS}, got {layer.padding!r}")
    if layer.padding == "same":
        if layer.stride != 1 or layer.kernel % 2 == 0:
            raise SpecError(f"{where}: padding='same' needs stride 1 and an odd kernel")
        return (layer.filters, height, width)
    if layer.kernel > min(height, width):
        raise SpecError(
            f"{where}: kernel {layer.kernel}x{layer.kernel} is larger than its input "
            f"{height}x{width}"
        )
    return (
        layer.filters,
        _valid_extent(height, layer.kernel, layer.stride),
        _valid_extent(width, layer.kernel, layer.stride),
    )


def _valid_extent(size: int, window: int, stride: int) -> int:
    return (size - window) // stride + 1


def _check_activation(activation: str, where: str) -> None:
    if activation not in ACTIVATIONS:
        raise SpecError(f"{where}: activation must be one of {ACTIVATIONS}, got {activation!r}")


@dataclass(frozen=True)
class Network:
    """A feed-forward network: ``input_shape`` (without batch) and its layers in order.

    Validated when built: an invalid network raises SpecError naming the layer.
    """

    input_shape: Shape
    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(self.input_shape))
        object.__setattr__(self, "layers", tuple(self.layers))
        if len(self.input_shape) not in (1, 3):
            raise SpecError(f"input_shape must be (features,) or (C, H, W), got {self.input_shape}")
        for size in self.input_shape:
            _positive_int(size, "input_shape entries")
        if not self.layers:
            raise SpecError("a network needs at least one layer")
        if not isinstance(self.layers[-1], Dense):
            raise SpecError("the last layer must be Dense (the network's output)")
        self.layer_shapes()  # raises on the first layer that cannot apply

    def layer_shapes(self) -> list[Shape]:
        """Output shape of every layer, in order (batch dimension excluded)."""
        shapes, shape = [], self.input_shape
        for index, layer in enumerate(self.layers):
            shape = _layer_output_shape(layer, shape, f"layer {index}")
            shapes.append(shape)
        return shapes

    @property
    def output_shape(self) -> Shape:
        return self.layer_shapes()[-1]

    def input_shapes(self) -> list[Shape]:
        """Input shape of every layer, in order."""
        return [self.input_shape, *self.layer_shapes()[:-1]]

    def param_shapes(self) -> dict[str, Shape]:
        """Canonical parameter names and shapes, in layer order (kernel before bias)."""
        shapes: dict[str, Shape] = {}
        for index, (layer, in_shape) in enumerate(
            zip(self.layers, self.input_shapes(), strict=True)
        ):
            if isinstance(layer, Dense):
                shapes[f"layer{index}.kernel"] = (in_shape[0], layer.units)
                shapes[f"layer{index}.bias"] = (layer.units,)
            elif isinstance(layer, Conv2D):
                shapes[f"layer{index}.kernel"] = (
                    layer.kernel,
                    layer.kernel,
                    in_shape[0],
                    layer.filters,
                )
                shapes[f"layer{index}.bias"] = (layer.filters,)
        return shapes

    @property
    def n_params(self) -> int:
        return sum(math.prod(shape) for shape in self.param_shapes().values())

    def layer_flops(self) -> list[int]:
        """Multiply-add FLOPs (2 per MAC) of each layer's forward pass for one sample;
        activations, pooling and bias additions are not counted."""
        flops = []
        for layer, in_shape, out_shape in zip(
            self.layers, self.input_shapes(), self.layer_shapes(), strict=True
        ):
            if isinstance(layer, Dense):
                flops.append(2 * in_shape[0] * layer.units)
            elif isinstance(layer, Conv2D):
                flops.append(2 * math.prod(out_shape) * layer.kernel**2 * in_shape[0])
            else:
                flops.append(0)
        return flops

    def forward_flops(self) -> int:
        """FLOPs of one sample's forward pass (see ``layer_flops``)."""
        return sum(self.layer_flops())

    def train_step_flops(self, batch: int) -> int:
        """FLOPs of one training step on ``batch`` samples: the forward pass, then the
        backward pass at twice its cost (gradients of weights and of inputs), less the
        input gradient of the first weighted layer, which nothing needs. The same count
        for every framework, so GFLOP/s compare like with like."""
        first_weighted = next((f for f in self.layer_flops() if f), 0)
        return batch * (3 * self.forward_flops() - first_weighted)


def layer_kind(layer: Layer) -> str:
    """Lower-case kind name of a layer: dense, conv2d, maxpool2d or flatten."""
    return LAYER_KINDS[type(layer)]
