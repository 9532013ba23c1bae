"""The network spec as a ``keras.Sequential`` of ``keras.layers.Dense``.

Every layer carries the model's dtype explicitly, so nothing depends on
``keras.config.floatx()``; weights are then set from the canonical parameters.
Layer ``i`` of the spec is the Keras layer named ``layer{i}``, its ``kernel`` is
``(in, out)`` and its ``bias`` ``(out,)``: the canonical layout, unchanged.
"""

from __future__ import annotations

import keras
import numpy as np

from shared.params import Params
from shared.protocol import NotSupported
from shared.specs import Dense, Network


def build_network(network: Network, dtype: str) -> keras.Sequential:
    """A built ``Sequential``: input ``(batch, *network.input_shape)`` in ``dtype``."""
    layers: list[keras.layers.Layer] = [keras.Input(shape=network.input_shape, dtype=dtype)]
    for index, spec in enumerate(network.layers):
        if not isinstance(spec, Dense):
            raise NotSupported(
                f"keras backend: {type(spec).__name__} (layer {index}) is not implemented yet; "
                "only Dense layers are supported for now"
            )
        layers.append(
            keras.layers.Dense(
                spec.units,
                activation=spec.activation,
                # Placeholders: the canonical parameters overwrite them right away.
                kernel_initializer="zeros",
                bias_initializer="zeros",
                dtype=dtype,
                name=f"layer{index}",
            )
        )
    return keras.Sequential(layers, name="spec_network")


def canonical_variables(model: keras.Sequential) -> dict[str, keras.Variable]:
    """``{'layer{i}.kernel': variable, 'layer{i}.bias': variable}`` in canonical order."""
    variables: dict[str, keras.Variable] = {}
    for layer in model.layers:
        variables[f"{layer.name}.kernel"] = layer.kernel
        variables[f"{layer.name}.bias"] = layer.bias
    return variables


def read_params(variables: dict[str, keras.Variable]) -> Params:
    """Fresh NumPy copies of ``variables`` (``np.array`` copies: on torch the converted
    array shares the parameter's memory; ``Variable.numpy`` warns under NumPy 2 on JAX)."""
    return {
        name: np.array(keras.ops.convert_to_numpy(var.value)) for name, var in variables.items()
    }


def write_params(variables: dict[str, keras.Variable], params: Params) -> None:
    """Assign canonical ``params`` (any float dtype) to ``variables``, cast to their dtype."""
    for name, var in variables.items():
        var.assign(np.asarray(params[name], dtype=var.dtype))
