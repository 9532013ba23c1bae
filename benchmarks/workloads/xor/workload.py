"""XOR with a 2-2-1 network (reference.md section 2).

Variants:
- ``momentum`` (the source's main run): Dense(2, sigmoid) -> Dense(1, linear), kernels
  ~ N(0, 1), zero biases, MSE, full batch, SGD lr 0.02 momentum 0.9, 2,001 epochs;
  the interesting results are the success rate over seeds and epochs-to-solve.
- ``online``: the framework-free NumPy source: sigmoid hidden, ReLU output, kernels
  ~ N(0, 0.1**2), zero biases, one sample per step in fixed order, SGD lr 0.1,
  3,000 epochs of 4 steps.
- ``single-layer``: negative control, one Dense(1, sigmoid) on the inputs, Adam
  (lr 1e-3, Keras's constants pinned), binary cross-entropy, 20 epochs: a single layer
  cannot separate XOR, so at most 3 of the 4 points can be right.

A run *solves* XOR when every output is within 0.5 of its target after training.
The target loss 0.01 (MSE) implies that: max |error| <= 2 * sqrt(MSE) = 0.2.

Presets (``PRESETS``): ``smoke`` (200 ``momentum`` and 100 ``online`` epochs, one seed
each), ``brief`` (the bench default: the source's epochs, 3 seeds of ``momentum``),
``quick`` (the source's epochs; 8 seeds of ``momentum``, 2 of ``online``),
``full`` (100, 20 and 5 seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.document import Block
from benchmarks.report.answer import SourceFigure
from benchmarks.report.context import ReportContext
from benchmarks.workloads.base import (
    EpochData,
    Predict,
    Preset,
    TrainingConfig,
    first_epoch_below,
    preset_named,
)
from benchmarks.workloads.kinds import SupervisedWorkload
from benchmarks.workloads.xor.report import source_figures, xor_sections
from shared.losses import MSE, BinaryCrossEntropy
from shared.optim import SGD, Adam
from shared.params import InitScheme
from shared.specs import Dense, Network

INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
TARGETS = np.array([[0.0], [1.0], [1.0], [0.0]])
TARGET_MSE = 0.01

MOMENTUM_NET = Network((2,), (Dense(2, "sigmoid"), Dense(1, "linear")))
ONLINE_NET = Network((2,), (Dense(2, "sigmoid"), Dense(1, "relu")))
SINGLE_LAYER_NET = Network((2,), (Dense(1, "sigmoid"),))


@dataclass(frozen=True)
class XorPreset(Preset):
    """The sizes of one preset, per variant, and ``timeout_s`` (Preset's)."""

    epochs: dict[str, int]
    """Variant -> epochs each of its runs trains."""
    seeds: dict[str, int]
    """Variant -> seeds it runs by default (0, 1, ...): the success rate is over them."""


PRESETS = {
    "smoke": XorPreset(
        epochs={"momentum": 200, "online": 100, "single-layer": 20},
        seeds={"momentum": 1, "online": 1, "single-layer": 1},
        timeout_s=180.0,
    ),
    # three seeds: every backend starts each seed from the same weights, so agreement
    # shows with few; the success rate needs quick's 8 or full's 100
    "brief": XorPreset(
        epochs={"momentum": 2001, "online": 3000, "single-layer": 20},
        seeds={"momentum": 3, "online": 1, "single-layer": 1},
        timeout_s=300.0,
    ),
    "quick": XorPreset(
        epochs={"momentum": 2001, "online": 3000, "single-layer": 20},
        seeds={"momentum": 8, "online": 2, "single-layer": 1},
        timeout_s=600.0,
    ),
    "full": XorPreset(
        epochs={"momentum": 2001, "online": 3000, "single-layer": 20},
        seeds={"momentum": 100, "online": 20, "single-layer": 5},
        timeout_s=7200.0,
    ),
}


class Xor(SupervisedWorkload):
    name = "xor"
    description = "2-2-1 sigmoid MLP on XOR: success rate and epochs-to-solve over seeds"
    variants = ("momentum", "online", "single-layer")
    main_variants = ("momentum",)
    framework_free_backend = "numpy"
    microbench_variants = ("momentum",)
    presets = PRESETS

    def seeds(self, variant: str, preset: str) -> Sequence[int]:
        return tuple(range(preset_named(PRESETS, preset, self.name).seeds[variant]))

    def config(self, variant: str, preset: str) -> TrainingConfig:
        epochs = preset_named(PRESETS, preset, self.name).epochs[variant]
        if variant == "momentum":
            return TrainingConfig(
                MOMENTUM_NET,
                InitScheme("normal", std=1.0),
                MSE(),
                SGD(lr=0.02, momentum=0.9),
                epochs=epochs,
                steps_per_epoch=1,
                batch_size=4,
                target_loss=TARGET_MSE,
            )
        if variant == "online":
            return TrainingConfig(
                ONLINE_NET,
                InitScheme("normal", std=0.1),
                MSE(),
                SGD(lr=0.1),
                epochs=epochs,
                steps_per_epoch=4,
                batch_size=1,
                target_loss=TARGET_MSE,
            )
        return TrainingConfig(
            SINGLE_LAYER_NET,
            InitScheme("glorot_uniform"),
            BinaryCrossEntropy(eps=1e-7),
            Adam(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7),
            epochs=epochs,
            steps_per_epoch=1,
            batch_size=4,
        )

    def data(self, variant: str, preset: str, seed: int) -> EpochData:
        if variant == "online":  # four batches of one sample, in the source's fixed order
            return EpochData(INPUTS.reshape(4, 1, 2), TARGETS.reshape(4, 1, 1))
        return EpochData(INPUTS.reshape(1, 4, 2), TARGETS.reshape(1, 4, 1))

    def metrics(
        self, variant: str, preset: str, seed: int, predict: Predict, losses: Sequence[float]
    ) -> dict[str, Any]:
        outputs = np.asarray(predict(INPUTS), dtype=np.float64).reshape(-1)
        errors = np.abs(outputs - TARGETS.reshape(-1))
        correct = int(np.sum(errors < 0.5))
        target = self.config(variant, preset).target_loss
        return {
            "final_loss": float(losses[-1]),
            "outputs": [float(o) for o in outputs],
            "correct": correct,
            "solved": correct == 4,
            "epochs_to_target": first_epoch_below(losses, target),
        }

    def report_sections(self, context: ReportContext) -> list[Block]:
        return xor_sections(context)

    def report_source(self, context: ReportContext) -> list[SourceFigure]:
        return source_figures(context)
