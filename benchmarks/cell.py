"""Run one cell in this (fresh) process and write its record: ``python -m benchmarks.cell``.

Order matters for honest timing: thread settings come from the environment the
runner set; the backend (and its framework) is imported and timed first, then
configured, then the model is built, the data prepared, and every epoch timed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.drivers import prepare_batches, train
from benchmarks.failures import describe_exception
from benchmarks.lifetime import die_with_parent
from benchmarks.memory import peak_rss_mb
from benchmarks.progress import EpochReporter
from benchmarks.records import Cell, new_record, write_json_atomic
from benchmarks.timing import steady_summary, throughput, time_to_target
from benchmarks.workloads import EpochData, TrainingConfig, get_workload
from shared.metadata import environment, threads_in_effect
from shared.params import Params, cast_params, init_params
from shared.protocol import ModelSpec, NotSupported


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


def parity_summary(
    backend: ModuleType,
    backend_module: str,
    config: TrainingConfig,
    data: EpochData,
    params: Params,
    cell: Cell,
) -> dict[str, Any]:
    """The cell's deviation from the NumPy reference over its first steps (see
    benchmarks.parity_check); an error there is recorded, never fatal to the timings.

    A float32 check that fails is repeated in float64 (under ``"float64"``) and, in
    float32, at the reference's weights step by step (``"float32_gradients"``): only when
    both pass is the float32 difference rounding that training amplified (Adam scales
    tiny gradients up, ReLU units flip), not a difference in what is computed (see
    benchmarks.parity_check)."""
    # Imported here, after the timed import: the reference is the NumPy backend itself.
    from benchmarks.parity_check import (
        REFERENCE_MODULE,
        check_against_reference,
        check_gradients_at_reference,
    )

    if backend_module == REFERENCE_MODULE:
        return {"reference": True}
    try:
        summary = check_against_reference(backend, config, data, params, cell.dtype, cell.mode)
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"}
    if not summary["within_tolerance"] and cell.dtype == "float32":
        try:
            summary["float64"] = check_against_reference(
                backend, config, data, cast_params(params, "float64"), "float64", cell.mode
            )
        except Exception as error:
            summary["float64"] = {"error": f"{type(error).__name__}: {error}"}
        try:
            summary["float32_gradients"] = check_gradients_at_reference(
                backend, config, data, params, cell.dtype, cell.mode
            )
        except Exception as error:
            summary["float32_gradients"] = {"error": f"{type(error).__name__}: {error}"}
    return summary


def cell_environment(threads: int) -> dict[str, Any]:
    """The record's environment block, with the thread counts each framework loaded in
    this process reports it really uses (``threads`` is only what was asked for)."""
    return {**environment(threads), "threads_in_effect": threads_in_effect()}


def load_backend(backend_module: str, threads: int, seed: int) -> tuple[ModuleType, float]:
    """Import the cell's backend (and its framework), timed, then configure it; returns
    the module and the import's seconds. Every driver's cell starts with this."""
    start = time.perf_counter()
    backend = importlib.import_module(backend_module)
    import_s = time.perf_counter() - start
    backend.configure(threads, seed)
    return backend, import_s


def run_cell(
    cell: Cell, threads: int, backend_module: str, progress: Path | None = None
) -> dict[str, Any]:
    """Train the cell's model and return its record (status ok, diverged or skipped).

    ``backend_module`` is the registry's module path for the cell's backend; the runner
    resolved it and set the backend's environment before starting this process."""
    workload = get_workload(cell.workload)
    config = workload.config(cell.variant, cell.preset)
    backend, import_s = load_backend(backend_module, threads, cell.seed)
    timing: dict[str, float] = {"import_s": import_s}

    params = init_params(config.network, config.init, cell.seed, cell.dtype)
    data = workload.data(cell.variant, cell.preset, cell.seed)
    start = time.perf_counter()
    try:
        model = backend.build_model(
            ModelSpec(config.network, params, config.loss, config.optimizer, cell.dtype, cell.mode)
        )
    except NotSupported as error:
        return new_record(
            cell, "skipped", f"not applicable: {error}", environment=cell_environment(threads)
        )
    timing["build_s"] = time.perf_counter() - start

    start = time.perf_counter()
    batches = prepare_batches(model, config, data)
    timing["prepare_s"] = time.perf_counter() - start

    history = train(model, config, batches, on_epoch=EpochReporter(progress, config.epochs))
    timing.update(steady_summary(history.seconds, config.steps_per_epoch))
    timing.update(time_to_target(history.losses, history.seconds, config.target_loss))
    flops = config.network.train_step_flops(config.batch_size)
    timing.update(
        throughput(flops, config.steps_per_epoch, timing.get("steady_median_s"), config.batch_size)
    )
    fields: dict[str, Any] = {
        "timing": timing,
        "epochs": history.rows(),
        "config": config_summary(config),
        "environment": cell_environment(threads),
    }
    if history.diverged_at is not None:
        fields["peak_rss_mb"] = peak_rss_mb()
        return new_record(
            cell,
            "diverged",
            f"loss not finite at epoch {history.diverged_at}",
            diverged_at_epoch=history.diverged_at,
            **fields,
        )
    fields["metrics"] = workload.metrics(
        cell.variant, cell.preset, cell.seed, model.predict, history.losses
    )
    fields["peak_rss_mb"] = peak_rss_mb()
    if cell.seed == 0:  # once per configuration, after everything timed
        fields["parity"] = parity_summary(backend, backend_module, config, data, params, cell)
    return new_record(cell, "ok", **fields)


def run_any_cell(cell: Cell, args: argparse.Namespace) -> dict[str, Any]:
    """The record of ``cell``, run by its workload's driver."""
    driver = get_workload(cell.workload).driver
    if driver == "dqn":
        from benchmarks.workloads.dqn.cell import run_dqn_cell

        record = run_dqn_cell(cell, args.threads, args.backend_module, args.out, args.progress)
        record["peak_rss_mb"] = peak_rss_mb()
    elif driver == "search":
        from benchmarks.workloads.search.cell import run_search_cell

        record = run_search_cell(cell, args.threads, args.backend_module, args.progress)
        record["peak_rss_mb"] = peak_rss_mb()
    else:
        record = run_cell(cell, args.threads, args.backend_module, args.progress)
    return record


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 with the cell's record written; 1 when the cell crashed, with a
    failed record whose reason is the exception (the traceback goes to stderr, the
    cell's log), so the runner and the report show why it failed."""
    die_with_parent()  # first: a cell must never outlive its runner
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cell", required=True, help="the cell as JSON")
    parser.add_argument("--out", required=True, type=Path, help="record file to write")
    parser.add_argument("--threads", required=True, type=int)
    parser.add_argument("--backend-module", required=True, help="from the registry")
    parser.add_argument("--progress", type=Path, help="file to report epochs to")
    args = parser.parse_args(argv)
    cell = Cell(**json.loads(args.cell))
    try:
        write_json_atomic(args.out, run_any_cell(cell, args))
    except Exception as error:
        traceback.print_exc()
        failed = new_record(
            cell,
            "failed",
            describe_exception(error),
            environment=cell_environment(args.threads),
            peak_rss_mb=peak_rss_mb(),
        )
        with contextlib.suppress(OSError):  # the runner then reads the reason from the log
            write_json_atomic(args.out, failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
