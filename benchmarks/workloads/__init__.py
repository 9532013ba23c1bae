"""The workload registry: one line per workload package, each exposing ``WORKLOAD``.

A workload is a package (``benchmarks/workloads/<name>/`` or any importable one) whose
``__init__`` exposes ``WORKLOAD``, an instance of a kind of ``benchmarks.workloads.kinds``.
Adding one = its package and one line in ``REGISTERED`` below; a package kept outside
this repository is registered instead with the environment variable ``BENCH_WORKLOADS``
(comma-separated package names), which the runner's cells inherit.

The packages are imported on first use (``get_workload``, ``workloads``), by name, as
the backends are (shared.registry): importing this package imports no workload, so the
harness modules a workload builds on may import ``benchmarks.workloads.base``.
"""

from __future__ import annotations

import importlib
import os

from benchmarks.workloads.base import (
    BRIEF,
    LONG_RUN_PRESETS,
    PRESETS,
    EpochData,
    TrainingConfig,
    Workload,
)
from shared.registry import UnknownName

REGISTERED = (
    "benchmarks.workloads.copynet",
    "benchmarks.workloads.xor",
    "benchmarks.workloads.nbody",
    "benchmarks.workloads.dqn",
    "benchmarks.workloads.search",
)
EXTRA_VARIABLE = "BENCH_WORKLOADS"

__all__ = [
    "BRIEF",
    "LONG_RUN_PRESETS",
    "PRESETS",
    "BadRegistration",
    "EpochData",
    "TrainingConfig",
    "Workload",
    "all_presets",
    "get_workload",
    "workloads",
]


class BadRegistration(ValueError):
    """A registered package that cannot be imported or exposes no ``WORKLOAD``: the
    command line says it in one line and exits with status 2."""


_loaded: dict[str, Workload] = {}


def packages() -> list[str]:
    """The registered packages, then those named in ``BENCH_WORKLOADS``."""
    extra = os.environ.get(EXTRA_VARIABLE, "")
    return [*REGISTERED, *(name.strip() for name in extra.split(",") if name.strip())]


def _load(package: str) -> Workload:
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise BadRegistration(
            f"{EXTRA_VARIABLE}: workload package {package!r} cannot be imported: {error}"
        ) from None
    workload = getattr(module, "WORKLOAD", None)
    if not isinstance(workload, Workload):
        raise BadRegistration(
            f"{EXTRA_VARIABLE}: package {package!r} exposes no WORKLOAD (a Workload instance)"
        )
    missing = [preset for preset in PRESETS if preset not in workload.presets]
    if missing:
        raise BadRegistration(
            f"{EXTRA_VARIABLE}: workload {workload.name!r} of package {package!r} has no "
            f"preset {', '.join(missing)} (Workload.presets: preset name -> Preset)"
        )
    unknown = [p for p in workload.presets if p not in PRESETS and p not in LONG_RUN_PRESETS]
    if unknown:
        raise BadRegistration(
            f"{EXTRA_VARIABLE}: workload {workload.name!r} of package {package!r} has preset "
            f"{', '.join(unknown)}, which is none of {', '.join(PRESETS + LONG_RUN_PRESETS)}"
        )
    return workload


def workloads() -> dict[str, Workload]:
    """Every registered workload by name, in registration order (imported once)."""
    if not _loaded:
        loaded: dict[str, Workload] = {}
        for package in packages():
            workload = _load(package)
            if workload.name in loaded:
                raise BadRegistration(
                    f"{EXTRA_VARIABLE}: package {package!r} registers workload "
                    f"{workload.name!r} a second time"
                )
            loaded[workload.name] = workload
        _loaded.update(loaded)
    return _loaded


def all_presets() -> tuple[str, ...]:
    """``PRESETS``, then each long-run preset some registered workload defines."""
    defined = {preset for workload in workloads().values() for preset in workload.presets}
    return PRESETS + tuple(preset for preset in LONG_RUN_PRESETS if preset in defined)


def get_workload(name: str) -> Workload:
    registered = workloads()
    if name not in registered:
        raise UnknownName("workload", name, list(registered))
    return registered[name]


def __getattr__(name: str) -> dict[str, Workload]:
    """``WORKLOADS``: ``workloads()``, for the modules that import the dict itself."""
    if name == "WORKLOADS":
        return workloads()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
