"""The workloads, by name. Each is framework-free: specs, data, presets, metrics."""

from __future__ import annotations

from benchmarks.workloads.base import PRESETS, EpochData, TrainingConfig, Workload
from benchmarks.workloads.copynet.workload import CopyNet
from benchmarks.workloads.dqn.workload import DQN
from benchmarks.workloads.nbody.workload import NBody
from benchmarks.workloads.search.workload import Search
from benchmarks.workloads.xor.workload import Xor
from shared.registry import UnknownName

WORKLOADS: dict[str, Workload] = {w.name: w for w in (CopyNet(), Xor(), NBody(), DQN(), Search())}

__all__ = ["PRESETS", "WORKLOADS", "EpochData", "TrainingConfig", "Workload", "get_workload"]


def get_workload(name: str) -> Workload:
    if name not in WORKLOADS:
        raise UnknownName("workload", name, list(WORKLOADS))
    return WORKLOADS[name]
