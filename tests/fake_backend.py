"""A backend that misbehaves on purpose, to test how the harness records faults.

Its mode picks the fault: ``ok`` trains like NumPy; ``crash`` dies in build_model (a
supervised cell, every candidate of a search) and in build_agent (a DQN cell);
``hang`` never finishes an epoch; ``nan`` returns a NaN loss from epoch 3; ``slow``
sleeps 0.3 s per epoch (``$FAKE_SLOW_EPOCH_S`` to change); ``flaky`` trains like NumPy
in the first process and dies in every later one (it leaves a marker file at
``$FAKE_FLAKY_MARKER``); with ``$FAKE_WORKER_TAG`` set, ``slow`` also starts a child
process that sleeps (with the tag in its command line), as a framework's compile worker
would; ``slow-first`` trains like NumPy, but each model's first
``train_epoch``, ``train_step`` and ``predict`` sleep ``FIRST_CALL_S``, as a framework
compiling them would (``SlowFirstCalls`` does the same to any object, a DQN agent say).
``register()``
adds it (and a backend whose package is not installed) to the registry of the calling
process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from backends.numpy import agent as numpy_agent
from backends.numpy import model as numpy_model
from shared import registry
from shared.protocol import AgentSpec, ModelSpec

FAULT_MODES = {
    "ok": "trains like NumPy",
    "crash": "dies in build_model and build_agent",
    "hang": "never finishes an epoch",
    "nan": "NaN loss from epoch 3",
    "slow": "0.3 s per epoch",
    "flaky": "ok in the first process, dies in later ones",
    "slow-first": "each model's first train_epoch, train_step and predict sleep",
}
FIRST_CALL_S = 0.3  # the slow-first mode's sleep (seconds); a test may change it
COMPILED = ("train_epoch", "train_step", "predict")  # what slow-first makes slow at first


def register() -> None:
    registry.BACKENDS["fake"] = registry.BackendInfo(
        "fake",
        __name__,
        "faults on purpose (tests only)",
        packages=("numpy",),
        modes=FAULT_MODES,
        distributions=(),
    )
    registry.BACKENDS["ghost"] = registry.BackendInfo(
        "ghost",
        __name__,
        "a framework that is not installed (tests only)",
        packages=("surely_not_an_installed_package",),
        modes={"ok": "never runs"},
        distributions=(),
    )


def configure(threads: int, seed: int) -> None:
    numpy_model.configure(threads, seed)


class FaultyModel(numpy_model.NumpyModel):
    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self.fault, self.epochs = spec.mode, 0

    def train_epoch(self, batches) -> float:
        self.epochs += 1
        if self.fault == "hang":
            time.sleep(3600)
        if self.fault == "slow":
            time.sleep(float(os.environ.get("FAKE_SLOW_EPOCH_S", "0.3")))
        if self.fault == "nan" and self.epochs >= 3:
            return float("nan")
        return super().train_epoch(batches)


class SlowFirstCalls:
    """``inner`` with the methods named in ``names`` sleeping ``seconds`` on their first
    call only (each on its own), as a framework that traces and compiles them on first
    use; every other attribute passes through."""

    def __init__(self, inner: Any, names: Iterable[str], seconds: float):
        self._inner, self._seconds = inner, seconds
        self._names, self._called = frozenset(names), set()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in self._names:
            return attribute

        def first_call_slow(*args: Any, **kwargs: Any) -> Any:
            if name not in self._called:
                self._called.add(name)
                time.sleep(self._seconds)
            return attribute(*args, **kwargs)

        return first_call_slow


def build_model(spec: ModelSpec):
    mode = spec.mode
    if mode == "slow" and os.environ.get("FAKE_WORKER_TAG"):
        worker = "import time; time.sleep(3600)"
        subprocess.Popen([sys.executable, "-c", worker, os.environ["FAKE_WORKER_TAG"]])
    if mode == "crash":
        raise RuntimeError("deliberate crash while building (fake backend)")
    if mode == "flaky":
        marker = Path(os.environ["FAKE_FLAKY_MARKER"])
        if marker.exists():
            raise RuntimeError("deliberate crash in a later process (fake backend)")
        marker.touch()
    model = FaultyModel(spec)
    return SlowFirstCalls(model, COMPILED, FIRST_CALL_S) if mode == "slow-first" else model


def build_agent(spec: AgentSpec):
    if spec.mode == "crash":
        raise RuntimeError("deliberate crash while building the agent (fake backend)")
    return numpy_agent.build_agent(replace(spec, mode="eager"))
