"""The training loop, written once for every backend: schedule, epochs, clock; and
the one place a backend's model or agent is built from a workload's config.

Every supervised workload uses ``train`` (and the search for each candidate): they
differ in their data (full batch vs. batch 1), loss and optimizer, which the workload
specifies. The learning rate and, for the percentile curriculum, the loss's quantile
are computed once per epoch in ``shared`` and handed to the model before the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from benchmarks.memory import (
    collect_due_garbage,
    current_rss_mb,
    pause_collector,
    resume_collector,
)
from benchmarks.timing import CallClock
from benchmarks.workloads.base import AgentConfig, EpochData, TrainingConfig
from shared.losses import loss_quantiles
from shared.optim import Constant, learning_rates
from shared.params import Params
from shared.protocol import AgentSpec, Model, ModelSpec, QAgent


def build_model(
    backend: ModuleType, config: TrainingConfig, params: Params, dtype: str, mode: str
) -> Model:
    """``backend``'s model of ``config`` from ``params`` (NotSupported: it cannot)."""
    return backend.build_model(
        ModelSpec(config.network, params, config.loss, config.optimizer, dtype, mode)
    )


def build_agent(
    backend: ModuleType, config: AgentConfig, params: Params, dtype: str, mode: str
) -> QAgent:
    """``backend``'s agent of ``config`` from ``params`` (NotSupported: it cannot)."""
    return backend.build_agent(
        AgentSpec(config.network, params, config.loss, config.optimizer, dtype, mode, config.td)
    )


@dataclass
class TrainingHistory:
    """Per-epoch rows; ``diverged_at`` is the 1-based epoch whose loss was NaN or inf.
    ``loss_quantiles`` stays empty unless the loss is a curriculum; ``rss_mb``: the
    process's RSS (MiB) after each epoch."""

    losses: list[float] = field(default_factory=list)
    clock: CallClock = field(default_factory=CallClock)  # times each "train_epoch" call
    learning_rates: list[float] = field(default_factory=list)
    loss_quantiles: list[float] = field(default_factory=list)
    rss_mb: list[float | None] = field(default_factory=list)
    diverged_at: int | None = None

    @property
    def seconds(self) -> list[float]:
        """Every epoch's seconds, the first (tracing, compiling) included."""
        return self.clock.all_s("train_epoch")

    def rows(self) -> list[dict[str, float]]:
        """JSON-safe rows: a NaN or inf loss becomes None."""
        rows = [
            {
                "epoch": i + 1,
                "loss": loss if math.isfinite(loss) else None,
                "seconds": sec,
                "lr": lr,
            }
            for i, (loss, sec, lr) in enumerate(
                zip(self.losses, self.seconds, self.learning_rates, strict=True)
            )
        ]
        for row, q in zip(rows, self.loss_quantiles, strict=False):
            row["loss_quantile"] = q
        for row, rss in zip(rows, self.rss_mb, strict=False):
            row["rss_mb"] = rss
        return rows


def prepare_batches(model: Model, config: TrainingConfig, data: EpochData) -> list[Any]:
    """Every epoch's batches in the framework's form; one shared entry for static data."""
    if not data.per_epoch:
        return [model.prepare(*data.epoch(0))]
    return [model.prepare(*data.epoch(e)) for e in range(config.epochs)]


def train(
    model: Model,
    config: TrainingConfig,
    batches: list[Any],
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainingHistory:
    """Run ``config.epochs`` epochs, timing each with the GC off (the cyclic garbage is
    collected between epochs, untimed); stop at a NaN/inf loss."""
    rates = learning_rates(config.schedule, config.optimizer.lr, config.epochs)
    varying_rate = not isinstance(config.schedule, Constant)
    quantiles = loss_quantiles(config.loss, config.epochs)
    history = TrainingHistory()
    froze = pause_collector()
    try:
        for epoch in range(config.epochs):
            if varying_rate:
                model.set_learning_rate(float(rates[epoch]))
            if quantiles is not None:
                model.set_loss_quantile(float(quantiles[epoch]))
                history.loss_quantiles.append(float(quantiles[epoch]))
            epoch_batches = batches[epoch if len(batches) > 1 else 0]
            loss = history.clock.call("train_epoch", model.train_epoch, epoch_batches)
            history.losses.append(float(loss))
            history.learning_rates.append(float(rates[epoch]))
            collect_due_garbage()
            history.rss_mb.append(current_rss_mb())
            if not math.isfinite(loss):
                history.diverged_at = epoch + 1
                break
            if on_epoch is not None:
                on_epoch(epoch + 1, loss)
    finally:
        resume_collector(froze)
    return history
