"""The spec's network as a Flax linen module, and its parameters in both layouts.

Flax's ``Dense`` kernel is ``(in, out)`` and its ``Conv`` kernel ``(kh, kw, in, out)``,
both the canonical layouts, so the canonical parameters map onto the Flax tree
``{"layer{i}": {"kernel", "bias"}}`` by name alone, with no transposes. Only the
activations change layout: images arrive channels-first ``(N, C, H, W)``, Flax's
convolutions and pooling work channels-last, so the module transposes once on the way in
and back once before ``Flatten``, which must flatten in ``(C, H, W)`` order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from shared.params import Params
from shared.specs import Conv2D, Dense, Flatten, Layer, MaxPool2D, Network

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "linear": lambda x: x,
    "relu": nn.relu,
    "sigmoid": nn.sigmoid,
    "tanh": jnp.tanh,
}
FlaxParams = dict[str, dict[str, jax.Array]]
NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)


def conv_padding(spec: Conv2D) -> str | tuple[tuple[int, int], tuple[int, int]]:
    """'same' as the spec states it, symmetric padding by ``kernel // 2``, rather than
    Flax's "SAME" rule (which agrees for the odd kernels at stride 1 the spec allows)."""
    if spec.padding == "same":
        pad = spec.kernel // 2
        return ((pad, pad), (pad, pad))
    return "VALID"


class SpecNetwork(nn.Module):
    """The spec's layers in order: ``(batch, in) -> (batch, out)`` or
    ``(batch, C, H, W) -> (batch, out)``.

    ``dtype`` is both the compute and the parameter dtype, so nothing is silently
    downcast; ``precision`` is pinned to HIGHEST so no backend may use reduced-precision
    matmuls or convolutions (TF32 and the like) behind the parity tests' back.
    """

    layers: tuple[Layer, ...]
    dtype: Any

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim == 4:
            x = jnp.transpose(x, NCHW_TO_NHWC)  # (N, H, W, C) until Flatten
        for index, spec in enumerate(self.layers):
            x = self._layer(index, spec, x)
        return x

    def _layer(self, index: int, spec: Layer, x: jax.Array) -> jax.Array:
        weighted = {
            "dtype": self.dtype,
            "param_dtype": self.dtype,
            "precision": jax.lax.Precision.HIGHEST,
            "name": f"layer{index}",
        }
        if isinstance(spec, Dense):
            return ACTIVATIONS[spec.activation](nn.Dense(spec.units, **weighted)(x))
        if isinstance(spec, Conv2D):
            conv = nn.Conv(
                spec.filters,
                kernel_size=(spec.kernel, spec.kernel),
                strides=(spec.stride, spec.stride),
                padding=conv_padding(spec),
                **weighted,
            )
            return ACTIVATIONS[spec.activation](conv(x))
        if isinstance(spec, MaxPool2D):
            window = (spec.size, spec.size)
            return nn.max_pool(x, window, strides=(spec.step, spec.step), padding="VALID")
        if isinstance(spec, Flatten):
            # (N, H, W, C) -> (N, C, H, W) -> (N, C * H * W): the canonical order
            return jnp.transpose(x, NHWC_TO_NCHW).reshape(x.shape[0], -1)
        raise TypeError(f"unknown layer {spec!r}")


def build_module(network: Network, dtype: str) -> SpecNetwork:
    """The Flax module for ``network``, computing in ``dtype``."""
    return SpecNetwork(layers=network.layers, dtype=jnp.dtype(dtype))


def to_flax(params: Params, dtype: str) -> FlaxParams:
    """Canonical ``{"layer{i}.kernel": ..., "layer{i}.bias": ...}`` -> Flax tree on the
    device; the layouts already agree (see the module docstring)."""
    tree: dict[str, dict[str, np.ndarray]] = {}
    for name, value in params.items():
        layer, kind = name.split(".")
        tree.setdefault(layer, {})[kind] = np.asarray(value, dtype=dtype)
    return jax.device_put(tree)


def to_canonical(tree: FlaxParams, names: list[str]) -> Params:
    """Flax tree -> fresh, writable NumPy copies in canonical order ``names``."""
    host = jax.device_get(tree)
    params: Params = {}
    for name in names:
        layer, kind = name.split(".")
        params[name] = np.array(host[layer][kind])  # np.array copies: callers may mutate
    return params
