"""A failed cell's record and progress line give the exception that ended it, in every
kind of cell (supervised, DQN, search), not "exit status 1"; a cell that could not
say why is explained from its log or its exit; a dataset cache that cannot be written
costs the cache, not the cell."""

from __future__ import annotations

import json
import signal

import numpy as np

from benchmarks.failures import describe_exception, exit_reason, failure_reason
from benchmarks.records import Cell
from benchmarks.runner import RunOptions, run_cell_isolated
from shared import cache, registry
from tests import fake_backend

CRASH = "RuntimeError: deliberate crash while building"


def test_each_kind_of_cell_records_the_exception_that_ended_it(tmp_path, monkeypatch):
    """Through the runner (a process per cell), without a whole run's ceiling and report;
    the runner's progress line prints the record's reason."""
    monkeypatch.setattr(registry, "BACKENDS", dict(registry.BACKENDS))
    fake_backend.register()  # into the copy
    options = RunOptions(tmp_path, timeout_s=120)
    reasons = {}
    for workload, variant in (
        ("copynet", "supervised"),
        ("dqn", "space-invaders"),
        ("search", "digits-few"),
    ):
        cell = Cell(workload, variant, "fake", "crash", "float32", 0, "smoke")
        record = run_cell_isolated(cell, options)
        assert record["status"] == "failed"
        assert record["reason"].startswith(CRASH), (workload, record["reason"])
        assert "Traceback" in record["output_tail"]  # the whole story stays in the record
        assert json.loads((tmp_path / cell.file_name).read_text())["reason"] == record["reason"]
        reasons[workload] = record["reason"]
    assert "building the agent" in reasons["dqn"]


def test_a_cell_that_wrote_no_reason_is_explained_from_its_log_or_its_exit(tmp_path):
    log = tmp_path / "cell.log"
    missing = tmp_path / "no-record.json"
    log.write_text(
        'epoch 1\nTraceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
        "    f()\nOSError: [Errno 28] No space left on device\n"
    )
    assert failure_reason(missing, log, 1) == "OSError: [Errno 28] No space left on device"
    log.write_text("loading...\nSegmentation fault\n")
    assert failure_reason(missing, log, -signal.SIGSEGV) == (
        "killed by SIGSEGV; its last output: Segmentation fault"
    )
    assert exit_reason(-signal.SIGKILL).startswith("killed by SIGKILL (out of memory?")
    assert describe_exception(ValueError("first line\nsecond")) == "ValueError: first line ..."


def test_an_unwritable_cache_costs_the_cache_not_the_cell(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(blocker / "cache"))
    arrays = cache.cached_arrays("test", {"n": 3}, lambda: {"x": np.arange(3.0)})
    np.testing.assert_array_equal(arrays["x"], np.arange(3.0))
    assert "could not be written" in capsys.readouterr().err


def test_a_cache_file_that_is_a_fifo_is_neither_read_nor_replaced(tmp_path, monkeypatch, capsys):
    """Reading it waited forever (the cell until its timeout)."""
    import os
    import threading

    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path))
    os.mkfifo(cache.cache_path("test", {"n": 3}))
    found: list[dict] = []
    builder = threading.Thread(
        target=lambda: found.append(
            cache.cached_arrays("test", {"n": 3}, lambda: {"x": np.arange(3.0)})
        ),
        daemon=True,
    )
    builder.start()
    builder.join(timeout=30)
    assert not builder.is_alive(), "the cache waited on a FIFO"
    np.testing.assert_array_equal(found[0]["x"], np.arange(3.0))
    assert cache.cache_path("test", {"n": 3}).is_fifo()
    assert "not a regular file" in capsys.readouterr().err
