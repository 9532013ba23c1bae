"""A run's progress (benchmarks.progress.RunProgress) in this process, on a fake clock:
plain lines off a terminal and under CI=true, a live display on a terminal, the ETA
from the plan's estimates, the worker of a cluster's running cell. The runner's own
lines through a pipe are checked end to end in test_runner and test_cluster."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from benchmarks.progress import RunProgress, animated
from benchmarks.schema import Cell

CELLS = [Cell("xor", "momentum", "numpy", "eager", "float32", seed, "smoke") for seed in range(3)]
ESTIMATES = {cell.file_name: 10.0 for cell in CELLS}  # seconds per process


class Terminal(io.StringIO):
    """What a terminal gets written (``isatty`` says yes)."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_eta_is_the_estimates_left_at_the_pace_so_far():
    clock, out = Clock(), io.StringIO()
    progress = RunProgress(CELLS, estimates=ESTIMATES, stream=out, clock=clock)
    assert progress.eta_s() == 30.0  # nothing run: the estimates' sum
    progress.started(CELLS[0])
    clock.now = 4.0
    assert progress.eta_s() == 26.0  # the running cell's 4 s are spent
    clock.now = 20.0
    progress.finished(CELLS[0], "ok in 20.0 s", "ok", 20.0)  # twice its estimate
    assert progress.eta_s() == 40.0  # 20 s of estimates left, at pace 2
    progress.set_workers(2)  # two run at once on a cluster
    assert progress.eta_s() == 20.0
    progress.started(CELLS[1])
    progress.started(CELLS[2])
    clock.now = 40.0  # both past their estimates
    assert progress.eta_s() == 0.0 and progress._summary().endswith(", past the estimates")
    assert RunProgress(CELLS, stream=out).eta_s() is None  # no estimates: no ETA


def test_off_a_terminal_each_finished_cell_is_one_plain_line_with_counts():
    clock, out = Clock(), io.StringIO()
    with RunProgress(CELLS, estimates=ESTIMATES, stream=out, clock=clock) as progress:
        progress.started(CELLS[0])
        progress.epoch(CELLS[0], 0, "3/10")  # shown live only
        clock.now = 10.0
        progress.finished(CELLS[0], "ok in 10.0 s", "ok", 10.0)
        progress.dropped(CELLS[2])  # a repeat that had nothing to run
        progress.finished(CELLS[1], "FAILED after 2.0 s: boom", "failed", 2.0)
    assert out.getvalue().splitlines() == [
        f"[1/3] {CELLS[0].label}: ok in 10.0 s | 0 failed | elapsed 10 s, ETA ~ 20 s",
        f"[2/2] {CELLS[1].label}: FAILED after 2.0 s: boom | 1 failed | elapsed 10 s",
    ]


@pytest.mark.parametrize("ci", ["true", None])
def test_a_terminal_gets_a_live_display_unless_ci_is_true(ci, monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("CI", raising=False)
    if ci:
        monkeypatch.setenv("CI", ci)
    terminal = Terminal()
    with RunProgress(CELLS[:1], estimates=ESTIMATES, stream=terminal) as progress:
        progress.finished(CELLS[0], "ok in 1.0 s", "ok", 1.0)
    assert animated(terminal) is (ci is None)
    assert ("\x1b" in terminal.getvalue()) is (ci is None)
    assert f"[1/1] {CELLS[0].label}: ok in 1.0 s" in terminal.getvalue()


def test_the_live_display_names_the_worker_that_runs_a_cluster_cell():
    """The start event a cluster task logs (cluster_task.STARTED_TOPIC) reaches the
    display through the client's subscription."""
    from rich.console import Console

    from benchmarks.cluster_run import _follow_starts
    from benchmarks.cluster_task import STARTED_TOPIC

    handlers = {}
    client = SimpleNamespace(
        subscribe_topic=lambda topic, handler: handlers.update({topic: handler})
    )
    progress = RunProgress(CELLS, estimates=ESTIMATES, stream=io.StringIO())
    _follow_starts(SimpleNamespace(client=client), CELLS, progress)
    worker = {"cell": CELLS[1].file_name, "worker": "tcp://127.0.0.1:4000", "host": "box"}
    handlers[STARTED_TOPIC]((0.0, worker))
    handlers[STARTED_TOPIC]((0.0, {"cell": "not-planned.json"}))  # ignored
    screen = Console(file=io.StringIO(), width=200)
    screen.print(progress._render())
    text = screen.file.getvalue()
    assert f"running {CELLS[1].label} on tcp://127.0.0.1:4000 (box)" in text
    assert "0/3 done, 0 failed | elapsed" in text and text.count("running ") == 1


@pytest.mark.parametrize(("workload", "unit"), [("xor", "ms/epoch"), ("dqn", "ms/TD step")])
def test_a_finished_line_names_what_one_timed_epoch_of_its_workload_is(workload, unit):
    from benchmarks.runner import _outcome_text

    record = {"workload": workload, "status": "ok", "process_wall_s": 3.0}
    record["timing"] = {"steady_median_s": 0.046}
    assert _outcome_text(record) == f"ok in 3.0 s, steady 46 {unit}"
