"""The kinds of workload: what a workload of each kind provides, and how its cell runs.

- ``SupervisedWorkload``: a config, the data of every epoch and the metrics of the
  trained model; its cell trains one model with ``benchmarks.drivers.train``.
- ``AgentWorkload``: an agent (``shared.protocol.QAgent``) driven step by step by the
  workload's own loop (``AgentRun``), checked TD step by TD step against the reference.
- ``MultiModelWorkload``: many models per cell (``MultiModelRun``), one of which the
  parity check trains beside the reference as a supervised cell's model.

``benchmarks.cell.run_cell`` calls every kind's ``CellRun`` the same way. The parity
checks import the NumPy reference; they are imported inside ``parity``, after the
backend's timed import, as the reference is itself a backend.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.drivers import build_agent, build_model, prepare_batches, train
from benchmarks.memory import peak_rss_mb
from benchmarks.progress import EpochReporter
from benchmarks.records import Cell
from benchmarks.timing import steady_summary, throughput, time_to_target
from benchmarks.workloads.base import (
    PRESETS,
    AgentConfig,
    CellRun,
    EpochData,
    Outcome,
    Predict,
    TrainingConfig,
    Workload,
)
from shared.params import cast_params, init_params
from shared.specs import Network
from shared.td import TDBatch


class SupervisedWorkload(Workload):
    """One model per cell, trained by the epoch loop of ``benchmarks.drivers``."""

    @abstractmethod
    def config(self, variant: str, preset: str) -> TrainingConfig:
        """Network, init, loss, optimizer, schedule and epochs of the variant."""

    @abstractmethod
    def data(self, variant: str, preset: str, seed: int) -> EpochData:
        """The batches of every epoch."""

    @abstractmethod
    def metrics(
        self, variant: str, preset: str, seed: int, predict: Predict, losses: Sequence[float]
    ) -> dict[str, Any]:
        """The record's metrics of the trained model (``predict``) and its epoch losses."""

    def networks(self) -> Iterable[Network]:
        return (self.config(variant, PRESETS[0]).network for variant in self.variants)

    def training_steps(self, variant: str, preset: str) -> int | None:
        config = self.config(variant, preset)
        return config.epochs * config.steps_per_epoch

    def start(self, cell: Cell, record_path: Path | None) -> CellRun:
        return SupervisedRun(self, cell)


def config_summary(config: TrainingConfig) -> dict[str, Any]:
    """The cell's training configuration, for the record (specs as their repr)."""
    return {
        "epochs": config.epochs,
        "steps_per_epoch": config.steps_per_epoch,
        "batch_size": config.batch_size,
        "n_params": config.network.n_params,
        "network": repr(config.network),
        "optimizer": repr(config.optimizer),
        "loss": repr(config.loss),
        "schedule": repr(config.schedule),
        "init": repr(config.init),
        "target_loss": config.target_loss,
    }


