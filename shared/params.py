"""Canonical parameters: an ordered ``name -> numpy array`` mapping shared by every backend.

Initialisation happens here, once, in NumPy, from ``(network, scheme, seed)``, so that
every framework starts from bit-identical weights. Layout: see ``shared.specs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from shared.files import write_npz_atomic
from shared.specs import Network, SpecError

Params = dict[str, np.ndarray]
DTYPES = ("float32", "float64")

# Seed streams: init and data draw from independent generators of the same seed.
INIT_STREAM = 0
DATA_STREAM = 1
VALIDATION_STREAM = 2  # held-out data
SHUFFLE_STREAM = 3  # the order of training samples


@dataclass(frozen=True)
class InitScheme:
    """How kernels and biases are drawn.

    - ``torch_default``: PyTorch's Linear/Conv default (kaiming-uniform, a=sqrt(5)):
      kernel and bias ~ U(-1/sqrt(fan_in), +1/sqrt(fan_in)).
    - ``glorot_uniform``: kernel ~ U(-sqrt(6/(fan_in+fan_out)), +...), bias 0 (Keras).
    - ``normal``: kernel ~ N(0, std**2), bias 0 (the XOR source uses std 1).
    """

    kind: Literal["torch_default", "glorot_uniform", "normal"]
    std: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("torch_default", "glorot_uniform", "normal"):
            raise SpecError(f"unknown init scheme {self.kind!r}")
        if not self.std > 0:
            raise SpecError(f"init std must be positive, got {self.std}")


def rng_for(seed: int, stream: int) -> np.random.Generator:
    """Independent generator for one purpose (init, data, ...) of one seed."""
    return np.random.default_rng([stream, seed])


def _fans(kernel_shape: tuple[int, ...]) -> tuple[int, int]:
    receptive = math.prod(kernel_shape[:-2])  # 1 for dense, kh*kw for conv
    return receptive * kernel_shape[-2], receptive * kernel_shape[-1]


def init_params(network: Network, scheme: InitScheme, seed: int, dtype: str = "float64") -> Params:
    """Draw canonical parameters in layer order (kernel, then bias) in float64, then cast."""
    check_dtype(dtype)
    rng = rng_for(seed, INIT_STREAM)
    params: Params = {}
    for name, shape in network.param_shapes().items():
        if name.endswith(".kernel"):
            fan_in, fan_out = _fans(shape)
            kernel_fan_in = fan_in
            params[name] = _draw_kernel(rng, scheme, shape, fan_in, fan_out)
        elif scheme.kind == "torch_default":
            bound = 1.0 / math.sqrt(kernel_fan_in)
            params[name] = rng.uniform(-bound, bound, size=shape)
        else:
            params[name] = np.zeros(shape)
    return cast_params(params, dtype)


def _draw_kernel(
    rng: np.random.Generator, scheme: InitScheme, shape: tuple[int, ...], fan_in: int, fan_out: int
) -> np.ndarray:
    if scheme.kind == "torch_default":
        bound = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape)
    if scheme.kind == "glorot_uniform":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)
    return rng.normal(0.0, scheme.std, size=shape)


def check_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise SpecError(f"dtype must be one of {DTYPES}, got {dtype!r}")


def cast_params(params: Params, dtype: str) -> Params:
    """A copy of ``params`` (never a view) with every array as contiguous ``dtype``."""
    return {name: np.array(value, dtype=dtype, order="C") for name, value in params.items()}


def check_params(network: Network, params: Params) -> None:
    """Raise SpecError unless ``params`` has exactly the network's names, in order, and
    shapes, as real floating-point NumPy arrays (any float dtype: backends cast them)."""
    expected = network.param_shapes()
    if not isinstance(params, dict) or list(params) != list(expected):
        names = list(params) if isinstance(params, dict) else type(params).__name__
        raise SpecError(f"parameter names {names} do not match {list(expected)}")
    for name, shape in expected.items():
        value = params[name]
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
            got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise SpecError(f"{name} must be a float NumPy array, got {got}")
        if tuple(value.shape) != shape:
            raise SpecError(f"{name} has shape {value.shape}, expected {shape}")


def save_params(params: Params, path: str | Path) -> None:
    """Write canonical parameters to ``.npz`` (names and order preserved), atomically."""
    write_npz_atomic(path, params)


def load_params(path: str | Path) -> Params:
    with np.load(path) as data:
        return {name: data[name].copy() for name in data.files}
