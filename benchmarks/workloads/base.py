"""What every workload is: named variants, seeds per preset, and a cell run.

A workload is a set of named variants. For a cell (variant, backend, mode, dtype, seed,
preset) it starts a ``CellRun``, whose steps ``benchmarks.cell.run_cell`` calls in order
(build, prepare, run, outcome, parity). How a cell runs is said by the workload's kind
(``benchmarks.workloads.kinds``: supervised, agent, many models per cell), never by the
harness branching on it. The types a supervised cell trains from (``TrainingConfig``,
``EpochData``) are here too, as the search's candidates train from them as well, and
what every workload's presets share (``Preset``).
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np

from benchmarks.document import Block
from benchmarks.records import Cell
from benchmarks.report.answer import Pace, SourceFigure, epoch_pace
from benchmarks.report.context import ReportContext
from shared.losses import Loss
from shared.optim import Constant, Optimizer, Schedule
from shared.params import InitScheme
from shared.specs import Network, SpecError
from shared.td import TDSpec

PRESETS = ("smoke", "brief", "quick", "full")
# Long runs that reproduce a source experiment's outcome, not only its cost: a workload
# may add any of these to its presets (DQN ``learn``, N-body and search ``long``). They
# are never part of the default run; under ``--mode auto`` they run each backend's
# default mode only, and ``--workload all`` keeps the workloads that define them.
LONG_RUN_PRESETS = ("learn", "long")
# The default of ``run`` and ``nox -s bench``: every workload's main variants on every
# backend in its default mode, sized so that the whole matrix fits in 20 minutes on two
# cores. The other presets sweep every mode of the main variants under ``--mode auto``.
BRIEF = "brief"
Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Preset:
    """What every workload's preset holds. A workload's presets are a dict from preset
    name (``PRESETS``) to an instance of its own frozen subclass, which adds its sizes
    (epochs, samples, seeds, ...) with a docstring line under each field."""

    timeout_s: float = field(kw_only=True)
    """Seconds a cell may run before the runner stops it (``--timeout`` overrides it)."""


P = TypeVar("P", bound=Preset)


def preset_named(presets: Mapping[str, P], name: str, workload: str = "") -> P:
    """``presets[name]``, or a SpecError that names the presets there are."""
    try:
        return presets[name]
    except KeyError:
        owner = f"{workload} has" if workload else "there is"
        known = ", ".join(presets) or "none"
        raise SpecError(f"{owner} no preset {name!r} (presets: {known})") from None


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


class AgentConfig(Protocol):
    """What a backend's agent is built from (``shared.protocol.QAgent``) and what the
    agent parity check replays: an agent workload's config has at least these."""

    network: Network
    init: InitScheme
    loss: Loss
    optimizer: Optimizer
    td: TDSpec
    agent_steps: int  # agent steps a cell plays


@dataclass
class Outcome:
    """A cell's result for its record: ``status`` (ok or diverged), ``reason``, the
    record's fields (timing, metrics, config, ...; the harness adds the environment and
    parity) and whether the parity check applies (it needs a trained start)."""

    status: str
    reason: str
    fields: dict[str, Any]
    check_parity: bool = True


class CellRun(ABC):
    """One cell of a workload, from its framework-free start to its record's fields.

    ``benchmarks.cell.run_cell`` makes it before importing the backend, then calls
    ``build``, ``prepare``, ``run``, ``outcome`` and (seed 0) ``parity``. Each step
    times what it must into ``timing`` (seconds) under the record's field names; a
    ``NotSupported`` from ``build``, ``prepare`` or ``run`` makes the cell skipped."""

    def __init__(self, cell: Cell):
        self.cell = cell

    @abstractmethod
    def build(self, backend: ModuleType, timing: dict[str, Any]) -> None:
        """The cell's start (weights, data) and the backend's model or agent."""

    def prepare(self, timing: dict[str, Any]) -> None:
        """Whatever the loop needs beside the model (batches in the framework's form);
        nothing by default."""
        return None

    @abstractmethod
    def run(self, progress: Path | None, timing: dict[str, Any]) -> None:
        """The workload's loop, reporting its progress to the file ``progress``."""

    @abstractmethod
    def outcome(self, timing: dict[str, Any]) -> Outcome:
        """The record's status and fields, from what ``run`` did."""

    @abstractmethod
    def parity(self, backend: ModuleType) -> dict[str, Any]:
        """The cell against the NumPy reference (benchmarks.parity_check), for the
        record; called only for a backend other than the reference, after ``outcome``."""


