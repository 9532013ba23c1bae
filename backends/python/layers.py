"""The one layer this backend runs: ``y = w * x + b`` on Python floats."""

from __future__ import annotations

from shared.protocol import NotSupported
from shared.specs import Dense, Network


def builds(network: Network) -> bool:
    """Whether this backend builds ``network``: only a single Dense(1 -> 1, linear). The
    registry (shared.registry) declares it, so that no cell is planned for another."""
    layers = network.layers
    return (
        network.input_shape == (1,)
        and len(layers) == 1
        and isinstance(layers[0], Dense)
        and layers[0].units == 1
        and layers[0].activation == "linear"
    )


def check_network(network: Network) -> None:
    """Raise NotSupported unless the network is a single Dense(1 -> 1, linear)."""
    if not builds(network):
        raise NotSupported("python backend runs only a single Dense(1 -> 1, linear) layer")


def forward(w: float, b: float, x: float) -> float:
    return w * x + b
