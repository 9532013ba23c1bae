"""The workloads, by name. Each is framework-free: specs, data, presets, metrics."""

from __future__ import annotations

from shared.registry import UnknownName
from shared.workloads.base import PRESETS, EpochData, TrainingConfig, Workload
from shared.workloads.copynet import CopyNet
from shared.workloads.dqn import DQN
from shared.workloads.nbody import NBody
from shared.workloads.search import Search
from shared.workloads.xor import Xor

WORKLOADS: dict[str, Workload] = {w.name: w for w in (CopyNet(), Xor(), NBody(), DQN(), Search())}

__all__ = ["PRESETS", "WORKLOADS", "EpochData", "TrainingConfig", "Workload", "get_workload"]


def get_workload(name: str) -> Workload:
    if name not in WORKLOADS:
        raise UnknownName("workload", name, list(WORKLOADS))
    return WORKLOADS[name]