class Workload(ABC):
    """Base class of every workload: a kind (benchmarks.workloads.kinds) fills in how
    a cell runs; a workload fills in its variants, seeds and its kind's methods."""

    name: str = ""
    description: str = ""
    variants: tuple[str, ...] = ()
    # Variants that run in every execution mode by default (the others in each
    # backend's default mode only, to keep the default matrix within minutes).
    main_variants: tuple[str, ...] = ()
    # Driven step by step from Python (an agent acting in a game): the modes that fuse
    # a whole epoch into one program (shared.registry) have nothing to fuse.
    stepwise: ClassVar[bool] = False
    # Variants whose one training step benchmarks/microbench.py times (pytest-benchmark).
    microbench_variants: tuple[str, ...] = ()
    # Preset name -> the workload's sizes at that preset (a subclass of ``Preset``), one
    # for each of ``PRESETS``.
    presets: ClassVar[Mapping[str, Preset]] = {}

    def preset(self, name: str) -> Preset:
        """The preset called ``name``; a SpecError for a name the workload lacks."""
        return preset_named(self.presets, name, self.name)

    def default_variants(self, preset: str) -> tuple[str, ...]:
        """The variants a run at ``preset`` plans when ``--variant`` is not given: the
        main ones at ``brief`` (when the workload names any), else every variant."""
        if preset == BRIEF and self.main_variants:
            return self.main_variants
        return self.variants

    @abstractmethod
    def seeds(self, variant: str, preset: str) -> Sequence[int]:
        """The seeds a variant runs by default at ``preset``."""

    def check(self, variant: str, preset: str) -> None:
        """Raise SpecError when the variant cannot run at this preset on this machine (a
        dataset that would not fit in memory, ...). Cheap and framework-free: the
        command line calls it for every planned cell before anything runs."""
        return None

    @abstractmethod
    def networks(self) -> Iterable[Network]:
        """The networks its cells build (enough of them to tell whether a backend that
        builds only some networks can run the workload: shared.registry)."""

    @abstractmethod
    def start(self, cell: Cell, record_path: Path | None) -> CellRun:
        """The cell's run, framework-free (its config); ``record_path``: where the cell's
        record will be written (a workload may keep files beside it)."""

    def add_commands(
        self, commands: argparse._SubParsersAction
    ) -> dict[str, Callable[[argparse.Namespace], int]]:
        """Subcommands of ``python -m benchmarks`` the workload contributes: adds their
        parsers to ``commands`` and returns command name -> handler (exit status)."""
        return {}

    def timeout_s(self, preset: str) -> float:
        """Seconds a cell of ``preset`` may run: the preset's ``timeout_s``."""
        return self.preset(preset).timeout_s

    # The timing field of a cell's record holding the seconds of its whole loop (what
    # ``training_steps`` drives); the estimates hold the rest of the cell's process time
    # (start, import, build, its first epoch, parity check) fixed.
    loop_seconds_field: ClassVar[str] = "train_total_s"
    # The record field a cell resumed from a checkpoint sets (truthy): its process timed
    # only the rest of the cell, so the estimates leave it out. None: cells never resume.
    resumed_field: ClassVar[str | None] = None
    # What one timed epoch of the record is, for the run's progress lines ("steady 46 ms
    # a TD step"): an agent's epoch is one TD step, not a pass over data.
    epoch_name: ClassVar[str] = "epoch"

    def training_steps(self, variant: str, preset: str) -> int | None:
        """Steps a cell of ``variant`` takes at ``preset`` (optimizer steps, agent steps):
        what its time grows with, by which the run's estimates (``benchmarks.estimates``)
        carry a time measured at one preset to another; None (the default) where its
        time follows no step count (a search that stops at a time budget)."""
        return None

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

    def report_pace(self, record: dict[str, Any]) -> Pace:
        """What the report's opening ranks the record's cell by (``report.answer``): its
        steady epochs per process and its first epoch beyond a steady one, by default."""
        return epoch_pace(record, self.epoch_name)

    def report_source(self, context: ReportContext) -> list[SourceFigure]:
        """The source experiment's figures beside this run's, for the report's opening
        (each says where it comes from, and when this run's preset is too short to
        compare); none by default."""
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
