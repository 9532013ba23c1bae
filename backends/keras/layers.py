"""The network spec as a ``keras.Sequential`` of Keras's own layers.

Every layer carries the model's dtype explicitly, so nothing depends on
``keras.config.floatx()``; weights are then set from the canonical parameters.
Layer ``i`` of the spec is the Keras layer named ``layer{i}``; a Dense or Conv2D's
``kernel`` is ``(in, out)`` or ``(kh, kw, in, out)`` and its ``bias`` ``(out,)``: the
canonical layout, unchanged (Keras keeps that kernel layout in both data formats).

Images arrive channels-first ``(batch, C, H, W)``. TensorFlow's CPU convolution and
pooling run channels-last only, so a ``Permute`` moves the channels last before the
first image layer and back before ``Flatten``, which then flattens in the canonical
``(C, H, W)`` order. The same on every Keras backend: channels-first layers measured no
faster on JAX or torch (the Nature CNN's TD step, 1 thread). Helper layers carry other
names than ``layer{i}``.
"""

from __future__ import annotations

import keras
import numpy as np

from shared.params import Params
from shared.specs import Conv2D, Dense, Flatten, Layer, MaxPool2D, Network


def build_network(network: Network, dtype: str) -> keras.Sequential:
    """A built ``Sequential``: input ``(batch, *network.input_shape)`` in ``dtype``."""
    layers: list[keras.layers.Layer] = [keras.Input(shape=network.input_shape, dtype=dtype)]
    channels_last = False  # the layout of the tensor flowing between layers
    for index, spec in enumerate(network.layers):
        image_layer = isinstance(spec, Conv2D | MaxPool2D)
        if image_layer and not channels_last:
            # (C, H, W) -> (H, W, C); Permute's axes count from 1, batch excluded.
            layers.append(keras.layers.Permute((2, 3, 1), dtype=dtype, name=f"to_hwc{index}"))
            channels_last = True
        if isinstance(spec, Flatten) and channels_last:
            layers.append(keras.layers.Permute((3, 1, 2), dtype=dtype, name=f"to_chw{index}"))
            channels_last = False
        layers.append(_keras_layer(spec, dtype, f"layer{index}"))
    return keras.Sequential(layers, name="spec_network")


def _keras_layer(spec: Layer, dtype: str, name: str) -> keras.layers.Layer:
    # Weights are placeholders: the canonical parameters overwrite them right away.
    placeholders = {"kernel_initializer": "zeros", "bias_initializer": "zeros"}
    if isinstance(spec, Dense):
        return keras.layers.Dense(
            spec.units, activation=spec.activation, dtype=dtype, name=name, **placeholders
        )
    if isinstance(spec, Conv2D):
        # 'same' comes only with stride 1 and an odd kernel: Keras then pads kernel // 2
        # on every side, as the spec states.
        return keras.layers.Conv2D(
            spec.filters,
            spec.kernel,
            strides=spec.stride,
            padding=spec.padding,
            data_format="channels_last",
            activation=spec.activation,
            dtype=dtype,
            name=name,
            **placeholders,
        )
    if isinstance(spec, MaxPool2D):
        return keras.layers.MaxPooling2D(
            spec.size,
            spec.step,
            padding="valid",
            data_format="channels_last",
            dtype=dtype,
            name=name,
        )
    if isinstance(spec, Flatten):
        # Channels-first again by now: a plain reshape of (C, H, W) (Keras's
        # channels_first Flatten would move the channels last first).
        return keras.layers.Flatten(data_format="channels_last", dtype=dtype, name=name)
    raise TypeError(f"unknown layer {spec!r}")


def canonical_variables(model: keras.Sequential, network: Network) -> dict[str, keras.Variable]:
    """``{'layer{i}.kernel': variable, 'layer{i}.bias': variable}`` in canonical order,
    ``i`` being the spec's layer index (helper layers hold no weights)."""
    variables: dict[str, keras.Variable] = {}
    for index, spec in enumerate(network.layers):
        if isinstance(spec, Dense | Conv2D):
            layer = model.get_layer(f"layer{index}")
            variables[f"layer{index}.kernel"] = layer.kernel
            variables[f"layer{index}.bias"] = layer.bias
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
