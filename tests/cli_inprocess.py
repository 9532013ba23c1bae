"""The command line in this process, with every kind of work replaced by a tripwire.

A check that must happen "before any work" is proved by making the work itself fail
the test: the GEMM ceiling, running cells, writing a record or a report, and playing
episodes all raise WorkStarted. A DQN checkpoint that ``evaluate`` accepts is written
by ``write_checkpoint`` (the smoke preset's network), to be damaged by the tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.cli import main
from benchmarks.records import Cell
from benchmarks.workloads import get_workload
from shared.params import init_params

DQN_CELL = Cell("dqn", "space-invaders", "numpy", "eager", "float32", 0, "smoke")


class WorkStarted(AssertionError):
    """Work began although the input should have been refused first."""


def forbid_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*args: Any, **kwargs: Any) -> Any:
        raise WorkStarted("work started before the input was refused")

    for target in (
        "benchmarks.cli.measure_ceilings",
        "benchmarks.cli.open_for_run",  # locks, writes run.json and not-applicable records
        "benchmarks.runner.run_cells",
        "benchmarks.report.build.write_report",
        "benchmarks.workloads.dqn.evaluate.evaluate_checkpoint",
    ):
        monkeypatch.setattr(target, tripwire)


def cli_main(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """``(exit status, stderr)`` of ``python -m benchmarks ARGS`` run in this process."""
    capsys.readouterr()
    code = main([str(arg) for arg in args])
    return code, capsys.readouterr().err


def assert_one_error_line(stderr: str, *phrases: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for phrase in phrases:
        assert phrase in lines[0], stderr


def checkpoint_arrays(meta: Any = None) -> dict[str, np.ndarray]:
    """The arrays of a valid checkpoint of ``DQN_CELL`` (online weights only, as the smoke
    preset saves them), with ``meta`` (default: the cell's) as the JSON array."""
    import json

    config = get_workload("dqn").dqn_config(DQN_CELL.variant, DQN_CELL.preset)
    params = init_params(config.network, config.init, 0, "float32")
    if meta is None:
        meta = {"cell": DQN_CELL.to_dict(), "agent_steps": config.agent_steps, "episodes": []}
    arrays = {f"online/{name}": value for name, value in params.items()}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return arrays


def write_checkpoint(path: Path, arrays: dict[str, np.ndarray] | None = None) -> Path:
    np.savez(path, **(checkpoint_arrays() if arrays is None else arrays))
    return path
