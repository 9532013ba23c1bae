"""What a workload is: specs, data, presets and metrics, all framework-free.

A workload is a set of named variants. For a (variant, preset, seed) it gives a
``TrainingConfig`` (network, init, loss, optimizer, schedule, epochs), the data of
every epoch, and the metrics computed from the trained model's predictions. The
harness (``benchmarks/``) owns the loop, the clock and the records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.document import Block
from benchmarks.report.context import ReportContext
from shared.losses import Loss
from shared.optim import Constant, Optimizer, Schedule
from shared.params import InitScheme
from shared.specs import Network, SpecError

PRESETS = ("smoke", "quick", "full")
Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class TrainingConfig:
    """Everything a backend needs to build and train one cell's model.

    ``epochs`` x ``steps_per_epoch`` optimizer steps of ``batch_size`` samples each.
    ``target_loss``: time-to-target is the first epoch whose loss is below it.
    """

    network: Network
    init: InitScheme
    loss: Loss
    optimizer: Optimizer
    epochs: int
    steps_per_epoch: int
    batch_size: int
    schedule: Schedule = field(default_factory=Constant)
    target_loss: float | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "steps_per_epoch", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise SpecError(f"{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class EpochData:
    """Training batches. ``xs``: ``(steps, batch, *in)``, the same every epoch, or, with
    ``per_epoch``, ``(epochs, steps, batch, *in)``, fresh samples each epoch."""

    xs: np.ndarray
    ys: np.ndarray
    per_epoch: bool = False

    def __post_init__(self) -> None:
        """SpecError unless ``xs`` and ``ys`` agree on ``(epochs,) steps, batch``."""
        lead = 3 if self.per_epoch else 2
        if self.xs.ndim <= lead or self.ys.ndim <= lead:
            raise SpecError(
                f"EpochData needs (*{lead} leading axes, features) arrays, got "
                f"{self.xs.shape} and {self.ys.shape}"
            )
        if self.xs.shape[:lead] != self.ys.shape[:lead]:
            raise SpecError(
                f"EpochData xs {self.xs.shape} and ys {self.ys.shape} differ in "
                f"their first {lead} axes"
            )

    def epoch(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self.per_epoch:
            return self.xs[index], self.ys[index]
        return self.xs, self.ys


class Workload:
    """Base class; subclasses fill in the variants and the four methods below."""

    name: str = ""
    description: str = ""
    variants: tuple[str, ...] = ()
    # Variants that run in every execution mode by default (the others in each
    # backend's default mode only, to keep the default matrix within minutes).
    main_variants: tuple[str, ...] = ()
    # Which training driver runs the cell: "supervised" (config + data + metrics, the
    # epoch loop of benchmarks/drivers.py), "dqn" (benchmarks/workloads/dqn/loop.py) or "search"
    # (benchmarks/workloads/search/loop.py: many candidate models per cell).
    driver: str = "supervised"

    def default_variants(self, preset: str) -> tuple[str, ...]:
        return self.variants

    def seeds(self, variant: str, preset: str) -> Sequence[int]:
        raise NotImplementedError

    def check(self, variant: str, preset: str) -> None:
        """Raise SpecError when the variant cannot run at this preset on this machine (a
        dataset that would not fit in memory, ...). Cheap and framework-free: the
        command line calls it for every planned cell before anything runs."""

    def config(self, variant: str, preset: str) -> TrainingConfig:
        raise NotImplementedError

    def data(self, variant: str, preset: str, seed: int) -> EpochData:
        raise NotImplementedError

    def metrics(
        self, variant: str, preset: str, seed: int, predict: Predict, losses: Sequence[float]
    ) -> dict[str, Any]:
        raise NotImplementedError

    def timeout_s(self, preset: str) -> float:
        return {"smoke": 180.0, "quick": 600.0, "full": 7200.0}[preset]

    # What the report (benchmarks/report/) shows of this workload, besides its generic
    # sections (speed, parity, loss curves). The workload's own sections and charts live
    # in its package's report.py and charts.py.
    # The backend whose per-step time the speed table divides each row's by, if any.
    framework_free_backend: str | None = None
    # Timing fields of this workload's records that summary.csv carries besides its own.
    summary_timing: tuple[str, ...] = ()

    def report_speed(self, context: ReportContext) -> list[Block] | None:
        """This workload's speed section; None for the generic speed table (import,
        build, first and steady epoch, per step, ratios)."""
        return None

    def report_sections(self, context: ReportContext) -> list[Block]:
        """This workload's own sections, after the speed table."""
        return []

    def parity_note(self, context: ReportContext) -> str:
        """A sentence the parity section adds to its rule for this workload, or ""."""
        return ""

    def report_charts(self, context: ReportContext) -> list[Block]:
        """This workload's own charts, after the loss curves."""
        return []

    def write_exports(self, run_dir: Path, records: list[dict[str, Any]]) -> list[Path]:
        """Files besides summary.csv written from this workload's records (CSVs for
        pandas); returns their paths."""
        return []


def first_epoch_below(losses: Sequence[float], target: float | None) -> int | None:
    """1-based count of epochs until the loss first drops below ``target`` (None: never)."""
    if target is None:
        return None
    below = np.flatnonzero(np.asarray(losses, dtype=np.float64) < target)
    return int(below[0]) + 1 if below.size else None
