"""What a Dask worker runs for a fanned-out run (``benchmarks.cluster``): one cell per
task, in a fresh process started exactly as the serial runner starts it.

The worker never writes into the run folder (it may be on another machine): the cell
writes its record and log into a scratch folder of the worker's, and the task returns
them, with any file the cell kept beside its record, for the driver to write. Dask
sets its own thread variables (``OMP_NUM_THREADS=1`` and others, the nanny's
``pre-spawn-environ``) in every worker; the cell's environment leaves them out and
sets the run's thread counts explicitly (``runner.thread_environment``).
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.hosts import host_facts
from benchmarks.runner import RunOptions, run_cell_isolated
from benchmarks.schema import Cell
from shared import registry
from shared.metadata import distribution_versions, git_commit, tracked_distributions

CELL_RESOURCE = "bench_cell"  # every worker has 1, every task takes 1: one cell at a time
# Beside the frameworks, what the driver and the workers must agree on to talk at all.
CLUSTER_DISTRIBUTIONS = ("dask", "distributed", "cloudpickle", "msgpack", "tornado")
LOG_LIMIT_CHARS = 1_000_000  # the end of a cell's log that travels back to the driver
DASK_ENVIRON_KEYS = ("distributed.nanny.pre-spawn-environ", "distributed.nanny.environ")
STARTED_TOPIC = "bench-cell-started"  # a task's event as its cell starts, for the progress


def fingerprint() -> dict[str, str]:
    """What must be equal on the driver and on a worker for their cells to be the same
    program: Python's version, every tracked distribution's, Dask's own and the suite's
    commit (``+dirty`` when its files differ from it). A missing one is ``missing``."""
    names = (*tracked_distributions(), *CLUSTER_DISTRIBUTIONS)
    versions = distribution_versions(names)
    return {
        "python": platform.python_version(),
        **{name: versions.get(name, "missing") for name in names},
        "framework-bench commit": git_commit(),
    }


def worker_facts(dask_worker: Any) -> dict[str, Any]:
    """Run on every worker by ``Client.run`` (which passes ``dask_worker``): its host
    name, fingerprint, resources and machine (``hosts.host_facts``)."""
    return {
        "host": socket.gethostname(),
        "machine": host_facts(),
        "fingerprint": fingerprint(),
        "resources": dict(dask_worker.state.total_resources),
    }


def cell_environ() -> dict[str, str]:
    """This worker's environment less every variable Dask's nanny sets in its workers:
    the cell gets the run's thread counts, never Dask's."""
    import dask

    dask_keys = {key for name in DASK_ENVIRON_KEYS for key in dask.config.get(name, {}) or {}}
    return {key: value for key, value in os.environ.items() if key not in dask_keys}


def run_cell_task(
    cell_fields: dict[str, Any],
    info: registry.BackendInfo,
    timeout_s: float | None,
) -> dict[str, Any]:
    """Run one cell on this worker; returns ``{"record", "log", "files", "host",
    "worker"}``: the record (any status), the end of the cell's log, the files the cell
    left beside its record (name -> bytes) and where it ran.

    ``info``: the driver's description of the cell's backend, so that a backend known
    only to the driver's registry (the tests' fake one) runs here too."""
    from distributed import get_worker

    worker = get_worker()
    cell = Cell(**cell_fields)
    registry.BACKENDS.setdefault(info.name, info)
    # The driver's progress shows which worker runs the cell (cluster_run._follow_starts).
    worker.log_event(
        STARTED_TOPIC,
        {"cell": cell.file_name, "worker": worker.address, "host": socket.gethostname()},
    )
    scratch = Path(tempfile.mkdtemp(prefix="bench-cell-", dir=worker.local_directory))
    try:
        options = RunOptions(scratch, timeout_s, environ=cell_environ())
        record = run_cell_isolated(cell, options)
        log_path = scratch / "logs" / cell.file_name.replace(".json", ".log")
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        files = {
            path.name: path.read_bytes()
            for path in scratch.iterdir()
            if path.is_file() and path.name != cell.file_name and not path.name.startswith(".")
        }
        return {
            "record": record,
            "log": log[-LOG_LIMIT_CHARS:],
            "files": files,
            "host": socket.gethostname(),
            "worker": worker.address,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