class SupervisedRun(CellRun):
    """A supervised cell: build the model, prepare every epoch's batches (both timed),
    train, then the timing summary, the metrics and the peak memory of training."""

    def __init__(self, workload: SupervisedWorkload, cell: Cell):
        super().__init__(cell)
        self.workload = workload
        self.config = workload.config(cell.variant, cell.preset)

    def build(self, backend: ModuleType, timing: dict[str, Any]) -> None:
        cell, config = self.cell, self.config
        self.params = init_params(config.network, config.init, cell.seed, cell.dtype)
        self.data = self.workload.data(cell.variant, cell.preset, cell.seed)
        start = time.perf_counter()
        self.model = build_model(backend, config, self.params, cell.dtype, cell.mode)
        timing["build_s"] = time.perf_counter() - start

    def prepare(self, timing: dict[str, Any]) -> None:
        start = time.perf_counter()
        self.batches = prepare_batches(self.model, self.config, self.data)
        timing["prepare_s"] = time.perf_counter() - start

    def run(self, progress: Path | None, timing: dict[str, Any]) -> None:
        reporter = EpochReporter(progress, self.config.epochs)
        self.history = train(self.model, self.config, self.batches, on_epoch=reporter)

    def outcome(self, timing: dict[str, Any]) -> Outcome:
        config, history, cell = self.config, self.history, self.cell
        timing.update(steady_summary(history.seconds, config.steps_per_epoch))
        timing.update(time_to_target(history.losses, history.seconds, config.target_loss))
        flops = config.network.train_step_flops(config.batch_size)
        steady = timing.get("steady_median_s")
        timing.update(throughput(flops, config.steps_per_epoch, steady, config.batch_size))
        fields: dict[str, Any] = {
            "timing": timing,
            "epochs": history.rows(),
            "config": config_summary(config),
        }
        if history.diverged_at is not None:
            fields.update(peak_rss_mb=peak_rss_mb(), diverged_at_epoch=history.diverged_at)
            reason = f"loss not finite at epoch {history.diverged_at}"
            return Outcome("diverged", reason, fields, check_parity=False)
        fields["metrics"] = self.workload.metrics(
            cell.variant, cell.preset, cell.seed, self.model.predict, history.losses
        )
        fields["peak_rss_mb"] = peak_rss_mb()  # of training: parity's models come after
        return Outcome("ok", "", fields)

    def parity(self, backend: ModuleType) -> dict[str, Any]:
        from benchmarks.parity_check import supervised_parity

        cell, params = self.cell, self.params
        return supervised_parity(
            backend,
            self.config,
            self.data,
            lambda dtype: params if dtype == cell.dtype else cast_params(params, dtype),
            cell.dtype,
            cell.mode,
        )


class AgentWorkload(Workload):
    """An agent acting in an environment, driven step by step by the workload's loop;
    ``start`` returns the workload's ``AgentRun``."""

    stepwise = True

    @abstractmethod
    def agent_config(self, variant: str, preset: str) -> AgentConfig:
        """What the backend builds the agent from (and the workload's loop settings)."""

    def networks(self) -> Iterable[Network]:
        return (self.agent_config(variant, PRESETS[0]).network for variant in self.variants)

    def training_steps(self, variant: str, preset: str) -> int | None:
        return self.agent_config(variant, preset).agent_steps


class AgentRun(CellRun):
    """An agent cell: the backend's agent is built here (timed); the workload plays it
    in ``run`` and keeps a few TD batches of its replay for ``parity_batches``."""

    def __init__(self, cell: Cell, config: AgentConfig):
        super().__init__(cell)
        self.config = config

    def build(self, backend: ModuleType, timing: dict[str, Any]) -> None:
        cell, config = self.cell, self.config
        self.params = init_params(config.network, config.init, cell.seed, cell.dtype)
        start = time.perf_counter()
        self.agent = build_agent(backend, config, self.params, cell.dtype, cell.mode)
        timing["build_s"] = time.perf_counter() - start

    @abstractmethod
    def parity_batches(self) -> list[TDBatch]:
        """TD batches sampled during ``run`` for the parity check (may be empty)."""

    def parity(self, backend: ModuleType) -> dict[str, Any]:
        from benchmarks.parity_check import agent_parity

        batches = self.parity_batches()
        if not batches:
            return {"error": "the replay memory held too few transitions to sample from"}
        cell, params = self.cell, self.params
        return agent_parity(
            backend,
            self.config,
            batches,
            lambda dtype: cast_params(params, dtype),
            cell.dtype,
            cell.mode,
        )


class MultiModelWorkload(Workload):
    """Many models trained per cell (candidates proposed by the workload's loop);
    ``start`` returns the workload's ``MultiModelRun``."""


class MultiModelRun(CellRun):
    """A cell of many models: the workload's loop builds and trains them in ``run``; the
    parity check trains ``parity_candidate`` beside the reference."""

    @abstractmethod
    def parity_candidate(self) -> tuple[str, TrainingConfig, EpochData]:
        """``(its name for the record, its training, its data)``: the model of the cell
        that the parity check trains, from its start at the cell's seed."""

    def parity(self, backend: ModuleType) -> dict[str, Any]:
        from benchmarks.parity_check import supervised_parity

        name, training, data = self.parity_candidate()
        cell = self.cell

        def params_in(dtype: str) -> dict:
            return cast_params(init_params(training.network, training.init, cell.seed), dtype)

        summary = supervised_parity(backend, training, data, params_in, cell.dtype, cell.mode)
        return {"candidate": name, **summary}
