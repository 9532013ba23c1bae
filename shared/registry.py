"""The one place that knows which backends exist, what they need and what they can do.

Nothing here imports a framework: ``load`` imports a backend module by path, inside
the process that runs a cell. Adding a framework = one folder under ``backends/`` and
one ``BackendInfo`` line below.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Protocol

from backends.python.layers import builds as python_builds
from shared.params import DTYPES
from shared.specs import Network


class WorkloadTraits(Protocol):
    """What a backend's capabilities are matched against (benchmarks.workloads.base)."""

    stepwise: bool  # driven step by step from Python: an epoch-fusing mode does not apply

    def networks(self) -> Iterable[Network]: ...


@dataclass(frozen=True)
class BackendInfo:
    """What the harness needs to know about a backend before importing it.

    ``packages``: import names that must be installed. ``modes``: execution mode -> what
    it runs; the first is the default. ``builds``: whether it can build a network (None:
    every network). ``env``: environment set before the backend is imported (e.g. Keras's
    backend). ``fused_modes``: the modes that fuse a whole epoch into one program; a
    workload driven step by step has nothing to fuse, so they do not apply to it.
    ``distributions``: installed distributions whose versions each record keeps.
    """

    name: str
    module: str
    description: str
    packages: tuple[str, ...]
    modes: dict[str, str]
    distributions: tuple[str, ...]
    dtypes: tuple[str, ...] = DTYPES
    builds: Callable[[Network], bool] | None = None
    env: dict[str, str] = field(default_factory=dict)
    fused_modes: tuple[str, ...] = ()

    @property
    def default_mode(self) -> str:
        return next(iter(self.modes))

    def runs(self, workload: WorkloadTraits) -> bool:
        """Whether it builds every network of ``workload``."""
        return self.builds is None or all(map(self.builds, workload.networks()))

    def modes_for(self, workload: WorkloadTraits) -> tuple[str, ...]:
        """The modes that apply to ``workload``, the default first."""
        fused = self.fused_modes if workload.stepwise else ()
        return tuple(mode for mode in self.modes if mode not in fused)


BACKENDS: dict[str, BackendInfo] = {
    info.name: info
    for info in (
        BackendInfo(
            "numpy",
            "backends.numpy.model",
            "NumPy, hand-written forward and backward (the reference)",
            packages=("numpy",),
            modes={"eager": "forward and backward written out in NumPy, one call per op"},
            distributions=("numpy",),
        ),
        BackendInfo(
            "torch",
            "backends.torch.model",
            "PyTorch",
            packages=("torch",),
            modes={
                "eager": "torch.optim loop: zero_grad, forward, backward, step",
                "compile": "one torch.compile'd graph per step (forward, backward, update)",
            },
            distributions=("torch",),
        ),
        BackendInfo(
            "jax",
            "backends.jax.model",
            "JAX with Flax (linen) and Optax",
            packages=("jax", "flax", "optax"),
            modes={
                "jit": "one jax.jit'd step per call, parameters donated",
                "scan": "the whole epoch in one jitted lax.scan",
            },
            distributions=("jax", "jaxlib", "flax", "optax"),
            fused_modes=("scan",),
        ),
        BackendInfo(
            "keras",
            "backends.keras.model",
            "Keras 3 on TensorFlow",
            packages=("keras", "tensorflow"),
            modes={
                "function": "Keras's tf.function train step, the epoch's steps in one call "
                "(steps_per_execution)",
                "eager": "Keras with run_eagerly=True: every op dispatched from Python",
                "xla": "as function, compiled with XLA (jit_compile=True)",
            },
            distributions=("keras", "tensorflow", "tensorflow-cpu"),
            env={"KERAS_BACKEND": "tensorflow"},
        ),
        BackendInfo(
            "keras-jax",
            "backends.keras.model",
            "Keras 3 on JAX",
            packages=("keras", "jax"),
            modes={
                "jit": "Keras's train step compiled with jax.jit (jit_compile=True), one call "
                "per step",
                "eager": "Keras with run_eagerly=True: every JAX op dispatched from Python",
            },
            distributions=("keras", "jax", "jaxlib"),
            env={"KERAS_BACKEND": "jax"},
        ),
        BackendInfo(
            "keras-torch",
            "backends.keras.model",
            "Keras 3 on PyTorch",
            packages=("keras", "torch"),
            modes={
                "eager": "Keras's train step run eagerly (run_eagerly=True), one call per step",
                "compile": "Keras's train step wrapped in torch.compile (jit_compile=True)",
            },
            distributions=("keras", "torch"),
            env={"KERAS_BACKEND": "torch"},
        ),
        BackendInfo(
            "python",
            "backends.python.model",
            "plain Python floats, hand-derived gradients (a single Dense 1 -> 1 layer only)",
            packages=(),
            modes={"eager": "a Python loop over samples, float arithmetic only"},
            distributions=(),
            dtypes=("float64",),
            builds=python_builds,
        ),
    )
}


class UnknownName(ValueError):
    """A name (backend, mode, ...) that is not one of the valid ones."""

    def __init__(self, kind: str, name: str, valid: list[str] | tuple[str, ...]):
        self.kind, self.name, self.valid = kind, name, tuple(valid)
        super().__init__(f"unknown {kind} {name!r}; valid: {', '.join(self.valid)}")


def get(name: str) -> BackendInfo:
    if name not in BACKENDS:
        raise UnknownName("backend", name, list(BACKENDS))
    return BACKENDS[name]


def missing_packages(name: str) -> list[str]:
    """Import names of ``name``'s requirements that are not installed (nothing imported)."""
    return [pkg for pkg in get(name).packages if importlib.util.find_spec(pkg) is None]


def load(name: str) -> ModuleType:
    """Apply the backend's environment, then import its module (and so its framework)."""
    info = get(name)
    os.environ.update(info.env)
    return importlib.import_module(info.module)
