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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.document import Block
from benchmarks.report.context import ReportContext
from benchmarks.workloads.base import EpochData, Predict, TrainingConfig
from benchmarks.workloads.copynet.report import copynet_sections
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
# quick stops at 10,000 steps so that the slowest modes (Keras eager, ~16 ms a step)
# fit the default matrix; full is the source's 25,000.
REWARD_STEPS = {"smoke": 2_000, "quick": 10_000, "full": 25_000}
SMOKE_SUPERVISED_EPOCHS = 20


class CopyNet(SupervisedWorkload):
    name = "copynet"
    description = "1-in/1-out linear net learning y = x: supervised MSE and reward-shaped batch-1"
    variants = (*SUPERVISED, *REWARD)
    main_variants = ("supervised", "reward")
    framework_free_backend = "python"
    microbench_variants = ("supervised", "reward")  # full batch and batch 1

    def seeds(self, variant: str, preset: str) -> Sequence[int]:
        return (0,) if preset != "full" else (0, 1, 2, 3, 4)

    def config(self, variant: str, preset: str) -> TrainingConfig:
        if variant in SUPERVISED:
            epochs, lr = SUPERVISED[variant]
            if preset == "smoke":
                epochs = min(epochs, SMOKE_SUPERVISED_EPOCHS)
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
        steps = REWARD_STEPS[preset]
        per_epoch = min(REWARD_STEPS_PER_EPOCH, steps)
        return TrainingConfig(
            NETWORK,
            INIT,
            REWARD[variant],
            SGD(lr=0.01),
            epochs=steps // per_epoch,
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
