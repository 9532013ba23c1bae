"""The spec's network as a Flax linen module, and its parameters in both layouts.

Flax's ``Dense`` kernel is already ``(in, out)``, so the canonical layout maps onto the
Flax tree ``{"layer{i}": {"kernel", "bias"}}`` by name alone, with no transposes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from shared.params import Params
from shared.protocol import NotSupported
from shared.specs import Dense, Network

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "linear": lambda x: x,
    "relu": nn.relu,
    "sigmoid": nn.sigmoid,
    "tanh": jnp.tanh,
}
FlaxParams = dict[str, dict[str, jax.Array]]


class DenseStack(nn.Module):
    """Dense layers in spec order: ``(batch, in) -> (batch, out)``.

    ``dtype`` is both the compute and the parameter dtype, so nothing is silently
    downcast; ``precision`` is pinned to HIGHEST so no backend may use reduced-precision
    matmuls (TF32 and the like) behind the parity tests' back.
    """

    layers: tuple[Dense, ...]
    dtype: Any

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for index, spec in enumerate(self.layers):
            dense = nn.Dense(
                spec.units,
                use_bias=True,
                dtype=self.dtype,
                param_dtype=self.dtype,
                precision=jax.lax.Precision.HIGHEST,
                name=f"layer{index}",
            )
            x = ACTIVATIONS[spec.activation](dense(x))
        return x


def build_module(network: Network, dtype: str) -> DenseStack:
    """The Flax module for ``network``; Conv2D, MaxPool2D and Flatten arrive with DQN."""
    for spec in network.layers:
        if not isinstance(spec, Dense):
            raise NotSupported(f"jax backend: {type(spec).__name__} is not implemented yet")
    return DenseStack(layers=network.layers, dtype=jnp.dtype(dtype))


def to_flax(params: Params, dtype: str) -> FlaxParams:
    """Canonical ``{"layer{i}.kernel": (in, out), ...}`` -> Flax tree on the device."""
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
