"""The harness end to end: records, faults, interruption and --resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends.numpy.model import build_model
from benchmarks.drivers import train
from benchmarks.workloads import get_workload
from shared.metadata import REPO_ROOT
from shared.optim import SGD
from shared.params import init_params
from shared.protocol import ModelSpec

# Runs the CLI with the fake backends registered (they exist only in this process).
LAUNCH = (
    "import sys; import tests.fake_backend as fake; fake.register(); "
    "from benchmarks.cli import main; sys.exit(main(sys.argv[1:]))"
)


def launch(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = launch(*args, env=env)
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def records(out: Path) -> dict[tuple[str, str], dict]:
    found = {}
    for path in out.glob("*__seed*.json"):
        record = json.loads(path.read_text())
        found[(record["backend"], record["mode"])] = record
    return found


def test_real_cells_write_records_summary_and_report(tmp_path):
    code, output = run(
        "run",
        "--workload",
        "copynet,xor",
        "--variant",
        "supervised,momentum",
        "--backend",
        "numpy,python",
        "--preset",
        "smoke",
        "--threads",
        "1",
        "--out",
        str(tmp_path),
    )
    assert code == 0, output
    found = {
        (r["workload"], r["backend"]): r
        for r in map(lambda p: json.loads(p.read_text()), tmp_path.glob("*__seed*.json"))
    }
    assert found[("copynet", "numpy")]["status"] == "ok"
    assert found[("copynet", "python")]["status"] == "ok"
    assert found[("xor", "numpy")]["status"] == "ok"
    assert found[("xor", "python")]["status"] == "skipped"
    assert found[("xor", "python")]["reason"].startswith("not applicable")
    ok = found[("copynet", "numpy")]
    assert ok["timing"]["epochs_run"] == 20 and ok["timing"]["steady_count"] == 19
    assert ok["environment"]["versions"]["numpy"]
    # the host and its GEMM ceiling, measured once by the runner, at the cell's count
    assert ok["host"]["host_class"].startswith(ok["host"]["cpu"])
    assert {c["threads"] for c in ok["host"]["gemm_ceiling"]} >= {1}
    assert "host" not in found[("xor", "python")]  # not applicable: it ran nowhere
    assert len(ok["epochs"]) == 20 and ok["metrics"]["probes"]["1"] > 0
    assert all(row["rss_mb"] > 0 for row in ok["epochs"])  # RSS after each epoch
    assert ok["parity"] == {"reference": True}
    assert found[("copynet", "python")]["parity"]["within_tolerance"] is True
    assert found[("copynet", "python")]["parity"]["steps"] == 10
    with (tmp_path / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    assert "rss_growing" in rows[0]
    assert "copynet" in (tmp_path / "report.md").read_text()


def test_each_fault_is_recorded_and_the_run_goes_on(tmp_path):
    code, output = run(
        "run",
        "--workload",
        "copynet",
        "--variant",
        "supervised",
        "--backend",
        "fake,ghost",
        "--mode",
        "crash,hang,nan,ok",
        "--preset",
        "smoke",
        "--timeout",
        "20",
        "--threads",
        "1",
        "--out",
        str(tmp_path),
        timeout=200,
    )
    assert code == 1, output  # a failed or timed-out cell makes the run exit non-zero
    found = records(tmp_path)
    assert found[("fake", "ok")]["status"] == "ok"
    crash = found[("fake", "crash")]
    assert crash["status"] == "failed"
    assert "deliberate crash while building" in crash["output_tail"]
    assert found[("fake", "hang")]["status"] == "timeout"
    nan = found[("fake", "nan")]
    assert nan["status"] == "diverged" and nan["diverged_at_epoch"] == 3
    assert found[("ghost", "ok")]["status"] == "skipped"
    assert "not installed" in found[("ghost", "ok")]["reason"]
    # Through a pipe: one plain line per cell with the counts so far, no control codes.
    planned = sum(not r.get("reason", "").startswith("not applicable") for r in found.values())
    lines = [line for line in output.splitlines() if line.startswith("[")]
    assert len(lines) == planned and "\x1b" not in output, output
    assert all(" failed | elapsed " in line for line in lines), lines
    assert lines[-1].startswith(f"[{planned}/{planned}]") and "| 2 failed |" in lines[-1]


def test_interrupted_run_keeps_finished_cells_and_resume_finishes(tmp_path):
    args = (
        "run",
        "--workload",
        "copynet",
        "--variant",
        "supervised",
        "--backend",
        "fake",
        "--mode",
        "ok,slow",
        "--preset",
        "smoke",
        "--threads",
        "1",
        "--out",
        str(tmp_path),
    )
    process = launch(*args)
    finished = tmp_path / "copynet__supervised__fake__ok__float32__seed0.json"
    deadline = time.time() + 120
    while not finished.exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the slow cell is now running
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    kept = json.loads(finished.read_text())
    assert kept["status"] == "ok"
    assert not (tmp_path / "copynet__supervised__fake__slow__float32__seed0.json").exists()

    code, output = run(*args, "--resume")
    assert code == 0, output
    assert "kept from the earlier run" in output
    assert json.loads(finished.read_text())["process_wall_s"] == kept["process_wall_s"]
    assert records(tmp_path)[("fake", "slow")]["status"] == "ok"


def test_divergence_stops_training_at_the_first_nonfinite_epoch():
    workload = get_workload("copynet")
    config = workload.config("supervised", "quick")  # 500 epochs
    config = type(config)(**{**config.__dict__, "optimizer": SGD(lr=10.0)})
    model = build_model(
        ModelSpec(
            config.network,
            init_params(config.network, config.init, 0),
            config.loss,
            config.optimizer,
            "float64",
            "eager",
        )
    )
    data = workload.data("supervised", "quick", 0)
    history = train(model, config, [model.prepare(*data.epoch(0))])
    assert history.diverged_at is not None and history.diverged_at < config.epochs
    assert len(history.losses) == history.diverged_at


def test_repeats_add_processes_to_each_cell_and_a_failing_repeat_fails_it(tmp_path):
    out = tmp_path / "run"
    args = (
        *("run", "--workload", "copynet", "--variant", "supervised", "--backend", "fake"),
        *("--mode", "ok,flaky", "--preset", "smoke", "--repeats", "3", "--threads", "1"),
        *("--out", str(out)),
    )
    env = {"FAKE_FLAKY_MARKER": str(tmp_path / "flaky-ran")}
    code, output = run(*args, env=env)
    assert code == 1, output  # the flaky cell failed
    found = records(out)
    ok = found[("fake", "ok")]
    assert ok["status"] == "ok"
    assert [r["status"] for r in ok["repeats"]] == ["ok", "ok"]
    assert all(r["same_result"] for r in ok["repeats"])  # seeded: the same final loss
    assert ok["timing"]["steady_processes"] == 3
    steady = [len(r["steady_epoch_s"]) for r in ok["repeats"]]
    assert ok["timing"]["steady_count"] == len(ok["epochs"]) - 1 + sum(steady)
    flaky = found[("fake", "flaky")]
    assert flaky["status"] == "failed" and flaky["reason"].startswith("repeat 1:")
    assert len(flaky["repeats"]) == 1  # not run again once it failed
    assert not (out / "repeats").exists()  # scratch records are folded in and removed
    assert not (out / ".cell-progress").exists()
    # Resuming keeps the ok cell (no process: its repeats are done) and runs the failed
    # one again from its first process (which fails now: the flaky marker exists).
    code, output = run(*args, "--resume", env=env)
    assert output.count("kept from the earlier run") == 3 and " ok in " not in output, output
    assert "(run again: it was failed (repeat 1: " in output


def test_nbody_cells_record_metrics_and_rollout_plots(tmp_path):
    """The N-body workload through the harness: the curriculum's quantile per epoch in the
    record, rollout metrics, and the rollout plots in the report (datasets cached in tmp)."""
    out = tmp_path / "run"
    process = subprocess.run(
        [sys.executable, "-m", "benchmarks", "run", "--workload", "nbody", "--variant",
         "two-body-curriculum,breen", "--backend", "numpy", "--preset", "smoke",
         "--threads", "1", "--out", str(out)],
        cwd=REPO_ROOT,
        env={**os.environ, "BENCH_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout + process.stderr
    curriculum = json.loads(
        (out / "nbody__two-body-curriculum__numpy__eager__float32__seed0.json").read_text()
    )
    assert curriculum["status"] == "ok"
    assert [row["loss_quantile"] for row in curriculum["epochs"]] == pytest.approx([0.1, 0.7, 1])
    assert curriculum["metrics"]["rollout_steps"] == 32
    assert curriculum["timing"]["samples_per_s"] > 0
    report = (out / "report.md").read_text()
    for variant in ("two-body-curriculum", "breen"):
        assert f"plots/nbody__{variant}__rollout.png" in report
        assert (out / "plots" / f"nbody__{variant}__rollout_error.png").exists()
    assert "Accuracy on held-out trajectories" in report


def test_a_cell_killed_mid_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    """A timeout kills the cell with SIGKILL, mid-write perhaps: the temporary files of
    its record and checkpoint must not stay in the run folder."""
    import tests.fake_backend as fake
    from benchmarks.records import Cell
    from benchmarks.runner import RunOptions, run_cell_isolated
    from shared import registry

    monkeypatch.setattr(registry, "BACKENDS", dict(registry.BACKENDS))  # fake: this test only
    fake.register()
    cell = Cell("copynet", "supervised", "fake", "hang", "float32", 0, "smoke")
    stem = cell.file_name.removesuffix(".json")
    torn = [tmp_path / f".{stem}.json.abc123.tmp", tmp_path / f".{stem}.ckpt.npz.def456.tmp"]
    for path in torn:  # what the killed cell was writing
        path.write_bytes(b"half a fi")
    record = run_cell_isolated(cell, RunOptions(tmp_path, timeout_s=2.0))
    assert record["status"] == "timeout"
    assert not [path for path in torn if path.exists()]
