"""A backend that misbehaves on purpose, to test how the harness records faults.

Its mode picks the fault: ``ok`` trains like NumPy; ``crash`` dies in build_model;
``hang`` never finishes an epoch; ``nan`` returns a NaN loss from epoch 3; ``slow``
sleeps 0.3 s per epoch (``$FAKE_SLOW_EPOCH_S`` to change); ``flaky`` trains like NumPy
in the first process and dies in every later one (it leaves a marker file at
``$FAKE_FLAKY_MARKER``). ``register()``
adds it (and a backend whose package is not installed) to the registry of the calling
process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from backends.numpy import model as numpy_model
from shared import registry

FAULT_MODES = {
    "ok": "trains like NumPy",
    "crash": "dies in build_model",
    "hang": "never finishes an epoch",
    "nan": "NaN loss from epoch 3",
    "slow": "0.3 s per epoch",
    "flaky": "ok in the first process, dies in later ones",
}


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
    def __init__(self, *args, fault: str):
        super().__init__(*args)
        self.fault, self.epochs = fault, 0

    def train_epoch(self, batches) -> float:
        self.epochs += 1
        if self.fault == "hang":
            time.sleep(3600)
        if self.fault == "slow":
            time.sleep(float(os.environ.get("FAKE_SLOW_EPOCH_S", "0.3")))
        if self.fault == "nan" and self.epochs >= 3:
            return float("nan")
        return super().train_epoch(batches)


def build_model(network, params, loss, optimizer, dtype, mode):
    if mode == "crash":
        raise RuntimeError("deliberate crash while building (fake backend)")
    if mode == "flaky":
        marker = Path(os.environ["FAKE_FLAKY_MARKER"])
        if marker.exists():
            raise RuntimeError("deliberate crash in a later process (fake backend)")
        marker.touch()
    return FaultyModel(network, params, loss, optimizer, dtype, fault=mode)
