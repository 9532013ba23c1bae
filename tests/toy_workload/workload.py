"""Linear regression on synthetic data: ``y = x . w + b + noise``, a supervised workload.

One variant, ``linear``: ``FEATURES`` inputs, a Dense(1, linear) layer, MSE, SGD on the
whole sample every step. Its metrics are the final loss and how far the learned weights
are from the true ones; it contributes one report section, the table of both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.document import Block, Heading, Table
from benchmarks.records import implementation
from benchmarks.workloads.base import EpochData, Predict, Preset, TrainingConfig
from benchmarks.workloads.kinds import SupervisedWorkload
from shared.losses import MSE
from shared.optim import SGD
from shared.params import DATA_STREAM, InitScheme, rng_for
from shared.specs import Dense, Network

FEATURES = 3
TRUE_WEIGHTS = np.array([[0.5], [-1.0], [2.0]])  # (FEATURES, 1)
TRUE_BIAS = 0.3
NETWORK = Network((FEATURES,), (Dense(1, "linear"),))
SECTION_TITLE = "Linear regression (toy workload)"


@dataclass(frozen=True)
class ToyPreset(Preset):
    """The sizes of one preset, and ``timeout_s`` (Preset's)."""

    samples: int
    """Training examples, all in one batch."""
    epochs: int
    """Epochs of one full-batch step each."""
    seeds: int
    """Seeds run by default."""


PRESETS = {
    "smoke": ToyPreset(samples=64, epochs=30, seeds=1, timeout_s=180.0),
    "brief": ToyPreset(samples=128, epochs=100, seeds=1, timeout_s=300.0),
    "quick": ToyPreset(samples=256, epochs=200, seeds=1, timeout_s=600.0),
    "full": ToyPreset(samples=1024, epochs=1000, seeds=3, timeout_s=7200.0),
}


class LinearRegression(SupervisedWorkload):
    name = "toy-linear"
    description = "toy linear regression on synthetic data (registered from tests/)"
    variants = ("linear",)
    main_variants = ()  # the default mode only, even under --mode auto: seconds
    presets = PRESETS

    def seeds(self, variant: str, preset: str) -> Sequence[int]:
        return tuple(range(PRESETS[preset].seeds))

    def config(self, variant: str, preset: str) -> TrainingConfig:
        sizes = PRESETS[preset]
        return TrainingConfig(
            NETWORK,
            InitScheme("torch_default"),
            MSE(),
            SGD(lr=0.1),
            epochs=sizes.epochs,
            steps_per_epoch=1,
            batch_size=sizes.samples,
            target_loss=0.01,
        )

    def data(self, variant: str, preset: str, seed: int) -> EpochData:
        rng = rng_for(seed, DATA_STREAM)
        x = rng.normal(size=(1, PRESETS[preset].samples, FEATURES))  # (steps, batch, in)
        y = x @ TRUE_WEIGHTS + TRUE_BIAS + 0.01 * rng.normal(size=(1, x.shape[1], 1))
        return EpochData(x, y)

    def metrics(
        self, variant: str, preset: str, seed: int, predict: Predict, losses: Sequence[float]
    ) -> dict[str, Any]:
        bias = float(np.asarray(predict(np.zeros((1, FEATURES))), np.float64).reshape(-1)[0])
        weights = np.asarray(predict(np.eye(FEATURES)), np.float64).reshape(-1) - bias
        error = np.abs(weights - TRUE_WEIGHTS.reshape(-1)).max()
        return {"final_loss": float(losses[-1]), "max_weight_error": float(error)}

    def report_sections(self, context: Any) -> list[Block]:
        """One table: each ok cell's final loss and largest weight error."""
        rows = tuple(
            (
                implementation(r["backend"], r["mode"]),
                f"{r['metrics']['final_loss']:.4g}",
                f"{r['metrics']['max_weight_error']:.3g}",
            )
            for r in context.records
            if r.get("status") == "ok"
        )
        header = ("implementation", "final loss", "max weight error")
        return [Heading(2, SECTION_TITLE), Table(header, rows)]
