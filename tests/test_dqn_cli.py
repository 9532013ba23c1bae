"""DQN through the command line: a smoke run on the NumPy reference writes an ok record
with episode logs, a checkpoint and a report with score curves; ``evaluate`` plays the
checkpoint; a runner killed mid-cell resumes the cell from its checkpoint; bad input
exits with status 2 before any framework is imported."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.workloads.dqn.checkpoint import BadCheckpoint, load_checkpoint
from shared.metadata import REPO_ROOT
from tests.test_cli import run_cli
from tests.test_run_faults import processes, wait_for
from tests.test_runner import launch, run

CELL = "dqn__space-invaders__numpy__eager__float32__seed0"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dqn") / "run"
    result = cli(
        *("run", "--workload", "dqn", "--backend", "numpy", "--preset", "smoke"),
        *("--threads", "1", "--out", str(out)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_smoke_record(smoke_run: Path) -> None:
    record = json.loads((smoke_run / f"{CELL}.json").read_text())
    assert record["status"] == "ok", record["reason"]
    timing, metrics = record["timing"], record["metrics"]
    assert timing["td_steps"] == 50 and len(record["epochs"]) == 50
    assert timing["agent_steps_per_s"] > 0 and timing["gflops"] > 0
    assert metrics["agent_steps"] == 300 and metrics["emulator_frames"] >= 1200
    assert metrics["replay_bytes_per_transition"] == 84 * 84 + 7
    assert metrics["episodes"] == len(record["episodes"]) >= 2
    row = record["episodes"][0]
    for key in ("episode", "agent_steps", "frames", "score", "running_mean", "running_max"):
        assert key in row
    for key in ("epsilon", "mean_loss", "wall_s", "agent_steps_per_s", "rss_mb", "replay_mb"):
        assert key in row
    assert record["peak_rss_mb"] > 0 and record["checkpoint"] == f"{CELL}.ckpt.npz"


def test_smoke_report(smoke_run: Path) -> None:
    report = (smoke_run / "report.md").read_text()
    assert "DQN: throughput, memory and scores" in report
    assert (smoke_run / "plots" / "dqn__space-invaders__scores.png").is_file()
    assert "metric_replay_bytes_per_transition" in (smoke_run / "summary.csv").read_text()


def test_evaluate_plays_the_checkpoint(smoke_run: Path, tmp_path: Path) -> None:
    summary_path = tmp_path / "eval.json"
    result = cli(
        "evaluate",
        str(smoke_run / f"{CELL}.ckpt.npz"),
        "--episodes",
        "2",
        "--out",
        str(summary_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(summary_path.read_text())
    assert len(summary["episodes"]) == 2 and summary["epsilon"] == 0.05
    assert summary["score_min"] <= summary["score_mean"] <= summary["score_max"]
    assert summary["trained"]["backend"] == "numpy"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("evaluate", "no/such.ckpt.npz"), "no such checkpoint"),
        (("evaluate", "pyproject.toml", "--backend", "nope"), "unknown backend"),
        (("evaluate", "pyproject.toml", "--backend", "python"), "does not run the dqn"),
        (("evaluate", "pyproject.toml", "--backend", "jax", "--mode", "scan"), "unknown mode"),
        (("evaluate", "pyproject.toml", "--episodes", "0"), "--episodes"),
        (("evaluate", "pyproject.toml"), "not a DQN checkpoint"),
        (("run", "--workload", "dqn", "--backend", "jax", "--mode", "scan"), "nothing to run"),
    ],
)
def test_bad_input_exits_2_before_any_framework(args: tuple[str, ...], message: str) -> None:
    code, imported, stderr = run_cli(*args)
    assert code == 2, stderr
    assert message in stderr
    assert imported == []


def steps_saved(checkpoint: Path) -> int:
    """Agent steps of the cell's checkpoint; 0 before its first (written atomically)."""
    try:
        return load_checkpoint(checkpoint)[2]["agent_steps"]
    except (FileNotFoundError, BadCheckpoint):
        return 0


def test_a_cell_killed_after_a_checkpoint_resumes_to_the_full_run(smoke_run, tmp_path) -> None:
    """kill -9 of the runner once the cell has checkpointed (every 100 of its 300 steps),
    then ``--resume``: the cell continues from the checkpoint to the uninterrupted total,
    its episode log and wall time continuing."""
    out = tmp_path / "run"
    args = (
        *("run", "--workload", "dqn", "--backend", "numpy", "--preset", "smoke"),
        *("--threads", "1", "--out", str(out)),
    )
    checkpoint = out / f"{CELL}.ckpt.npz"
    runner = launch(*args)
    wait_for(lambda: steps_saved(checkpoint) >= 100, 300, "the cell's first checkpoint")
    runner.send_signal(signal.SIGKILL)
    runner.communicate(timeout=60)
    wait_for(lambda: not processes("benchmarks.cell", str(out)), 30, "the cell to die")
    _, _, saved = load_checkpoint(checkpoint)
    assert 100 <= saved["agent_steps"] < 300 and saved["episodes"]
    assert not (out / f"{CELL}.json").exists()

    code, output = run(*args, "--resume")
    assert code == 0, output
    record = json.loads((out / f"{CELL}.json").read_text())
    whole = json.loads((smoke_run / f"{CELL}.json").read_text())
    assert record["status"] == "ok", record["reason"]
    assert record["metrics"]["agent_steps"] == whole["metrics"]["agent_steps"] == 300
    assert record["resumed_from_step"] == saved["agent_steps"]
    rows, kept = record["episodes"], len(saved["episodes"])
    assert rows[:kept] == saved["episodes"] and len(rows) > kept
    assert [row["episode"] for row in rows] == list(range(1, len(rows) + 1))
    assert rows[kept]["wall_s"] > saved["wall_s"] and rows[kept]["agent_steps"] <= 300
    assert rows[kept]["frames"] > saved["emulator_frames"]
    assert record["metrics"]["emulator_frames"] >= whole["metrics"]["emulator_frames"] // 2
