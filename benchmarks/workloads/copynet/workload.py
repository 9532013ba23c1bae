"""copy-net: a 1-in/1-out linear layer learning the identity (reference.md section 1).

Variants:
- ``supervised``: 100 random integers in [0, 10), full batch, MSE, SGD lr 0.01,
  500 epochs; the source's sweep as ``supervised-e10/-e50/-e250`` and
  ``supervised-lr0.001-e500/-e5000``.
- ``reward``: batch 1, a fresh float in [0, 10) per step, SGD lr 0.01, 25,000 steps (full),
  the source's final shaping (exp(-e/100) reward, 1.333*e penalty above 0.01); its
  earlier shapings as ``reward-linear`` (0.5*(1-e)), ``reward-exp`` (0.5*exp(-e)) and
  ``reward-exp10`` (exp(-e/10)). The earlier shapings carry no penalty term.

Reward steps are grouped in epochs of 1,000 steps for timing: 10 epochs in the quick
preset, 25 (the source's 25,000 steps) in full.

Presets (``PRESETS``): ``smoke`` (at most 20 supervised epochs, 2,000 reward steps, one
seed), ``brief`` (the bench default: 5,000 reward steps, one seed; the main variants),
``quick`` (every variant's own epochs, 10,000 reward steps, one seed), ``full``
(the source's 25,000 reward steps, five seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.document import Block
from benchmarks.report.answer import SourceFigure
from benchmarks.report.context import ReportContext
from benchmarks.workloads.base import EpochData, Predict, Preset, TrainingConfig, preset_named
from benchmarks.workloads.copynet.report import copynet_sections, source_figures
from benchmarks.workloads.kinds import SupervisedWorkload
from shared.losses import MSE, RewardShaped
from shared.optim import SGD
from shared.params import DATA_STREAM, InitScheme, rng_for
from shared.specs import Dense, Network

NETWORK = Network(input_shape=(1,), layers=(Dense(1, "linear"),))
INIT = InitScheme("torch_default")  # the source is PyTorch
N_SAMPLES = 100
REWARD_STEPS_PER_EPOCH = 1_000
PROBES = (1.0, 9.0, 123.0, 123123123123.0)

# variant -> (epochs at full scale, learning rate)
SUPERVISED = {
    "supervised": (500, 0.01),
    "supervised-e10": (10, 0.01),
    "supervised-e50": (50, 0.01),
    "supervised-e250": (250, 0.01),
    "supervised-lr0.001-e500": (500, 0.001),
    "supervised-lr0.001-e5000": (5000, 0.001),
}
REWARD = {
    "reward": RewardShaped(
        "exp", scale=1.0, temperature=100.0, penalty_coef=1.333, penalty_threshold=0.01
    ),
    "reward-linear": RewardShaped("linear", scale=0.5),
    "reward-exp": RewardShaped("exp", scale=0.5, temperature=1.0),
    "reward-exp10": RewardShaped("exp", scale=1.0, temperature=10.0),
}


@dataclass(frozen=True)
class CopyNetPreset(Preset):
    """The sizes of one preset, and ``timeout_s`` (Preset's)."""

    max_supervised_epochs: int | None
    """At most this many epochs for a supervised variant (None: the variant's own)."""
    reward_steps: int
    """Steps of a reward variant, in epochs of up to 1,000 steps."""
    seeds: int
    """Seeds each variant runs by default (0, 1, ...)."""


# quick stops at 10,000 reward steps so that the slowest modes (Keras eager, ~16 ms a
# step) fit the default matrix; full is the source's 25,000.
PRESETS = {
    "smoke": CopyNetPreset(20, 2_000, 1, timeout_s=180.0),
    "brief": CopyNetPreset(None, 5_000, 1, timeout_s=300.0),
    "quick": CopyNetPreset(None, 10_000, 1, timeout_s=600.0),
    "full": CopyNetPreset(None, 25_000, 5, timeout_s=7200.0),
}


class CopyNet(SupervisedWorkload):
    name = "copynet"
    description = "1-in/1-out linear net learning y = x: supervised MSE and reward-shaped batch-1"
    variants = (*SUPERVISED, *REWARD)
    main_variants = ("supervised", "reward")
    framework_free_backend = "python"
    microbench_variants = ("supervised", "reward")  # full batch and batch 1
    presets = PRESETS

    def seeds(self, variant: str, preset: str) -> Sequence[int]:
        return tuple(range(preset_named(PRESETS, preset, self.name).seeds))

    def config(self, variant: str, preset: str) -> TrainingConfig:
        sizes = preset_named(PRESETS, preset, self.name)
        if variant in SUPERVISED:
            epochs, lr = SUPERVISED[variant]
            if sizes.max_supervised_epochs is not None:
                epochs = min(epochs, sizes.max_supervised_epochs)
            return TrainingConfig(
                NETWORK,
                INIT,
                MSE(),
                SGD(lr=lr),
                epochs=epochs,
                steps_per_epoch=1,
                batch_size=N_SAMPLES,
                target_loss=1e-3,
            )
        per_epoch = min(REWARD_STEPS_PER_EPOCH, sizes.reward_steps)
        return TrainingConfig(
            NETWORK,
            INIT,
            REWARD[variant],
            SGD(lr=0.01),
            epochs=sizes.reward_steps // per_epoch,
            steps_per_epoch=per_epoch,
            batch_size=1,
        )

    def data(self, variant: str, preset: str, seed: int) -> EpochData:
        rng = rng_for(seed, DATA_STREAM)
        if variant in SUPERVISED:
            x = rng.integers(0, 10, size=(1, N_SAMPLES, 1)).astype(np.float64)
            return EpochData(x, x.copy())
        config = self.config(variant, preset)
        shape = (config.epochs, config.steps_per_epoch, 1, 1)
        x = rng.uniform(0.0, 10.0, size=shape)
        return EpochData(x, x.copy(), per_epoch=True)

    def metrics(
        self, variant: str, preset: str, seed: int, predict: Predict, losses: Sequence[float]
    ) -> dict[str, Any]:
        probes = np.asarray(PROBES).reshape(-1, 1)
        outputs = np.asarray(predict(probes), dtype=np.float64).reshape(-1)
        bias = float(np.asarray(predict(np.zeros((1, 1))), dtype=np.float64).reshape(-1)[0])
        return {
            "final_loss": float(losses[-1]),
            "w": float(outputs[0]) - bias,
            "b": bias,
            "probes": {f"{p:g}": float(o) for p, o in zip(PROBES, outputs, strict=True)},
            "probe_rel_errors": {
                f"{p:g}": float(abs(o - p) / p) for p, o in zip(PROBES, outputs, strict=True)
            },
        }

    def report_sections(self, context: ReportContext) -> list[Block]:
        return copynet_sections(context)

    def report_source(self, context: ReportContext) -> list[SourceFigure]:
        return source_figures(context)
