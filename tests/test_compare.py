"""`benchmarks compare` flags a slowdown or a changed result, and nothing else."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.compare import pooled_spread, time_change
from benchmarks.records import Cell
from benchmarks.stats import bootstrap_ratio
from shared.metadata import REPO_ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("base")
    result = cli(
        "run",
        "--workload",
        "copynet,xor",
        "--variant",
        "reward,momentum",
        "--backend",
        "numpy",
        "--preset",
        "smoke",
        "--threads",
        "1",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def edited_copy(base, target, edit):
    shutil.copytree(base, target)
    for path in target.glob("xor__*.json"):
        record = json.loads(path.read_text())
        edit(record)
        path.write_text(json.dumps(record))
    return target


def test_identical_runs_are_quiet(base_run, tmp_path):
    same = edited_copy(base_run, tmp_path / "same", lambda record: None)
    result = cli("compare", str(base_run), str(same), "--fail-on-change")
    assert result.returncode == 0, result.stdout
    assert "no cell moved" in result.stdout


def test_gzipped_records_compare_like_the_originals(base_run, tmp_path):
    packed = edited_copy(base_run, tmp_path / "packed", lambda record: None)
    for path in packed.glob("*__seed*.json"):
        path.with_suffix(".json.gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    result = cli("compare", str(base_run), str(packed), "--fail-on-change")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"compared {len(list(base_run.glob('*__seed*.json')))} cells" in result.stdout


def test_an_injected_slowdown_is_flagged(base_run, tmp_path):
    def slow_down(record):
        for row in record["epochs"]:
            row["seconds"] *= 1.5

    slow = edited_copy(base_run, tmp_path / "slow", slow_down)
    result = cli("compare", str(base_run), str(slow), "--fail-on-change")
    assert result.returncode == 1
    assert "xor/momentum numpy:eager" in result.stdout and "slower" in result.stdout
    assert "copynet" not in result.stdout.split("\n", 1)[1]  # untouched cells stay quiet
    assert result.stdout.endswith(f"page: {slow / 'compare.html'}\n")
    page = (slow / "compare.html").read_text()
    moved = [row for row in page.split("<tr>") if "xor/momentum numpy:eager" in row]
    assert moved and all("steady time slower" in row for row in moved)
    # BASE's then NEW's steady time, each with its interval: NEW's 1.5 times BASE's.
    sides = re.findall(r"<td>([\d.]+) (s|ms|µs) \[95% CI [\d.]+ \w+, [\d.]+ \w+\]</td>", moved[0])
    scale = {"s": 1, "ms": 1e-3, "µs": 1e-6}
    (before, unit_b), (after, unit_a) = sides
    assert float(after) * scale[unit_a] / (float(before) * scale[unit_b]) == pytest.approx(
        1.5, 0.02
    )
    assert "copynet: 1 cell(s) unchanged (numpy:eager)" in page
    assert "http" not in page.replace("http-equiv", "")  # nothing loaded from elsewhere
    assert cli("compare", str(base_run), str(slow)).returncode == 0  # reports, no failure


def test_a_changed_result_is_flagged(base_run, tmp_path):
    def worse(record):
        record["metrics"]["final_loss"] *= 1.01
        record["metrics"]["solved"] = not record["metrics"]["solved"]

    changed = edited_copy(base_run, tmp_path / "changed", worse)
    result = cli("compare", str(base_run), str(changed))
    assert "metric final_loss" in result.stdout and "metric solved" in result.stdout


def test_cells_on_one_side_only_are_changes(base_run, tmp_path):
    fewer = edited_copy(base_run, tmp_path / "fewer", lambda record: None)
    (fewer / "copynet__reward__numpy__eager__float32__seed0.json").unlink()
    result = cli("compare", str(base_run), str(fewer), "--fail-on-change")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "compared 1 cells" in result.stdout and "(1 only in BASE)" in result.stdout
    assert "copynet/reward numpy:eager float32 seed 0  missing from NEW" in result.stdout
    assert "no cell moved" not in result.stdout
    reverse = cli("compare", str(fewer), str(base_run), "--fail-on-change")
    assert reverse.returncode == 1 and "missing from BASE: ok in NEW" in reverse.stdout


def test_run_compare_with_no_cell_in_common_exits_2_like_compare(base_run, tmp_path):
    """Refused before the run starts, with compare's own message."""
    out = tmp_path / "elsewhere"
    result = cli(
        *("run", "--workload", "copynet", "--variant", "supervised", "--backend", "numpy"),
        *("--preset", "smoke", "--threads", "1", "--out", str(out), "--compare", str(base_run)),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == f"error: {base_run} and {out} have no cell in common\n"
    assert not out.exists()
    other = tmp_path / "other"
    other.mkdir()
    record = json.loads(next(base_run.glob("*__seed*.json")).read_text())
    foreign = record | {"seed": 9}  # a cell that BASE does not have
    (other / Cell.of(foreign).file_name).write_text(json.dumps(foreign))
    result = cli("compare", str(base_run), str(other))
    assert result.returncode == 2
    assert result.stderr == f"error: {base_run} and {other} have no cell in common\n"


def test_bad_run_folders_exit_2(tmp_path):
    assert cli("compare", str(tmp_path), str(tmp_path)).returncode == 2


# The noise model (benchmarks.stats): processes are the unit, epochs inside them.


def process(center_s: float, rng: np.random.Generator, epochs: int = 20) -> list[float]:
    """Steady epoch seconds of one process: 1% epoch noise around ``center_s``."""
    return list(center_s * (1 + 0.01 * rng.standard_normal(epochs)))


def record(processes: list[list[float]], seed: int = 0) -> dict:
    """A minimal ok record whose first process and repeats are ``processes``."""
    first, *later = processes
    return {
        **dict(workload="xor", variant="momentum", backend="numpy", mode="eager"),
        **dict(dtype="float32", seed=seed, preset="quick", status="ok"),
        "epochs": [{"seconds": 1.0}] + [{"seconds": s} for s in first],
        "repeats": [{"status": "ok", "steady_epoch_s": p} for p in later],
        "metrics": {"final_loss": 0.5},
    }


def test_processes_not_epochs_set_the_interval():
    rng = np.random.default_rng(0)
    # Three processes 30% apart: the epochs alone would give a tight, wrong interval.
    spread = [process(c, rng) for c in (1.0, 1.3, 0.77)]
    same = [process(c, rng) for c in (1.25, 0.8, 1.0)]
    _, low, high = bootstrap_ratio(same, spread)
    assert low < 1 < high and high / low > 1.5
    _, low, high = bootstrap_ratio([same[0]], [spread[0]])  # one process each
    assert high / low < 1.05 and low > 1.15  # epoch noise only: "significant"


def test_a_single_process_borrows_the_pooled_spread():
    rng = np.random.default_rng(1)
    base = [record([process(c, rng) for c in (1.0, 1.3, 0.77)], seed) for seed in range(3)]
    spread = pooled_spread(base)
    assert spread.size == 9 and 0.1 < np.std(spread) < 0.4
    lucky = record([process(1.25, rng)])  # a rerun within the process spread
    assert time_change(base[0], lucky, 0.10, spread) is None
    single = record([process(1.0, rng)])
    assert time_change(single, lucky, 0.10, spread) is None  # both sides borrow it
    assert time_change(single, lucky, 0.10, None) is not None  # epoch noise only: flagged
    slow = record([process(2.5, rng)])  # 2.5x: beyond any process's luck
    change = time_change(base[0], slow, 0.10, spread)
    assert change is not None and "slower" in change.what and "3 -> 1 process" in change.detail


def test_compare_says_when_no_run_measured_process_noise(base_run, tmp_path):
    same = edited_copy(base_run, tmp_path / "same", lambda record: None)
    output = cli("compare", str(base_run), str(same)).stdout
    assert "neither run repeated a cell" in output and "GEMM ceiling" in output


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_run_folder_that_is_missing_or_a_file_is_said_to_be(tmp_path, capsys, kind):
    """Not "holds no cell records": that names an empty run, not a mistyped path."""
    from benchmarks.cli import main

    path = tmp_path / "run"
    if kind == "file":
        path.write_text("x")
    assert main(["report", str(path)]) == 2
    expected = "is not a folder" if kind == "file" else "does not exist"
    assert capsys.readouterr().err == f"error: {path} {expected}\n"


def test_a_long_process_is_resampled_in_chunks_with_the_same_interval() -> None:
    """A DQN learn cell's 57,500 TD steps: resampled in row chunks (bounded memory), the
    interval still brackets the median and narrows like the plain bootstrap's."""
    from benchmarks import stats

    rng = np.random.default_rng(3)
    epochs = rng.lognormal(-3.0, 0.1, 4_000).tolist()
    plain = stats.center_interval([epochs])
    chunk, stats.RESAMPLE_CHUNK = stats.RESAMPLE_CHUNK, 20_000  # 5 rows a chunk
    try:
        chunked = stats.center_interval([epochs])
    finally:
        stats.RESAMPLE_CHUNK = chunk
    middle = float(np.median(epochs))
    assert chunked[0] < middle < chunked[1]
    assert np.allclose(chunked, plain, rtol=2e-3)
